#!/usr/bin/env bash
# A real cluster on loopback: N showcase instances (default 3) on one PostgreSQL and one Redis,
# behind HAProxy with health checks on /readyz. Everything listens on 127.0.0.1 only; the
# packages (postgresql, redis-server, haproxy) are installed from Debian's archive if missing.
#
#   bash examples/cluster/cluster.sh start [N]   build the showcase, start the servers, wait until HAProxy sees every instance up
#   bash examples/cluster/cluster.sh restart I   SIGTERM instance I, wait for it to exit, start it again, wait until it is up
#   bash examples/cluster/cluster.sh kill I      SIGKILL instance I (no drain: a crash)
#   bash examples/cluster/cluster.sh up I [VAR=value ...]   start instance I (again), with extra environment
#   bash examples/cluster/cluster.sh status      HAProxy's view of the instances
#   bash examples/cluster/cluster.sh stop        stop everything this script started
#
# HAProxy listens on 127.0.0.1:$CLUSTER_PORT (3300), instance I on 127.0.0.1:$((CLUSTER_PORT+I)),
# HAProxy's statistics on 127.0.0.1:$((CLUSTER_PORT+99))/stats; the script's own PostgreSQL and
# Redis, when it starts them, on $((CLUSTER_PORT+97)) and $((CLUSTER_PORT+98)). Tokens for the showcase are
# signed with $CLUSTER_JWT_SECRET:
#   ENDPOINT_JWT_SECRET=$CLUSTER_JWT_SECRET target/debug/examples/showcase token --user eve --role editor
#
# Environment: SHOWCASE (the showcase binary; default: `cargo build --example showcase`, or
# --release with CLUSTER_RELEASE=1), CLUSTER_DIR (/tmp/endpoint-cluster: logs, pid files, the
# HAProxy configuration), ENDPOINT_TEST_POSTGRES_URL / ENDPOINT_TEST_REDIS_URL (servers to use
# instead of starting throwaway ones with .ci/postgres.sh and .ci/redis.sh).
set -euo pipefail
# haproxy is in /usr/sbin, outside a user's PATH on Debian.
PATH=$PATH:/usr/sbin:/sbin
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PORT=${CLUSTER_PORT:-3300}
STATS_PORT=$((PORT + 99))
DIR=${CLUSTER_DIR:-/tmp/endpoint-cluster}
SECRET=${CLUSTER_JWT_SECRET:-cluster-secret-0123456789abcdef0123}
DATABASE=endpoint_cluster

log() { echo "cluster: $*" >&2; }

install() {
  local missing=()
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v curl >/dev/null || missing+=(curl)
  command -v psql >/dev/null || missing+=(postgresql-client)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from Debian's packages"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  fi
}

showcase() {
  if [ -n "${SHOWCASE:-}" ]; then echo "$SHOWCASE"; return; fi
  if [ "${CLUSTER_RELEASE:-}" = 1 ]; then
    (cd "$ROOT" && cargo build --release --example showcase >&2)
    echo "$ROOT/target/release/examples/showcase"
  else
    (cd "$ROOT" && cargo build --example showcase >&2)
    echo "$ROOT/target/debug/examples/showcase"
  fi
}

# HAProxy's status of instance I: UP, DOWN, MAINT, ... (empty when HAProxy does not answer).
state() {
  curl -fsS --max-time 1 "http://127.0.0.1:$STATS_PORT/stats;csv" 2>/dev/null |
    awk -F, -v s="s$1" '$1 == "showcase" && $2 == s { print $18 }'
}

wait_for_state() { # I STATE (exactly: `UP 1/2` is an instance on its way down)
  for _ in $(seq 1 150); do
    [ "$(state "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  log "instance $1 is not $2 in HAProxy after 15 s: $(state "$1"); its log:"
  tail -n 20 "$DIR/instance-$1.log" >&2 || true
  return 1
}

up() { # I [VAR=value ...]
  local i=$1; shift
  env "ENDPOINT_HOST=127.0.0.1" "ENDPOINT_PORT=$((PORT + i))" \
    "ENDPOINT_DATABASE_URL=$(cat "$DIR/database-url")" "ENDPOINT_REDIS_URL=$(cat "$DIR/redis-url")" \
    "ENDPOINT_JWT_SECRET=$SECRET" "ENDPOINT_TRUSTED_PROXIES=127.0.0.1" \
    "ENDPOINT_DRAIN_DELAY=1s" "ENDPOINT_SHUTDOWN_GRACE=10s" "ENDPOINT_REQUEST_TIMEOUT=5s" \
    "ENDPOINT_OUTBOX_POLL=1s" "RUST_LOG=${RUST_LOG:-warn}" "$@" \
    "$(cat "$DIR/showcase")" >>"$DIR/instance-$i.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$DIR/instance-$i.pid"
  # Its own /readyz first (HAProxy may still call a previous process UP), then HAProxy's.
  for _ in $(seq 1 150); do
    if ! alive "$pid"; then
      log "instance $i exited at start; its log:"
      tail -n 20 "$DIR/instance-$i.log" >&2 || true
      return 1
    fi
    curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$((PORT + i))/readyz" 2>/dev/null && break
    sleep 0.1
  done
  wait_for_state "$i" UP
}

# Whether `pid` runs (a zombie, exited but not yet reaped by PID 1, does not).
alive() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true)
  [ -n "$state" ] && [ "$state" != Z ]
}

