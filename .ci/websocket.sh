#!/usr/bin/env bash
# The showcase's WebSocket with a real client (Python's `websockets`): tests/websocket/test_chat.py.
# Loopback only; the server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOWCASE=target/debug/examples/showcase
VENV=target/ci-venv
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "websockets>=14,<16"

export ENDPOINT_JWT_SECRET=ci-websocket-secret-0123456789abcdef0
export ENDPOINT_PORT=0 ENDPOINT_HOST=127.0.0.1 RUST_LOG=warn
export ENDPOINT_WS_MESSAGE_LIMIT=1KiB ENDPOINT_WS_IDLE_TIMEOUT=1s
export ENDPOINT_CORS_ORIGINS=https://app.example.com
(cd "$WORK" && exec "$OLDPWD/$SHOWCASE" > "$WORK/stdout" 2> "$WORK/stderr") &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$WORK/stdout" 2>/dev/null && break
  sleep 0.1
done
BASE=$(sed -n 's/^listening on //p' "$WORK/stdout")
[ -n "$BASE" ] || { echo "showcase did not start:"; cat "$WORK/stderr"; exit 1; }
TOKEN=$("$SHOWCASE" token --user ann)
BASE=$BASE TOKEN=$TOKEN "$VENV/bin/python" tests/websocket/test_chat.py
