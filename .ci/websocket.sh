#!/usr/bin/env bash
# The showcase's WebSocket with a real client (Python's `websockets`): tests/websocket/test_chat.py.
# Loopback only; the server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/showcase-server.sh
VENV=target/ci-venv

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "websockets>=14,<16"

export ENDPOINT_JWT_SECRET=ci-websocket-secret-0123456789abcdef0
export ENDPOINT_PORT=0 ENDPOINT_HOST=127.0.0.1 RUST_LOG=warn
export ENDPOINT_WS_MESSAGE_LIMIT=1KiB ENDPOINT_WS_IDLE_TIMEOUT=1s
export ENDPOINT_CORS_ORIGINS=https://app.example.com
start_showcase
TOKEN=$("$SHOWCASE" token --user ann)
BASE=$BASE TOKEN=$TOKEN SERVER_PID=$SERVER_PID "$VENV/bin/python" tests/websocket/test_chat.py
