"""deploy/install.sh for real: a throwaway system user, a venv in a temp prefix, the unit checked by
systemd-analyze and `claw run` started the way the unit starts it; claw doctor, upgrade in place, uninstall."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from claw import __version__

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "deploy" / "install.sh"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="install.sh runs as root"),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("useradd", "userdel", "runuser", "setpriv", "bash")),
                       reason="needs useradd, runuser and setpriv"),
]


def python_for(user: str) -> tuple[str, bool] | None:
    """A Python >= 3.11 with venv that `user` may run, and whether its site-packages already hold homeclaw's
    dependencies (then the venv reuses them: --system-site-packages)."""
    for candidate in (sys.executable, "/usr/bin/python3", shutil.which("python3") or ""):
        if not candidate:
            continue
        probe = subprocess.run(["runuser", "-u", user, "--", candidate, "-c",
                                "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))"],
                               capture_output=True, cwd="/")
        if probe.returncode == 0:
            return candidate, candidate == sys.executable
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def user() -> Iterator[str]:
    """A name for a throwaway system user; install.sh creates it, it is removed after the test."""
    name = "hctest" + secrets.token_hex(3)
    yield name
    subprocess.run(["userdel", name], capture_output=True)
    subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture
def base() -> Iterator[Path]:
    """A temp root the system user can reach (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="homeclaw-install-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def unit_settings(unit: Path) -> dict[str, list[str]]:
    """The [Service] keys of a unit file (a key given twice keeps both values, as systemd does)."""
    keys: dict[str, list[str]] = {}
    section = ""
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            keys.setdefault(key, []).append(value)
    return keys


def environment_of(unit: dict[str, list[str]]) -> dict[str, str]:
    """What systemd gives the process: Environment= lines, then the EnvironmentFile (KEY=value lines)."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    for item in unit.get("Environment", []):
        key, value = item.split("=", 1)
        env[key] = value
    for path in unit.get("EnvironmentFile", []):
        for line in Path(path.lstrip("-")).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, value = line.split("=", 1)
                env[key.strip()] = value
    return env


def test_install_run_as_the_unit_would_doctor_upgrade_and_uninstall(user: str, base: Path) -> None:
    prefix, data, etc, bindir = base / "opt", base / "var" / "lib" / "homeclaw", base / "etc" / "homeclaw", base / "bin"
    data.parent.mkdir(parents=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "probe" + user[6:]],
                   check=True)  # a user exists to probe which Python a system user may run
    try:
        found = python_for("probe" + user[6:])
    finally:
        subprocess.run(["userdel", "probe" + user[6:]], capture_output=True)
    if found is None:
        pytest.skip("no Python >= 3.11 with venv that a system user may run")
    python, reuse = found
    args = ["bash", str(INSTALL), "--prefix", str(prefix), "--data-dir", str(data), "--etc-dir", str(etc),
            "--user", user, "--bin-dir", str(bindir), "--python", python, "--no-systemd",
            *(["--system-site-packages"] if reuse else [])]
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("CLAW_")}
    first = subprocess.run(args, capture_output=True, text=True, cwd=base, env=clean)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"created the system user {user}" in first.stdout and f"installed homeclaw {__version__}" in first.stdout
    assert "claw doctor" in first.stdout  # it ran (WhatsApp is not set up yet: it says what to fix)

    account = pwd.getpwnam(user)
    assert account.pw_shell.endswith("nologin") and account.pw_dir == str(data)
    env_file, config = etc / "env", etc / "claw.toml"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600 and env_file.stat().st_uid == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o640 and config.stat().st_gid == account.pw_gid
    assert "[llm]" in config.read_text()  # claw init wrote it
    assert data.stat().st_uid == account.pw_uid and stat.S_IMODE(data.stat().st_mode) == 0o750
    assert (prefix / "venv" / "bin" / "claw").exists() and (bindir / "claw").resolve() == prefix / "bin" / "claw"

    unit_file = prefix / "homeclaw.service"
    unit = unit_settings(unit_file)
    assert unit["User"] == [user] and unit["EnvironmentFile"] == [str(env_file)]
    assert unit["ExecStart"] == [f"{prefix}/venv/bin/claw run"] and unit["Restart"] == ["on-failure"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert unit[key] == ["true"], key
    assert unit["ProtectSystem"] == ["strict"] and unit["ReadWritePaths"] == [str(data)]
    assert set(unit["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert "PrivateNetwork" not in unit and "IPAddressDeny" not in unit  # discovery reaches the LAN
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(["systemd-analyze", "verify", str(unit_file)], capture_output=True, text=True)
        assert verify.returncode == 0 and not (verify.stdout + verify.stderr).strip(), verify.stdout + verify.stderr

    # the owner's settings: secrets (and the port) in the EnvironmentFile; Twilio only ever on loopback here
    port, token = free_port(), secrets.token_urlsafe(16)
    with env_file.open("a") as f:
        f.write(f"CLAW_WEB__PORT={port}\nCLAW_WEB__TOKEN={token}\nCLAW_TWILIO__ACCOUNT_SID=AC{'0' * 32}\n"
                f"CLAW_TWILIO__AUTH_TOKEN={secrets.token_hex(16)}\nCLAW_TWILIO__FROM_NUMBER=whatsapp:+14155238886\n"
                "CLAW_TWILIO__PUBLIC_URL=https://claw.example.net\nCLAW_TWILIO__OWNERS=[\"+15551234567\"]\n"
                "CLAW_TWILIO__API_BASE=http://127.0.0.1:9\n")

    # `claw run` as the unit starts it: its user, its environment, its working directory, its command
    env = environment_of(unit)
    proc = subprocess.Popen(["setpriv", f"--reuid={user}", f"--regid={account.pw_gid}", "--init-groups", "--",
                             *unit["ExecStart"][0].split()], cwd=unit["WorkingDirectory"][0], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        assert ready.startswith("claw ready") and f"127.0.0.1:{port}/" in ready, ready + proc.stderr.read()  # type: ignore[union-attr]
        assert proc.stdout.readline().startswith(f"database {data}/claw.db: ran migrations m001_inbox")
        base_url = f"http://127.0.0.1:{port}"
        assert httpx.get(base_url + "/api/health", trust_env=False).json()["ok"] is True
        assert httpx.get(base_url + "/api/devices", trust_env=False).status_code == 401
        assert httpx.get(base_url + "/api/devices", headers={"Authorization": f"Bearer {token}"},
                         trust_env=False).status_code == 200  # the token came from the EnvironmentFile
        assert (data / "claw.db").stat().st_uid == account.pw_uid

        doctor = subprocess.run([str(bindir / "claw"), "doctor"], capture_output=True, text=True, env=clean)
        assert doctor.returncode == 0 and "0 problem(s)" in doctor.stdout, doctor.stdout + doctor.stderr
        assert "accepted a signed test request" in doctor.stdout  # it reached the claw the unit started
    finally:
        proc.send_signal(signal.SIGINT)  # KillSignal=SIGINT
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert str(proc.returncode) in ["0", *unit["SuccessExitStatus"]], err  # a clean stop, as systemd counts it
    assert "Traceback" not in err

    # upgrade in place: the same command again keeps the user, the secrets, the config and the data
    config_before, env_before = config.read_text(), env_file.read_text()
    started = time.monotonic()
    second = subprocess.run(args, capture_output=True, text=True, cwd=base, env=clean)
    assert second.returncode == 0, second.stdout + second.stderr
    print(f"install {first.stdout.count('==>')} steps; upgrade took {time.monotonic() - started:.0f} s")
    assert f"upgraded homeclaw {__version__} -> {__version__}" in second.stdout and "created" not in second.stdout
    assert config.read_text() == config_before and env_file.read_text() == env_before
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600 and (data / "claw.db").exists()

    # uninstall keeps the data, the config, the secrets and the user
    gone = subprocess.run([*args, "--uninstall"], capture_output=True, text=True, cwd=base, env=clean)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not (prefix / "venv").exists() and not unit_file.exists() and not (bindir / "claw").exists()
    assert (data / "claw.db").exists() and env_file.read_text() == env_before and pwd.getpwnam(user)
