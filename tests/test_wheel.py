"""The distribution: `python -m build` makes an sdist and a wheel that install in a fresh venv and run the demo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from claw import __version__

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("claw", "devices", "memory")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def data_files() -> set[str]:
    """Every file of the packages that is not Python: sentences, adapters, the simulated home, the web page…"""
    return {p.relative_to(REPO).as_posix() for pkg in PACKAGES for p in (REPO / pkg).rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}


def test_build_makes_a_wheel_and_sdist_that_install_and_run_the_demo(tmp_path: Path) -> None:
    pytest.importorskip("build", reason="python -m pip install build (part of the dev extra)")
    source = tmp_path / "src"  # build from a copy: the checkout is left as it was
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                                                "__pycache__", ".pytest_cache", ".ruff_cache"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("CLAW_")}
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, env=env)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheel = tmp_path / "dist" / f"homeclaw-{__version__}-py3-none-any.whl"
    sdist = tmp_path / "dist" / f"homeclaw-{__version__}.tar.gz"
    assert wheel.exists() and sdist.exists(), sorted(p.name for p in (tmp_path / "dist").iterdir())

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(f"homeclaw-{__version__}.dist-info/METADATA").decode()
        entry_points = z.read(f"homeclaw-{__version__}.dist-info/entry_points.txt").decode()
    missing = sorted(data_files() - names)
    assert not missing, f"package data left out of the wheel: {missing}"
    assert "memory/migrations.py" in names and "claw/backup/manifest.py" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    assert f"Version: {__version__}" in metadata and "Requires-Python: >=3.11" in metadata
    assert "claw = claw.cli:main" in entry_points
    with tarfile.open(sdist) as t:
        in_sdist = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "claw/default_soul.md"} <= in_sdist

    # a fresh venv; it sees the system's site-packages only to reuse the dependencies already installed
    target = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(target)
    py = target / "bin" / "python"
    pip = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                         capture_output=True, text=True, env=env)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    where = subprocess.run([str(py), "-c", "import claw, memory, devices; print(claw.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert where.stdout.strip().startswith(str(target)), where.stdout + where.stderr  # the wheel's, not a checkout's

    claw = target / "bin" / "claw"
    run_env = {**env, "CLAW_DATA_DIR": str(tmp_path / "data"), "CLAW_CONFIG": str(tmp_path / "none.toml")}
    version = subprocess.run([str(claw), "--version"], capture_output=True, text=True, env=run_env, cwd=tmp_path)
    assert version.stdout.strip() == f"homeclaw {__version__}"
    ask = subprocess.run([str(claw), "ask", "--demo", "--json", "turn on the kitchen light"], capture_output=True,
                         text=True, env=run_env, cwd=tmp_path, timeout=120)
    assert ask.returncode == 0, ask.stderr
    out = json.loads(ask.stdout)
    assert out["tier"] == "intent" and "kitchen light" in out["reply"]
    assert [(a["name"], a["command"]) for a in out["actions"]] == [("kitchen light", "turn_on")]
    assert all(out["states"][a["device"]]["power"] is True for a in out["actions"])