stop_instance() { # I SIGNAL
  local pid
  pid=$(cat "$DIR/instance-$1.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  # Only our showcase: a pid file outliving its process could name another one by now.
  case "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" in
    # (` (deleted)` follows when the binary was rebuilt meanwhile.)
    "$(readlink -f "$(cat "$DIR/showcase")")"*) kill "-$2" "$pid" 2>/dev/null || true ;;
  esac
  # Its parent is not this shell when `up` ran in another invocation: wait by polling.
  for _ in $(seq 1 200); do
    alive "$pid" || { rm -f "$DIR/instance-$1.pid"; return 0; }
    sleep 0.1
  done
  log "instance $1 (pid $pid) did not exit within 20 s"
  return 1
}

case "${1:-}" in
  start)
    n=${2:-3}
    install
    "$0" stop >/dev/null 2>&1 || true
    for port in "$PORT" "$STATS_PORT" $(seq $((PORT + 1)) $((PORT + n))); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        log "127.0.0.1:$port is in use (a cluster left running? \`CLUSTER_DIR=... $0 stop\`)"
        exit 1
      fi
    done
    mkdir -p "$DIR"
    showcase >"$DIR/showcase"
    admin=${ENDPOINT_TEST_POSTGRES_URL:-}
    # Servers of its own, on ports and in folders of its own (not the tests' 54329 and 63790).
    export ENDPOINT_TEST_POSTGRES_PORT=$((PORT + 97)) ENDPOINT_TEST_POSTGRES_DATA=$DIR/postgres
    export ENDPOINT_TEST_REDIS_PORT=$((PORT + 98)) ENDPOINT_TEST_REDIS_DIR=$DIR/redis
    if [ -z "$admin" ]; then admin=$(bash "$ROOT/.ci/postgres.sh" start); touch "$DIR/own-postgres"; fi
    redis=${ENDPOINT_TEST_REDIS_URL:-}
    if [ -z "$redis" ]; then redis=$(bash "$ROOT/.ci/redis.sh" start); touch "$DIR/own-redis"; fi
    echo "$redis" >"$DIR/redis-url"
    # A fresh database: the showcase's migrations and seed run once, on the first instance.
    base=${admin%/*}
    export PGOPTIONS=--client-min-messages=warning
    psql "$admin" -qc "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null
    psql "$admin" -qc "CREATE DATABASE $DATABASE" >/dev/null
    echo "$base/$DATABASE" >"$DIR/database-url"
    servers=""
    for i in $(seq 1 "$n"); do servers+="    server s$i 127.0.0.1:$((PORT + i)) check"$'\n'; done
    sed -e "s/@PORT@/$PORT/" -e "s/@STATS_PORT@/$STATS_PORT/" "$ROOT/examples/cluster/haproxy.cfg" |
      awk -v servers="$servers" '{ if ($0 == "@SERVERS@") printf "%s", servers; else print }' >"$DIR/haproxy.cfg"
    haproxy -c -q -f "$DIR/haproxy.cfg"
    haproxy -D -f "$DIR/haproxy.cfg" -p "$DIR/haproxy.pid"
    echo "$n" >"$DIR/instances"
    # One after another: the first applies the migrations and the seed, the others find them
    # applied.
    for i in $(seq 1 "$n"); do up "$i"; done
    log "$n instances behind http://127.0.0.1:$PORT (statistics: http://127.0.0.1:$STATS_PORT/stats)"
    ;;
  restart)
    stop_instance "$2" TERM
    up "$2"
    ;;
  kill)
    stop_instance "$2" KILL
    ;;
  up)
    shift
    up "$@"
    ;;
  status)
    for i in $(seq 1 "$(cat "$DIR/instances" 2>/dev/null || echo 0)"); do echo "s$i $(state "$i")"; done
    ;;
  stop)
    for i in $(seq 1 "$(cat "$DIR/instances" 2>/dev/null || echo 0)"); do
      stop_instance "$i" TERM || stop_instance "$i" KILL || true
    done
    [ -f "$DIR/haproxy.pid" ] && kill "$(cat "$DIR/haproxy.pid")" 2>/dev/null || true
    export ENDPOINT_TEST_POSTGRES_PORT=$((PORT + 97)) ENDPOINT_TEST_POSTGRES_DATA=$DIR/postgres
    export ENDPOINT_TEST_REDIS_PORT=$((PORT + 98)) ENDPOINT_TEST_REDIS_DIR=$DIR/redis
    [ -f "$DIR/own-postgres" ] && bash "$ROOT/.ci/postgres.sh" stop || true
    [ -f "$DIR/own-redis" ] && bash "$ROOT/.ci/redis.sh" stop || true
    rm -rf "$DIR"
    ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
