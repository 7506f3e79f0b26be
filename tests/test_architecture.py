"""The import rules of .ci/check_imports.py, held by the test suite (for the modules already brought in line)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def check_imports() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_imports", REPO / ".ci" / "check_imports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_and_console_channel_follow_the_import_rules() -> None:
    """No forbidden import and no import cycle involving claw.cli or the console channel (the console never
    holds the runtime; the command modules share claw.cli.common, never claw.cli itself)."""
    problems = check_imports().check()
    ours = [p for p in problems if "claw.cli" in p or "claw.channels.console" in p]
    assert not ours, "\n".join(ours)


def test_the_checker_sees_the_cli_and_console_modules() -> None:
    known = check_imports().modules()
    assert {"claw.cli", "claw.cli.common", "claw.cli.chat", "claw.channels.console"} <= set(known)
