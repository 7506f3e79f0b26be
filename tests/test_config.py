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
