"""Settings: CLAW_* environment, .env, an optional claw.toml, and the data dir (CLAW_DATA_DIR)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from claw.cameras.settings import CameraSettings, Point, VisionSettings  # noqa: F401 - [[cameras]], [vision]
from claw.config_errors import Sources, describe
from claw.discovery.settings import DiscoverySettings
from claw.errors import ConfigError

MAX_INPUT_CHARS = 4000  # default cap on one message typed into the web chat, the console or `claw ask`

def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "homeclaw"


def config_file() -> Path:
    """The claw.toml in use: CLAW_CONFIG, else ./claw.toml, else <data dir>/claw.toml."""
    if env := os.environ.get("CLAW_CONFIG"):
        return Path(env)
    local = Path("claw.toml")
    if local.exists():
        return local
    data_dir = Path(os.environ.get("CLAW_DATA_DIR") or default_data_dir())
    return data_dir / "claw.toml"


class Section(BaseModel):
    """A [section] of the settings: a key it does not have is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class LLMSettings(Section):
    """Any OpenAI-compatible endpoint: OpenAI, Ollama, llama.cpp server, vLLM."""

    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    vision: bool = False  # the model accepts images (inbound WhatsApp photos are passed to it)
    max_steps: int = Field(6, ge=1, le=20)
    max_seconds: float = Field(60.0, gt=0, le=600)
    timeout: float = Field(30.0, gt=0, le=300)
    max_tool_calls_per_step: int = Field(16, ge=1, le=128)  # further calls in one model answer are not run

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.model)


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    token: SecretStr | None = None  # generated into the data dir when not set
    # Host header names the web app answers to (any port); others get 400 (DNS rebinding). web.host and the
    # host of twilio.public_url are always allowed too; "*" turns the check off.
    allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost", "[::1]"])
    # how often every device is read while a dashboard page that shows devices is open and visible
    live_poll_seconds: float = Field(0.1, ge=0.05, le=60.0)


class TwilioSettings(Section):
    """WhatsApp through Twilio. See deploy/TWILIO.md."""

    account_sid: str | None = None  # ACxxxxxxxx...
    auth_token: SecretStr | None = None  # secret: signs webhooks and authenticates the REST client
    from_number: str | None = None  # the WhatsApp sender, e.g. "whatsapp:+14155238886" (the sandbox)
    public_url: str | None = None  # the https URL Twilio calls, e.g. "https://claw.example.net" (no path)
    owners: list[str] = Field(default_factory=list)  # E.164 numbers allowed to talk to the claw
    pairing: bool = False  # unknown numbers get an expiring code the owner can approve
    pairing_seconds: float = Field(600.0, gt=0)
    rate_limit_per_minute: int = Field(20, ge=1)  # per sender
    max_body_chars: int = Field(4000, ge=1)  # longer inbound bodies are refused politely
    media_max_bytes: int = Field(5_000_000, ge=1)  # inbound media fetch cap (WhatsApp images are <= 5 MB)
    media_url_seconds: float = Field(3600.0, gt=0)  # how long a signed outbound media URL stays valid
    media_keep_days: float = Field(30.0, gt=0)  # stored media (photos in and out) is deleted after this
    window_policy: Literal["template", "hold"] = "hold"  # proactive messages outside the 24 h window
    template_content_sid: str | None = None  # approved template (HXxxxxxxxx...) with one variable {{1}}
    webhook_shared_keys: list[SecretStr] = Field(default_factory=list)  # HMAC-SHA256 webhook keys (optional)
    api_base: str | None = None  # tests only: a loopback stand-in for https://api.twilio.com

    @property
    def enabled(self) -> bool:
        return bool(self.account_sid and self.auth_token and self.from_number and self.public_url)


class SafetySettings(Section):
    """Limits the policy layer enforces: outside them an action needs the owner's confirmation."""

    confirm_seconds: float = Field(120.0, gt=0)
    hvac_min: float = 16.0
    hvac_max: float = 26.0
    max_actions_per_turn: int = Field(20, ge=1, le=1000)  # device commands sent or held for YES in one turn

    @model_validator(mode="after")
    def _hvac_range(self) -> SafetySettings:
        if self.hvac_min > self.hvac_max:
            raise ValueError(f"hvac_min ({self.hvac_min:g}) is above hvac_max ({self.hvac_max:g})")
        return self


def system_zone() -> str:
    """This machine's time zone name ("Europe/London"), or "UTC" when it cannot be told."""
    try:
        import tzlocal  # comes with APScheduler

        return str(tzlocal.get_localzone_name() or "UTC")
    except Exception:  # noqa: BLE001 - an unreadable /etc/localtime must not stop the claw
        return "UTC"


