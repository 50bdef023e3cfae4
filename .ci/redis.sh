#!/usr/bin/env bash
# Starts a throwaway Redis server on 127.0.0.1 for the shared rate-limit tests, installing
# Debian's package first if needed. Prints its URL on stdout; `stop` stops it.
#   url=$(bash .ci/redis.sh start)   ...   bash .ci/redis.sh stop
set -euo pipefail
PORT=${ENDPOINT_TEST_REDIS_PORT:-63790}
DIR=${ENDPOINT_TEST_REDIS_DIR:-/tmp/endpoint-ci-redis}

case "${1:-start}" in
  start)
    if ! command -v redis-server >/dev/null; then
      echo "installing Redis from Debian's packages" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
    fi
    redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$DIR" && mkdir -p "$DIR"
    # No persistence: a test server that forgets everything when it stops.
    redis-server --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --save "" --appendonly no \
      --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >&2
    for _ in $(seq 1 50); do
      if [ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = PONG ]; then
        echo "redis://127.0.0.1:$PORT/0"
        exit 0
      fi
      sleep 0.1
    done
    echo "redis-server did not answer on 127.0.0.1:$PORT; its log:" >&2
    cat "$DIR/redis.log" >&2
    exit 1
    ;;
  stop)
    redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
esac
