#!/usr/bin/env bash
# Install (or upgrade: run it again) homeclaw on an always-on Linux box: a system user, a virtual environment,
# the data dir, the config and secrets, and the systemd unit. Uninstalling keeps the data. See the README,
# "Running it for real". Run as root: sudo deploy/install.sh [options]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX=/opt/homeclaw
DATA_DIR=/var/lib/homeclaw
ETC_DIR=/etc/homeclaw
USER_NAME=homeclaw
SOURCE="$(dirname "$HERE")"
PYTHON=python3
UNIT_DIR=/etc/systemd/system
BIN_DIR=/usr/local/bin
SYSTEM_SITE=0
SYSTEMD=auto
ACTION=install

usage() {
  cat <<USAGE
usage: install.sh [options]            install, or upgrade in place (safe to run again)
       install.sh --uninstall [options] remove the program and the unit; keep the data, config and user

  --prefix DIR              where the program goes (a venv in DIR/venv)        [$PREFIX]
  --data-dir DIR            database, soul.md, media                            [$DATA_DIR]
  --etc-dir DIR             claw.toml and the secrets file env (mode 600)      [$ETC_DIR]
  --user NAME               the system user the claw runs as (created)         [$USER_NAME]
  --source PATH             a homeclaw checkout, sdist or wheel to install      [this checkout]
  --python PYTHON           the Python (>= 3.11) for the venv                  [$PYTHON]
  --unit-dir DIR            where the systemd unit goes                         [$UNIT_DIR]
  --bin-dir DIR             where the \`claw\` admin command is linked (empty: none) [$BIN_DIR]
  --system-site-packages    let the venv see the system's packages (reuse installed dependencies)
  --no-systemd              write the unit into PREFIX only; do not enable or start it
USAGE
}

die() { echo "install.sh: $*" >&2; exit 2; }
say() { echo "==> $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:?}"; shift 2 ;;
    --data-dir) DATA_DIR="${2:?}"; shift 2 ;;
    --etc-dir) ETC_DIR="${2:?}"; shift 2 ;;
    --user) USER_NAME="${2:?}"; shift 2 ;;
    --source) SOURCE="${2:?}"; shift 2 ;;
    --python) PYTHON="${2:?}"; shift 2 ;;
    --unit-dir) UNIT_DIR="${2:?}"; shift 2 ;;
    --bin-dir) BIN_DIR="${2-}"; shift 2 ;;
    --system-site-packages) SYSTEM_SITE=1; shift ;;
    --no-systemd) SYSTEMD=no; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

unset PYTHONPATH PYTHONHOME  # the venv's own packages, not a checkout's
[ "$(id -u)" -eq 0 ] || die "run it as root (sudo $0 ...): it creates a system user and writes to $PREFIX"
for d in "$PREFIX" "$DATA_DIR" "$ETC_DIR" "$UNIT_DIR"; do
  case "$d" in /*) ;; *) die "paths must be absolute: $d" ;; esac
done
UNIT_NAME=homeclaw.service
VENV="$PREFIX/venv"
if [ "$SYSTEMD" = auto ]; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then SYSTEMD=yes; else SYSTEMD=no; fi
fi

if [ "$ACTION" = uninstall ]; then
  if [ "$SYSTEMD" = yes ] && [ -f "$UNIT_DIR/$UNIT_NAME" ]; then
    systemctl disable --now "$UNIT_NAME" || true
  fi
  rm -f "$UNIT_DIR/$UNIT_NAME"
  [ "$SYSTEMD" = yes ] && systemctl daemon-reload || true
  if [ -n "$BIN_DIR" ] && [ -L "$BIN_DIR/claw" ] && [ "$(readlink "$BIN_DIR/claw")" = "$PREFIX/bin/claw" ]; then
    rm -f "$BIN_DIR/claw"
  fi
  rm -rf "$VENV" "$PREFIX/bin" "$PREFIX/$UNIT_NAME"
  rmdir "$PREFIX" 2>/dev/null || true
  say "removed homeclaw from $PREFIX; kept the data ($DATA_DIR), the config and secrets ($ETC_DIR) and the user $USER_NAME"
  say "to remove those too: rm -rf $DATA_DIR $ETC_DIR && userdel $USER_NAME"
  exit 0
fi

# 1. Python
"$PYTHON" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || die "$PYTHON is not Python >= 3.11 with venv (Debian/Raspberry Pi OS: apt install python3-venv)"

# 2. the system user (no login, no home of its own but the data dir)
if ! id -u "$USER_NAME" >/dev/null 2>&1; then
  nologin="$(command -v nologin || echo /usr/sbin/nologin)"
  useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell "$nologin" \
    --comment "homeclaw agent" "$USER_NAME"
  say "created the system user $USER_NAME"
fi
GROUP="$(id -gn "$USER_NAME")"

# 3. directories: data owned by the user, config and secrets by root
install -d -m 0755 "$PREFIX" "$PREFIX/bin"
install -d -m 0750 -o "$USER_NAME" -g "$GROUP" "$DATA_DIR"
install -d -m 0750 -o root -g "$GROUP" "$ETC_DIR"

# 4. the virtual environment and the program (an upgrade reinstalls it in place)
if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  say "the venv in $VENV is broken (was its Python removed?): making it again"; rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  args=()
  [ "$SYSTEM_SITE" = 1 ] && args+=(--system-site-packages)
  "$PYTHON" -m venv "${args[@]}" "$VENV"
  say "made the virtual environment $VENV"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# the version installed in this venv (not one seen through --system-site-packages)
before="$("$VENV/bin/python" - <<'PY' 2>/dev/null || echo none
import importlib.metadata as m, sys
d = m.distribution("homeclaw")
print(d.version if str(d.locate_file("")).startswith(sys.prefix) else "none")
PY
)"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
case "$SOURCE" in
  *.whl) cp "$SOURCE" "$WORK/" ;;
  *.tar.gz) "$VENV/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$WORK" "$SOURCE" ;;
  *) [ -f "$SOURCE/pyproject.toml" ] || die "--source $SOURCE is not a homeclaw checkout, sdist or wheel"
     mkdir "$WORK/src"  # build from a copy: the checkout is left as it was
     tar -C "$SOURCE" --exclude=.git --exclude=.venv --exclude=build --exclude='*.egg-info' \
       --exclude=__pycache__ -cf - . | tar -C "$WORK/src" -xf -
     "$VENV/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$WORK" "$WORK/src" ;;
esac
WHEEL="$(ls "$WORK"/homeclaw-*.whl)"
"$VENV/bin/python" -m pip install --quiet --upgrade "$WHEEL"                  # and its dependencies
"$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall "$WHEEL"  # the same version again: replaced
after="$("$VENV/bin/claw" --version | awk '{print $2}')"
if [ "$before" = none ]; then say "installed homeclaw $after"; else say "upgraded homeclaw $before -> $after"; fi

# 5. secrets (only ever created, never overwritten) and the config
ENV_FILE="$ETC_DIR/env"
if [ ! -f "$ENV_FILE" ]; then
  umask 077
  cat > "$ENV_FILE" <<ENV
# homeclaw secrets, read by systemd (EnvironmentFile) for the homeclaw service. KEY=value, one a line, no quotes.
# Keep this file root-only (mode 600). Any CLAW_* setting may go here; the rest goes in $ETC_DIR/claw.toml.
# CLAW_LLM__API_KEY=sk-...
# CLAW_TWILIO__AUTH_TOKEN=...
# CLAW_WEB__TOKEN=...
ENV
  umask 022
  say "wrote $ENV_FILE (put the secrets there)"
fi
chown root:root "$ENV_FILE"; chmod 0600 "$ENV_FILE"

# the environment the unit gives the claw, for the commands run here and the admin command
load_env() {
  export CLAW_DATA_DIR="$DATA_DIR" CLAW_CONFIG="$ETC_DIR/claw.toml"
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) ;; *=*) export "${line?}" ;; esac
  done < "$ENV_FILE"
}
as_user() { (load_env; cd "$DATA_DIR"; exec runuser -u "$USER_NAME" -- "$@"); }

if [ ! -f "$ETC_DIR/claw.toml" ]; then
  (load_env; cd "$DATA_DIR"; "$VENV/bin/claw" init)
  chown -R "$USER_NAME:$GROUP" "$DATA_DIR"
fi
chown root:"$GROUP" "$ETC_DIR/claw.toml"; chmod 0640 "$ETC_DIR/claw.toml"

# 6. the admin command: `claw ...` as the service user, with the service's config and secrets
cat > "$PREFIX/bin/claw" <<WRAP
#!/usr/bin/env bash
# homeclaw admin command: runs claw as $USER_NAME with the service's environment (written by install.sh).
set -euo pipefail
[ "\$(id -u)" -eq 0 ] || { echo "run it as root (sudo claw ...): it reads $ENV_FILE" >&2; exit 2; }
unset PYTHONPATH PYTHONHOME
export CLAW_DATA_DIR="$DATA_DIR" CLAW_CONFIG="$ETC_DIR/claw.toml"
while IFS= read -r line || [ -n "\$line" ]; do
  case "\$line" in ''|'#'*) ;; *=*) export "\$line" ;; esac
done < "$ENV_FILE"
cd "$DATA_DIR"
exec runuser -u "$USER_NAME" -- "$VENV/bin/claw" "\$@"
WRAP
chmod 0755 "$PREFIX/bin/claw"
if [ -n "$BIN_DIR" ]; then install -d "$BIN_DIR"; ln -sfn "$PREFIX/bin/claw" "$BIN_DIR/claw"; fi

# 7. the systemd unit, with these paths
unit="$(sed -e "s|/opt/homeclaw|$PREFIX|g" -e "s|/var/lib/homeclaw|$DATA_DIR|g" -e "s|/etc/homeclaw|$ETC_DIR|g" \
            -e "s|^User=homeclaw|User=$USER_NAME|" -e "s|^Group=homeclaw|Group=$GROUP|" "$HERE/$UNIT_NAME")"
case "$DATA_DIR" in
  /var/lib/?*) unit="$(printf '%s\n' "$unit" | sed "s|^StateDirectory=.*|StateDirectory=${DATA_DIR#/var/lib/}|")" ;;
  *) unit="$(printf '%s\n' "$unit" | sed -e '/^StateDirectory=/d' -e '/^StateDirectoryMode=/d')" ;;
esac
if [ "$SYSTEMD" = yes ]; then
  install -d "$UNIT_DIR"
  printf '%s\n' "$unit" > "$UNIT_DIR/$UNIT_NAME"
  systemctl daemon-reload
  systemctl enable "$UNIT_NAME" >/dev/null
  systemctl restart "$UNIT_NAME"
  say "the service is (re)started: systemctl status homeclaw, journalctl -u homeclaw -f"
else
  printf '%s\n' "$unit" > "$PREFIX/$UNIT_NAME"
  say "systemd is not running here: the unit is in $PREFIX/$UNIT_NAME (start the claw with it elsewhere, or run $VENV/bin/claw run as $USER_NAME)"
fi

# 8. the check
say "claw doctor:"
if as_user "$VENV/bin/claw" doctor; then
  say "done"
else
  say "claw doctor found problems (above): fix them in $ETC_DIR/claw.toml or $ENV_FILE, then restart the claw"
fi
