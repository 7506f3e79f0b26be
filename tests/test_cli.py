"""The `claw` command line: help and README coverage, ask, init, soul, token, config errors, no secrets in output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from claw.cli import app
from devices.sim.http_devices import SimLight
from tests.fakes.openai_server import ScriptedOpenAI, reply, status

REPO = Path(__file__).resolve().parents[1]
SECRET = "sk-cli-SECRET-7d1e0b93"
runner = CliRunner()


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and subcommand of the click tree under `group`, as (path, command).

    Duck-typed: typer may ship its own copy of click, whose classes are not `click.Group`."""
    for name, cmd in getattr(group, "commands", {}).items():
        yield (*prefix, name), cmd
        yield from command_paths(cmd, (*prefix, name))


ALL_COMMANDS = sorted(command_paths(typer.main.get_command(app)), key=lambda item: item[0])


def claw_env(base: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAW_")}
    env.update({"CLAW_DATA_DIR": str(base / "data"), "CLAW_CONFIG": str(base / "none.toml"),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))})
    env.update(extra)
    return env


def claw_procs(tmp_path: Path, *runs: tuple[list[str], dict[str, str]],
               timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
    """Run the real `claw` (python -m claw.cli) once per (args, env), all at once, each in a fresh directory
    under tmp_path with its own data dir and config (env may override them); no stdin, streams captured."""
    procs = []
    try:
        for n, (args, env) in enumerate(runs):
            base = Path(tempfile.mkdtemp(prefix=f"run{n}-", dir=tmp_path))
            procs.append(subprocess.Popen([sys.executable, "-m", "claw.cli", *args], cwd=base,
                                          env=claw_env(base, **env), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        done = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        return done
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def claw_proc(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return claw_procs(tmp_path, (list(args), env))[0]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./claw.toml or ./.env of the developer


# help and README ----------------------------------------------------------------------------------

def test_the_command_tree_is_complete() -> None:
    names = {" ".join(path) for path, _ in ALL_COMMANDS}
    assert {"init", "run", "demo", "chat", "ask", "token", "devices", "soul", "soul show", "soul edit",
            "soul history", "soul revert"} <= names


@pytest.mark.parametrize("path,cmd", ALL_COMMANDS, ids=[" ".join(p) for p, _ in ALL_COMMANDS])
def test_every_command_has_help(path: tuple[str, ...], cmd: Any) -> None:
    assert (cmd.help or "").strip(), f"`claw {' '.join(path)}` has no help text"
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    first_line = cmd.help.strip().splitlines()[0]
    assert " ".join(first_line.split()[:4]) in " ".join(result.output.split())
    for param in cmd.params:
        if param.param_type_name == "option" and param.name != "help":
            assert (param.help or "").strip(), f"option {param.opts} of `claw {' '.join(path)}` has no help"


def test_top_level_help_lists_exactly_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    # rich draws "│ name   help", plain click "  name   help"; a wrapped help line is indented further
    listed = re.findall(r"^[│|]?\s{1,3}([a-z]+)\s{2,}\S", result.output.split("Commands")[1], re.MULTILINE)
    assert sorted(listed) == sorted(["init", "run", "demo", "chat", "ask", "token", "devices", "doctor", "soul",
                                     "pair", "routines", "discover", "adapters", "backup", "restore", "vision"])
    assert sorted(path[0] for path, _ in ALL_COMMANDS if len(path) == 1) == sorted(listed)


def test_top_level_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for path, _ in ALL_COMMANDS:
        if len(path) == 1:
            assert path[0] in result.output


def test_readme_mentions_every_command() -> None:
    readme = REPO / "README.md"
    assert readme.exists(), "README.md is missing"
    text = readme.read_text(encoding="utf-8")
    missing = [" ".join(path) for path, _ in ALL_COMMANDS
               if not re.search(rf"\bclaw {re.escape(' '.join(path))}\b", text)]
    assert not missing, f"README.md does not mention: {', '.join(f'claw {m}' for m in missing)}"


# ask ----------------------------------------------------------------------------------------------

def test_ask_demo_json_turns_the_light_on(tmp_path: Path) -> None:
    data_dir = tmp_path / "real-data"
    proc = claw_proc(tmp_path, "ask", "--demo", "--json", "turn on the kitchen light", CLAW_DATA_DIR=str(data_dir))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"reply", "tier", "actions", "states"} <= set(out)
    light_id = f"serial:{SimLight(name='kitchen light').serial}"
    assert out["tier"] == "intent"
    assert out["actions"] == [{"device": light_id, "name": "kitchen light", "room": "kitchen", "capability": "power",
                               "command": "turn_on", "args": {}}]
    assert out["states"][light_id]["power"] is True
    assert "kitchen light" in out["reply"]
    assert "warning" not in out  # the reply left through the outbox
    assert "Traceback" not in proc.stderr
    assert not (data_dir / "claw.db").exists(), "--demo must not touch the real data dir"


def test_ask_demo_without_llm_says_what_it_cannot_do(tmp_path: Path) -> None:
    plain, as_json = claw_procs(tmp_path, (["ask", "--demo", "write me a poem"], {}),
                                (["ask", "--demo", "--json", "write me a poem"], {}))
    assert plain.returncode == 0, plain.stderr
    text = plain.stdout.strip()
    assert "can't" in text.lower() or "cannot" in text.lower()
    assert "LLM" in text
    out = json.loads(as_json.stdout)
    assert (out["tier"], out["actions"]) == ("fallback", [])
    assert out["reply"] == text


def test_demo_has_a_location_so_a_sunset_routine_can_be_proposed(tmp_path: Path) -> None:
    proc = claw_proc(tmp_path, "ask", "--demo", "at sunset close the bedroom shade")
    assert proc.returncode == 0, proc.stderr
    assert "latitude" not in proc.stdout  # not "sunrise and sunset need the home's location"
    assert "sunset" in proc.stdout.lower() and "Reply YES" in proc.stdout


def test_demo_keeps_a_configured_location(monkeypatch: pytest.MonkeyPatch) -> None:
    from claw.cli.common import DEMO_LOCATION, demo_settings
    from claw.config import Settings

    plain = demo_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (plain.routines.latitude, plain.routines.longitude) == DEMO_LOCATION
    monkeypatch.setenv("CLAW_ROUTINES__LATITUDE", "69.65")
    monkeypatch.setenv("CLAW_ROUTINES__LONGITUDE", "18.96")
    mine = demo_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (mine.routines.latitude, mine.routines.longitude) == (69.65, 18.96)


# init, token, soul (in process) --------------------------------------------------------------------

def test_init_writes_config_and_refuses_to_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "conf" / "claw.toml"
    monkeypatch.setenv("CLAW_CONFIG", str(config))
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert str(config) in result.output
    text = config.read_text(encoding="utf-8")
    parsed = tomllib.loads(text)
    assert parsed["web"]["host"] == "127.0.0.1"
    assert "api_key" not in parsed.get("llm", {})  # a secret never has a default
    assert (tmp_path / "data").is_dir()

    config.write_text(text + "\n# my own notes\n", encoding="utf-8")
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 1
    assert "--force" in result.output
    assert config.read_text(encoding="utf-8").endswith("# my own notes\n")

    result = runner.invoke(app, ["init", "--force"])
    assert result.exit_code == 0, result.output
    assert config.read_text(encoding="utf-8") == text

    from claw.config import load_settings
    assert load_settings().web.port == 8000  # the written file loads


def test_token_prints_the_chat_url(tmp_path: Path) -> None:
    result = runner.invoke(app, ["token"])
    assert result.exit_code == 0, result.output
    token = (tmp_path / "data" / "web_token").read_text().strip()
    assert result.output.strip() == f"http://127.0.0.1:8000/#token={token}"
    again = runner.invoke(app, ["token"])
    assert again.output == result.output


def test_token_uses_configured_host_port_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAW_WEB__TOKEN", "tok-123")
    monkeypatch.setenv("CLAW_WEB__PORT", "8123")
    result = runner.invoke(app, ["token"])
    assert result.output.strip() == "http://127.0.0.1:8123/#token=tok-123"


def test_soul_show_edit_history_revert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    soul = tmp_path / "data" / "soul.md"
    result = runner.invoke(app, ["soul", "show"])
    assert result.exit_code == 0, result.output
    original = soul.read_text(encoding="utf-8")
    assert "version 1" in result.output
    assert original.strip().splitlines()[0] in result.output

    soul.write_text("# Jeeves\n\n## Voice\n\n- Tone: formal\n", encoding="utf-8")
    result = runner.invoke(app, ["soul", "show"])
    assert result.exit_code == 0
    assert "version 2" in result.output and "Jeeves" in result.output

    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf -- "- Length: concise\\n" >> "$1"\n', encoding="utf-8")
    editor.chmod(0o755)
    monkeypatch.setenv("VISUAL", str(editor))
    result = runner.invoke(app, ["soul", "edit"])
    assert result.exit_code == 0, result.output
    assert "version 3" in result.output
    assert soul.read_text(encoding="utf-8").endswith("- Length: concise\n")

    result = runner.invoke(app, ["soul", "history"])
    assert result.exit_code == 0
    ids = [int(line.split()[0]) for line in result.output.splitlines() if line.strip()]
    assert ids == [3, 2, 1]

    result = runner.invoke(app, ["soul", "revert", "1"])
    assert result.exit_code == 0, result.output
    assert "version 4" in result.output
    assert soul.read_text(encoding="utf-8") == original
    result = runner.invoke(app, ["soul", "revert", "2"])
    assert soul.read_text(encoding="utf-8").startswith("# Jeeves")

    result = runner.invoke(app, ["soul", "revert", "99"])
    assert result.exit_code == 1
    assert "99" in result.output
    assert soul.read_text(encoding="utf-8").startswith("# Jeeves")


def test_soul_show_prints_the_voice_readably(tmp_path: Path) -> None:
    result = runner.invoke(app, ["soul", "show"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.endswith("(version 1; name: Claw, tone: casual, length: normal)"), first
    (tmp_path / "data" / "soul.md").write_text("# Jeeves\n\n- Tone: formal\n- Length: concise\n", encoding="utf-8")
    first = runner.invoke(app, ["soul", "show"]).output.splitlines()[0]
    assert first.endswith("(version 2; name: Jeeves, tone: formal, length: concise)"), first
    assert "Voice(" not in first


@pytest.mark.parametrize("var,value", [("VISUAL", "/no/such/editor --wait"), ("EDITOR", "no-such-editor-3f9a"),
                                       ("EDITOR", "'unbalanced")])
def test_soul_edit_with_an_editor_that_cannot_start_is_one_clear_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv(var, value)
    soul = tmp_path / "data" / "soul.md"
    result = runner.invoke(app, ["soul", "edit"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot start the editor "), result.stderr
    assert value in lines[0] and f"${var}" in lines[0] and str(soul) in lines[0]


def test_a_home_file_that_is_not_utf8_is_one_clear_line(tmp_path: Path) -> None:
    home = tmp_path / "myhouse.yaml"
    home.write_bytes("devices:\n  - {type: light, name: caf\u00e9 light}\n".encode("latin-1"))
    runs = [(["demo", "--home", str(home), "--port", "0", "--no-console"], {}),
            (["ask", "--demo", "--home", str(home), "turn on the light"], {}),
            (["chat", "--demo", "--home", str(home)], {})]
    for (args, _), proc in zip(runs, claw_procs(tmp_path, *runs, timeout=30), strict=True):
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout == ""
        assert proc.stderr.startswith(f"error: cannot read the home file {home}: it is not UTF-8 text"), proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_devices_lists_the_devices_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["devices"])
    assert result.exit_code == 0
    assert "no devices" in result.output
    devices = tmp_path / "devices.yaml"
    devices.write_text("- {id: 'serial:X1', name: porch light, kind: light, room: porch,"
                       " capabilities: [power], driver: http, address: '127.0.0.1:9'}\n", encoding="utf-8")
    monkeypatch.setenv("CLAW_DEVICES_FILE", str(devices))
    result = runner.invoke(app, ["devices"])
    assert result.exit_code == 0, result.output
    assert "serial:X1" in result.output and "porch light" in result.output


# broken config ------------------------------------------------------------------------------------

@pytest.mark.parametrize("content,expect", [
    ("this is = = not toml\n", "invalid configuration"),
    ("device_timeout = \"soon\"\n", "device_timeout"),
    ("[web]\nport = 99999\n", "web.port"),
    ("log_level = \"LOUD\"\n", "log_level"),
], ids=["syntax", "type", "range", "validator"])
def test_broken_config_exits_2_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str,
                                                  expect: str) -> None:
    config = tmp_path / "claw.toml"
    config.write_text(content, encoding="utf-8")
    monkeypatch.setenv("CLAW_CONFIG", str(config))
    for args in (["token"], ["ask", "hi"], ["run"], ["soul", "show"], ["devices"], ["init"], ["chat"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert isinstance(result.exception, SystemExit), (args, result.exception)  # no traceback
        assert result.stdout == ""
        assert result.stderr.startswith("error: "), result.stderr
        assert str(config) in result.stderr and expect in result.stderr
    assert config.read_text(encoding="utf-8") == content  # `claw init` did not "fix" it


def test_broken_config_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "claw.toml"
    config.write_text("[llm\nmodel = 'x'\n", encoding="utf-8")
    runs = [(["run", "--port", "0"], {"CLAW_CONFIG": str(config)}), (["ask", "hi"], {"CLAW_CONFIG": str(config)})]
    for proc in claw_procs(tmp_path, *runs):
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == ""
        assert proc.stderr.startswith(f"error: invalid configuration ({config})"), proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 3


def test_broken_devices_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "devices.yaml"
    bad.write_text("- {name: no id here}\n", encoding="utf-8")
    missing = tmp_path / "no-such-devices.yaml"
    runs = [(["devices"], {"CLAW_DEVICES_FILE": str(bad)}), (["devices"], {"CLAW_DEVICES_FILE": str(missing)}),
            (["run", "--port", "0"], {"CLAW_DEVICES_FILE": str(bad)})]
    for (args, env), proc in zip(runs, claw_procs(tmp_path, *runs, timeout=30), strict=True):
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert env["CLAW_DEVICES_FILE"] in proc.stderr


# secrets ------------------------------------------------------------------------------------------

@pytest.fixture
def llm() -> Iterator[ScriptedOpenAI]:
    server = ScriptedOpenAI(model="scripted").start()
    yield server
    server.stop()


def test_api_key_never_appears_in_output_or_logs(tmp_path: Path, llm: ScriptedOpenAI) -> None:
    env = {"CLAW_LLM__API_KEY": SECRET, "CLAW_LLM__MODEL": "scripted", "CLAW_LOG_LEVEL": "DEBUG",
           "CLAW_LLM__BASE_URL": llm.base_url}
    poem = "Roses are red, the kitchen light is too."

    def script(request: dict[str, Any]) -> dict[str, Any]:
        if "refuse me" in json.dumps(request["messages"][-1]):
            return status(401, f"Incorrect API key provided: {SECRET[:6]}****")
        return reply(poem)

    llm.script = [script]
    config = tmp_path / "bad.toml"
    config.write_text(f'[llm]\napi_key = "{SECRET}"\nmax_steps = "many"\n', encoding="utf-8")
    runs = [
        (["ask", "--demo", "--json", "write me a poem"], env),
        (["ask", "--demo", "write me a poem, or refuse me"], env),
        (["ask", "--demo", "write me a poem"], {**env, "CLAW_LLM__BASE_URL": "http://127.0.0.1:9/v1"}),
        (["token"], env), (["soul", "show"], env), (["init"], env),
        (["ask", "hi"], {**env, "CLAW_CONFIG": str(config)}),
    ]
    results = claw_procs(tmp_path, *runs)
    for (args, _), proc in zip(runs, results, strict=True):
        assert SECRET not in proc.stdout + proc.stderr, args
        assert SECRET[8:] not in proc.stdout + proc.stderr, args
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
    answered, refused, unreachable, *others, broken = results
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout) == {"reply": poem, "tier": "llm", "actions": [], "states": {}}
    assert refused.returncode == 0 and "refused the API key" in refused.stdout
    assert unreachable.returncode == 0 and "not reachable" in unreachable.stdout
    assert all(p.returncode == 0 for p in others), [p.stderr for p in others]
    assert broken.returncode == 2 and "max_steps" in broken.stderr
    assert len(llm.requests) >= 2, "the scripted LLM was not called, so the key was never in use"