class RoutineSettings(Section):
    """Routines: the time zone their times are in by default, and where the sun rises and sets."""

    timezone: str | None = None  # e.g. "Europe/London"; default: this machine's zone
    latitude: float | None = Field(None, ge=-90, le=90)  # degrees north; with longitude, for sunrise/sunset
    longitude: float | None = Field(None, ge=-180, le=180)  # degrees east

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use a name like Europe/London)") from None
        return v

    @model_validator(mode="after")
    def _both(self) -> RoutineSettings:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("set both latitude and longitude, or neither")
        return self

    @property
    def zone_name(self) -> str:
        return self.timezone or system_zone()


class SettingsOnly(PydanticBaseSettingsSource):
    """A source reduced to the keys that name a setting: a .env file may hold other programs' variables
    (load_settings reports its unknown CLAW_* ones, with a suggestion)."""

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self.inner().items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """All of homeclaw's configuration; secrets have no defaults and print as '**********'."""

    model_config = SettingsConfigDict(
        env_prefix="CLAW_", env_nested_delimiter="__", env_file=".env", extra="forbid",
        hide_input_in_errors=True,  # a secret typed into the wrong key must not be echoed in the error
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    soul_path: Path | None = None
    devices_file: Path | None = None  # YAML list of devices to load at start (besides the stored ones)
    adapters_dir: Path | None = None  # hand-written adapter specs (*.yaml), loaded like learned ones (claw.learn)
    default_area: str | None = None  # room assumed when a sentence names none
    owner: str = "console"  # the console/web owner identity
    device_timeout: float = Field(5.0, gt=0, le=60)
    max_input_chars: int = Field(MAX_INPUT_CHARS, ge=1, le=100_000)  # longer web/console/ask input is refused
    max_reply_messages: int = Field(4, ge=1, le=50)  # a longer reply is cut, its last message ends "…(truncated)"
    log_level: str = "INFO"
    # one discovery pass at start, on loopback only: `claw demo` sets it (and is the only one honouring it)
    discover_at_start: bool = False
    llm: LLMSettings = Field(default_factory=LLMSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    cameras: list[CameraSettings] = Field(default_factory=list)
    vision: VisionSettings = Field(default_factory=VisionSettings)


    routines: RoutineSettings = Field(default_factory=RoutineSettings)
    discovery: DiscoverySettings = Field(default_factory=DiscoverySettings)  # [discovery] (claw.discovery.settings)

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return v

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return init_settings, env_settings, SettingsOnly(dotenv_settings), toml, file_secret_settings

    # derived paths --------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.data_dir / "claw.db"

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def soul_file(self) -> Path:
        return self.soul_path or self.data_dir / "soul.md"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def web_token(self) -> str:
        """The web UI token: configured, or generated once into <data dir>/web_token (mode 0600)."""
        if self.web.token is not None:
            return self.web.token.get_secret_value()
        path = self.ensure_data_dir() / "web_token"
        if path.exists():
            token = path.read_text().strip()
            if token:
                return token
        token = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token


def load_settings(**overrides: Any) -> Settings:
    """The settings, or a one-line ConfigError naming the bad key, where it was set (environment variable,
    .env, claw.toml) and, for a key that does not exist, the nearest one that does."""
    env_file = overrides.get("_env_file", Settings.model_config.get("env_file"))
    dotenv_file = Path(env_file).absolute() if isinstance(env_file, str | Path) else None
    sources = Sources(overrides, os.environ, read_dotenv(dotenv_file), dotenv_file, config_file())
    if unknown := sources.unknown(Settings):
        raise ConfigError(unknown)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe(exc, Settings, sources)) from exc
    except Exception as exc:  # a broken claw.toml
        raise ConfigError(f"invalid configuration ({config_file()}): {' '.join(str(exc).split())}") from exc


def read_dotenv(path: Path | None) -> dict[str, str | None]:
    if path is None or not path.is_file():
        return {}
    from dotenv import dotenv_values

    try:
        return dict(dotenv_values(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid configuration ({path}): cannot read it: {exc}") from exc


CONFIG_TEMPLATE = """\
# homeclaw configuration. Every key can also be set in the environment as CLAW_<KEY>
# (nested keys: CLAW_LLM__BASE_URL, CLAW_WEB__PORT, ...) or in a .env file.

# Where the database, the runtime soul.md and tokens live (env: CLAW_DATA_DIR).
# data_dir = "{data_dir}"

# Room assumed when a sentence names none ("turn on the light").
# default_area = "living room"

# Seconds a device may take before the claw gives up and says so.
device_timeout = 5.0

# A longer reply is cut to this many channel messages, the last ending "…(truncated)".
max_reply_messages = 4

# Longest message (characters) accepted from the web chat, the console and `claw ask`.
# max_input_chars = 4000

# A YAML list of devices to load at start (id, name, kind, room, capabilities, driver, address, adapter).
# devices_file = "/etc/homeclaw/devices.yaml"

# A folder of hand-written adapter specs (*.yaml, the format of devices/adapters/*.yaml); see `claw adapters`.
# adapters_dir = "/etc/homeclaw/adapters"

[llm]
# Any OpenAI-compatible endpoint. Leave unset to use the local intent tier alone.
# OpenAI:     base_url = "https://api.openai.com/v1", model = "gpt-4o-mini", api_key = "sk-..."
# Ollama:     base_url = "http://127.0.0.1:11434/v1", model = "qwen2.5:7b"
# llama.cpp:  base_url = "http://127.0.0.1:8080/v1",  model = "local"
# base_url = ""
# model = ""
# api_key = ""   # secret: no default, never logged
max_steps = 6
max_seconds = 60
max_tool_calls_per_step = 16   # further tool calls in one model answer are refused, not run

[web]
host = "127.0.0.1"   # keep it on loopback; put a reverse proxy or tunnel in front for remote use
port = 8000
# token = ""         # secret; generated into the data dir when unset (see `claw token`)
# allowed_hosts = ["127.0.0.1", "localhost", "[::1]"]  # Host names answered (plus host and public_url's host)

[twilio]
# WhatsApp through Twilio: see deploy/TWILIO.md. `claw doctor` checks these settings.
# account_sid = "AC..."
# auth_token = ""                        # secret
# from_number = "whatsapp:+14155238886"  # the Twilio sandbox number, or your approved sender
# public_url = "https://claw.example.net" # where Twilio reaches this box (tunnel or reverse proxy)
# owners = ["+15551234567"]              # everyone else is denied
# pairing = false                        # let unknown numbers ask for access with a code you approve
# rate_limit_per_minute = 20
# media_keep_days = 30                   # photos received and sent are deleted after this
# window_policy = "hold"                 # outside WhatsApp's 24 h window: "hold" or "template"
# template_content_sid = "HX..."         # an approved template with one variable, for window_policy = "template"
# webhook_shared_keys = []               # secrets of Twilio Webhook Settings keys, if you use HMAC-SHA256

# Cameras (repeat the block for each): RTSP, MJPEG over HTTP, or a JPEG snapshot URL.
# [[cameras]]
# name = "front door"
# url = "rtsp://192.168.1.20:554/stream1"
# detect_url = "rtsp://192.168.1.20:554/stream2"   # optional low-resolution substream, watched instead
# username = "viewer"
# password = ""                                    # secret
# room = "front garden"
# masks = [[[0.0, 0.0], [1.0, 0.0], [1.0, 0.1], [0.0, 0.1]]]   # ignore the top tenth (timestamp)

[vision]
offline_after = 20   # seconds without a picture before a camera is reported offline (and again when back)
visit_gap = 40       # motion within this many seconds is the same visit: one alert per visit
cooldown = 120       # no new alert this soon after the last alerted visit of the same camera
keep_days = 10       # events and snapshots are deleted after this
max_mb = 500         # and the oldest snapshots go first above this size
# detector_path = "/var/lib/homeclaw/models/rtdetr_r18"   # object detection on motion (pip install 'homeclaw[vision]')
# detect_labels = ["person", "car", "package"]             # a visit needs one of these; others are ignored
# detector = "PekingU/rtdetr_r18vd"   # or a hub id, fetched once with `claw vision fetch-model`
# caption_url = "http://127.0.0.1:11434/v1"   # optional captions from an OpenAI-compatible vision model
# caption_model = "qwen2.5vl:3b"

[safety]
confirm_seconds = 120   # how long a "reply YES to ..." confirmation stays valid
hvac_min = 16.0         # thermostat targets outside [hvac_min, hvac_max] need confirmation
hvac_max = 26.0
max_actions_per_turn = 20   # device commands sent (or held for YES) in one turn; further ones are refused

[routines]
# timezone = "Europe/London"   # routine times are in this zone by default; unset: this machine's zone
# latitude = 51.5              # the home's location, for sunrise and sunset routines (both or neither)
# longitude = -0.12

[discovery]
# interfaces = ["192.168.1.10"]   # addresses to scan on (never all of them); unset: the primary interface's
# subnets = ["192.168.1.0/24"]    # what a scan keeps of what answers (and what an nmap sweep covers)
nmap = false                      # allow an nmap sweep of the subnets
"""
