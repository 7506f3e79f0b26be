"""Settings: environment, claw.toml, data dir, secrets that never print, validation errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from claw.config import CONFIG_TEMPLATE, load_settings
from claw.errors import ConfigError


def test_env_prefix_nested_keys_and_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAW_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("CLAW_LLM__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("CLAW_LLM__MODEL", "m")
    monkeypatch.setenv("CLAW_WEB__PORT", "8123")
    s = load_settings()
    assert s.data_dir == tmp_path / "d" and s.db_path == tmp_path / "d" / "claw.db"
    assert s.llm.enabled and s.web.port == 8123
    assert s.web.host == "127.0.0.1"  # secure by default


def test_toml_file_is_read_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "claw.toml"
    toml.write_text('default_area = "kitchen"\ndevice_timeout = 2.5\n[llm]\nmodel = "from-toml"\n')
    monkeypatch.setenv("CLAW_CONFIG", str(toml))
    monkeypatch.setenv("CLAW_DEVICE_TIMEOUT", "4")
    s = load_settings()
    assert s.default_area == "kitchen" and s.llm.model == "from-toml" and s.device_timeout == 4.0


def test_the_init_template_is_valid_toml_for_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "claw.toml"
    toml.write_text(CONFIG_TEMPLATE.format(data_dir=tmp_path))
    monkeypatch.setenv("CLAW_CONFIG", str(toml))
    s = load_settings()
    assert not s.llm.enabled and s.safety.hvac_max == 26.0


@pytest.mark.parametrize("content", ["device_timeout = -1\n", "[llm\n", "log_level = 'LOUD'\n",
                                     "[web]\nport = 99999\n"])
def test_bad_config_is_a_clear_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str) -> None:
    toml = tmp_path / "claw.toml"
    toml.write_text(content)
    monkeypatch.setenv("CLAW_CONFIG", str(toml))
    with pytest.raises(ConfigError, match="invalid configuration"):
        load_settings()


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CLAW_LLM__API_KEY", "sk-very-secret-123")
    monkeypatch.setenv("CLAW_WEB__TOKEN", "tok-very-secret-456")
    s = load_settings()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("settings: %s %r", s, s)
    dumped = repr(s) + str(s) + s.model_dump_json() + caplog.text
    assert "sk-very-secret-123" not in dumped and "tok-very-secret-456" not in dumped
    assert s.llm.api_key is not None and s.llm.api_key.get_secret_value() == "sk-very-secret-123"


def test_web_token_is_generated_once_and_private(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    token = s.web_token()
    assert len(token) >= 24 and s.web_token() == token
    assert (tmp_path / "web_token").stat().st_mode & 0o777 == 0o600


def test_a_secret_in_the_wrong_key_is_not_echoed_in_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "claw.toml"
    toml.write_text('llm = "sk-misplaced-secret-789"\n')
    monkeypatch.setenv("CLAW_CONFIG", str(toml))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "sk-misplaced-secret-789" not in str(err.value)


# unknown keys, cross-field checks, and errors that name where the bad value was set -----------------------

@pytest.mark.parametrize("content,key,near", [
    ('[llm]\nbse_url = "http://127.0.0.1:9/v1"\n', "llm.bse_url", "llm.base_url"),
    ('devics_file = "devices.yaml"\n', "devics_file", "devices_file"),
    ('[lm]\nmodel = "m"\n', "lm", "llm"),
    ("[safety]\nhvac_mn = 10\n", "safety.hvac_mn", "safety.hvac_min"),
], ids=["section key", "top-level key", "section", "safety key"])
def test_an_unknown_key_in_claw_toml_is_an_error_naming_the_nearest_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, key: str, near: str) -> None:
    toml = tmp_path / "claw.toml"
    toml.write_text(content)
    monkeypatch.setenv("CLAW_CONFIG", str(toml))
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert message == f"invalid configuration ({toml}): {key}: no such setting; did you mean {near}?"


@pytest.mark.parametrize("name,near", [
    ("CLAW_DEVICS_FILE", "CLAW_DEVICES_FILE"),
    ("CLAW_LLM__BSE_URL", "CLAW_LLM__BASE_URL"),
    ("claw_web__prot", "CLAW_WEB__PORT"),
])
def test_an_unknown_claw_env_var_is_an_error_naming_the_nearest_one(monkeypatch: pytest.MonkeyPatch, name: str,
                                                                    near: str) -> None:
    assert load_settings().data_dir.name == "data"  # isolated_env's CLAW_CONFIG and CLAW_DATA_DIR are fine
    monkeypatch.setenv(name, "1")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert name in message and f"did you mean {near}?" in message
    assert "\n" not in message
    assert "no-such-claw.toml" not in message  # the env var is to blame, not a claw.toml that does not exist


def test_an_unknown_key_in_json_env_section_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAW_LLM", '{"bse_url": "http://127.0.0.1:9/v1"}')
    with pytest.raises(ConfigError, match=r"\(environment variable CLAW_LLM\): llm.bse_url: no such setting; "
                                          r"did you mean llm.base_url\?"):
        load_settings()


def test_dotenv_unknown_claw_keys_are_errors_but_other_programs_keys_are_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    dotenv = tmp_path / ".env"
    dotenv.write_text("OPENAI_API_KEY=not-ours\nCLAW_WEB__PORT=8123\n")
    assert load_settings().web.port == 8123
    dotenv.write_text("OPENAI_API_KEY=not-ours\nCLAW_DEVICS_FILE=devices.yaml\n")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (f"invalid configuration ({dotenv}: CLAW_DEVICS_FILE): no such setting; "
                              "did you mean CLAW_DEVICES_FILE?")


@pytest.mark.parametrize("where", ["toml", "env"])
def test_hvac_min_above_hvac_max_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    if where == "toml":
        toml = tmp_path / "claw.toml"
        toml.write_text("[safety]\nhvac_min = 27\n")
        monkeypatch.setenv("CLAW_CONFIG", str(toml))
        source = str(toml)
    else:
        monkeypatch.setenv("CLAW_SAFETY__HVAC_MIN", "27")
        source = "environment variable CLAW_SAFETY__HVAC_MIN"
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == f"invalid configuration ({source}): safety: hvac_min (27) is above hvac_max (26)"
    monkeypatch.setenv("CLAW_SAFETY__HVAC_MAX", "27")
    assert load_settings().safety.hvac_min == 27  # equal is fine: one allowed target


def test_a_bad_env_var_is_blamed_on_the_env_var_not_on_a_missing_claw_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAW_WEB__PORT", "eighty")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith("invalid configuration (environment variable CLAW_WEB__PORT): web.port: ")
    assert "no-such-claw.toml" not in message and "\n" not in message


def test_each_error_names_its_own_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "claw.toml"
    toml.write_text("device_timeout = -1\n")
    monkeypatch.setenv("CLAW_CONFIG", str(toml))
    monkeypatch.setenv("CLAW_WEB__PORT", "99999")
    message = str(pytest.raises(ConfigError, load_settings).value)
    assert f"device_timeout: Input should be greater than 0 ({toml})" in message
    assert "web.port: Input should be less than or equal to 65535 (environment variable CLAW_WEB__PORT)" in message
