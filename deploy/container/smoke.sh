#!/usr/bin/env bash
# Build the image and smoke-test it the way compose.yaml runs it: host network, read-only root, no capabilities,
# secrets from an env file, the data in a volume. Usage: deploy/container/smoke.sh [podman build options...]
# (e.g. --build-arg BASE=... --build-arg PIP_INDEX_URL=... for an offline mirror). Needs podman (or ENGINE=docker).
set -euo pipefail
cd "$(dirname "$0")/../.."
read -r -a ENGINE <<< "${ENGINE:-podman}"   # the engine and its global options
IMAGE="${IMAGE:-localhost/homeclaw:smoke}"
read -r -a RUN_OPTS <<< "${RUN_OPTS:-}"   # engine-specific extras, e.g. --ulimit nofile=1024:1024
NAME="homeclaw-smoke-$$"
VOLUME="homeclaw-smoke-$$"
WORK="$(mktemp -d)"
cleanup() {
  "${ENGINE[@]}" rm -f "$NAME" >/dev/null 2>&1 || true
  "${ENGINE[@]}" volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "SMOKE FAIL: $*" >&2; "${ENGINE[@]}" logs "$NAME" >&2 2>/dev/null || true; exit 1; }

"${ENGINE[@]}" build "$@" -f deploy/container/Dockerfile -t "$IMAGE" .

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')"
printf 'CLAW_WEB__PORT=%s\nCLAW_WEB__TOKEN=%s\n' "$PORT" "$TOKEN" > "$WORK/env"
chmod 600 "$WORK/env"
printf 'default_area = "kitchen"\n' > "$WORK/claw.toml"
chmod 644 "$WORK/claw.toml"
"${ENGINE[@]}" volume create "$VOLUME" >/dev/null
start() {
  "${ENGINE[@]}" run -d --name "$NAME" "${RUN_OPTS[@]}" --network host --env-file "$WORK/env" \
    -v "$VOLUME:/var/lib/homeclaw" -v "$WORK/claw.toml:/etc/homeclaw/claw.toml:ro" \
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges "$IMAGE" >/dev/null
  for _ in $(seq 120); do
    curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && return 0
    [ "$("${ENGINE[@]}" inspect -f '{{.State.Running}}' "$NAME")" = true ] || fail "the container exited"
    sleep 0.5
  done
  fail "no /api/health on 127.0.0.1:$PORT"
}
stop() {
  "${ENGINE[@]}" stop -t 20 "$NAME" >/dev/null
  code="$("${ENGINE[@]}" inspect -f '{{.State.ExitCode}}' "$NAME")"
  case "$code" in 0|130) ;; *) fail "claw run exited with $code on stop" ;; esac  # 130: its clean SIGINT exit
}
api() { curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }

start
"${ENGINE[@]}" logs "$NAME" 2>&1 | grep -q "ran migrations m001_inbox" || fail "the first start did not say which migrations ran"
api "http://127.0.0.1:$PORT/api/chat" -d '{"text": "remember that the smoke test ran"}' | grep -q reply \
  || fail "chat did not answer"
"${ENGINE[@]}" exec "$NAME" claw backup - > "$WORK/backup.tar.gz" || fail "claw backup"
tar -tzf "$WORK/backup.tar.gz" > "$WORK/members" || fail "the backup is not a tar.gz"
grep -qx manifest.json "$WORK/members" || fail "the backup has no manifest"
stop
"${ENGINE[@]}" rm "$NAME" >/dev/null
start  # a new container on the same volume: the data is still there, nothing left to migrate
"${ENGINE[@]}" logs "$NAME" 2>&1 | grep -q "ran migrations" && fail "migrations ran again on the second start"
api "http://127.0.0.1:$PORT/api/chat" -d '{"text": "what do you know about me?"}' | grep -q "smoke test ran" \
  || fail "the fact did not survive a new container"
stop
echo "SMOKE OK: $IMAGE built; claw run served on 127.0.0.1:$PORT (host network, read-only, no capabilities),"
echo "answered, backed up, stopped cleanly with SIGINT, and kept its data in the volume across containers"
