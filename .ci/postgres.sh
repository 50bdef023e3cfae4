#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the database tests, installing
# Debian's package first if needed. Prints the admin URL on stdout; `stop` stops it.
#   url=$(bash .ci/postgres.sh start)   ...   bash .ci/postgres.sh stop
set -euo pipefail
PORT=${ENDPOINT_TEST_POSTGRES_PORT:-54329}
DATA=${ENDPOINT_TEST_POSTGRES_DATA:-/tmp/endpoint-ci-postgres}

pg_bin() {
  local version
  version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] && [ -x "/usr/lib/postgresql/$version/bin/initdb" ] && echo "/usr/lib/postgresql/$version/bin"
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

case "${1:-start}" in
  start)
    if [ -z "$(pg_bin)" ]; then
      echo "installing PostgreSQL from Debian's packages" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    fi
    BIN=$(pg_bin)
    if [ -f "$DATA/postmaster.pid" ]; then
      as_postgres "$BIN/pg_ctl -D $DATA stop -m fast" >&2 || true
    fi
    rm -rf "$DATA" && mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres "$DATA"
    as_postgres "$BIN/initdb -D $DATA -A trust -U postgres" >/dev/null
    as_postgres "$BIN/pg_ctl -D $DATA -l $DATA/server.log -o '-c listen_addresses=127.0.0.1 -p $PORT -k $DATA' start -w" >&2
    echo "postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    BIN=$(pg_bin)
    [ -n "$BIN" ] && [ -f "$DATA/postmaster.pid" ] && as_postgres "$BIN/pg_ctl -D $DATA stop -m fast" >&2
    rm -rf "$DATA"
    ;;
esac
