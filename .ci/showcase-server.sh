# Sourced by the scripts that test the running showcase (.ci/api-contract.sh,
# .ci/websocket.sh): `start_showcase` starts target/debug/examples/showcase in a temporary
# folder with the environment as it is (set ENDPOINT_PORT=0 and ENDPOINT_HOST=127.0.0.1
# first), waits for its `listening on` line, and sets BASE; the server is stopped and the
# folder removed when the script exits.
SHOWCASE=target/debug/examples/showcase
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

start_showcase() {
  (cd "$WORK" && exec "$OLDPWD/$SHOWCASE" > "$WORK/stdout" 2> "$WORK/stderr") &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    grep -q '^listening on ' "$WORK/stdout" 2>/dev/null && break
    sleep 0.1
  done
  BASE=$(sed -n 's/^listening on //p' "$WORK/stdout")
  [ -n "$BASE" ] || { echo "showcase did not start:"; cat "$WORK/stderr"; exit 1; }
}
