#!/usr/bin/env bash
# A real PostgreSQL cluster of its own on loopback, for development and tests.
#
# Usage: scripts/services/postgres.sh up|down|status|url|clean
#   up      install Debian's postgresql package if missing, initdb a cluster in
#           the state directory if new (owned by the postgres user: initdb
#           refuses root), start it on 127.0.0.1:$port with trust auth on
#           loopback, wait until it accepts connections, and create the
#           database "danesweep". Idempotent: returns at once when running.
#           Fails (exit 1) with the log tail when the server does not come up.
#   down    stop the server started by `up` (pg_ctl stop -m fast). Idempotent.
#   status  print "running <url>" (exit 0) or "stopped" (exit 3).
#   url     print the connection URL (postgres://postgres@127.0.0.1:25432/danesweep).
#   clean   down, then delete the state directory.
#
# Environment:
#   DANESWEEP_PG_DIR   state directory: data/, log, socket (default /var/tmp/danesweep-pg)
#   DANESWEEP_PG_PORT  port (default 25432)
#   DANESWEEP_PG_WAIT  seconds `up` waits for readiness (default 60)
# The PostgreSQL major version is the newest installed under /usr/lib/postgresql.
set -euo pipefail

state_dir="${DANESWEEP_PG_DIR:-/var/tmp/danesweep-pg}"
port="${DANESWEEP_PG_PORT:-25432}"
wait_s="${DANESWEEP_PG_WAIT:-60}"
host=127.0.0.1
db=danesweep
data_dir="$state_dir/data"
log_file="$state_dir/postgres.log"
url="postgres://postgres@$host:$port/$db"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

bin_dir() {
  local v
  v="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -n | tail -1)"
  [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/initdb" ] || return 1
  printf '/usr/lib/postgresql/%s/bin' "$v"
}

ensure_installed() {
  if ! bin_dir >/dev/null; then
    log "installing postgresql"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    # The package starts its own cluster on 5432; ours is separate, leave it.
  fi
  bin_dir >/dev/null || die "no PostgreSQL binaries under /usr/lib/postgresql after install"
  id postgres >/dev/null 2>&1 || die "no postgres user after install"
}

# Run a command as the postgres user (as is when already that user).
as_pg() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

is_ready() {
  local bin
  bin="$(bin_dir)" || return 1
  "$bin/pg_isready" -q -h "$host" -p "$port" -d postgres -U postgres >/dev/null 2>&1
}

running() {
  local bin
  bin="$(bin_dir)" || return 1
  [ -f "$data_dir/PG_VERSION" ] || return 1
  as_pg "$bin/pg_ctl" -D "$data_dir" status >/dev/null 2>&1
}

init_cluster() {
  local bin="$1"
  mkdir -p "$state_dir"
  if [ "$(id -u)" = "0" ]; then chown postgres: "$state_dir"; fi
  if [ -f "$data_dir/PG_VERSION" ]; then
    local have want
    have="$(cat "$data_dir/PG_VERSION")"
    want="$(basename "$(dirname "$bin")")"
    [ "$have" = "$want" ] || die "cluster in $data_dir is version $have, binaries are $want: run '$0 clean'"
    return 0
  fi
  log "initdb in $data_dir"
  as_pg "$bin/initdb" -D "$data_dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null \
    || as_pg "$bin/initdb" -D "$data_dir" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
  # Loopback only, trust auth (a test cluster), our own socket directory.
  cat >"$data_dir/pg_hba.conf" <<EOF
local   all all                trust
host    all all 127.0.0.1/32   trust
host    all all ::1/128        trust
EOF
  cat >>"$data_dir/postgresql.conf" <<EOF
# danesweep test cluster
listen_addresses = '$host'
port = $port
unix_socket_directories = '$state_dir'
max_connections = 100
shared_buffers = 128MB
fsync = on
EOF
  if [ "$(id -u)" = "0" ]; then chown postgres: "$data_dir/pg_hba.conf" "$data_dir/postgresql.conf"; fi
}

up() {
  ensure_installed
  local bin
  bin="$(bin_dir)"
  if ! running; then
    init_cluster "$bin"
    if [ "$(id -u)" = "0" ]; then touch "$log_file" && chown postgres: "$log_file"; fi
    log "starting $("$bin/postgres" --version) on $host:$port"
    # The port is given on every start: it overrides the one postgresql.conf
    # got at initdb, so a cluster made under another port setting follows this one.
    as_pg "$bin/pg_ctl" -D "$data_dir" -l "$log_file" -o "-p $port" -w -t "$wait_s" start >/dev/null \
      || { tail -n 30 "$log_file" >&2 || true; die "server did not start"; }
  fi
  local deadline=$((SECONDS + wait_s))
  until is_ready; do
    [ "$SECONDS" -lt "$deadline" ] || { tail -n 30 "$log_file" >&2 || true; die "server not ready after ${wait_s}s"; }
    sleep 0.5
  done
  if ! "$bin/psql" -h "$host" -p "$port" -U postgres -d postgres -tAc "select 1 from pg_database where datname = '$db'" | grep -q 1; then
    "$bin/psql" -h "$host" -p "$port" -U postgres -d postgres -qc "create database $db" >/dev/null 2>&1 \
      || "$bin/psql" -h "$host" -p "$port" -U postgres -d postgres -tAc "select 1 from pg_database where datname = '$db'" | grep -q 1 \
      || die "could not create database $db"
  fi
  echo "$url"
}

down() {
  local bin
  bin="$(bin_dir)" || return 0
  if running; then
    as_pg "$bin/pg_ctl" -D "$data_dir" -m fast -w -t 60 stop >/dev/null
    log "stopped"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status)
    if running && is_ready; then echo "running $url"; else echo "stopped"; exit 3; fi
    ;;
  url) echo "$url" ;;
  clean)
    down
    rm -rf "$state_dir"
    ;;
  *)
    echo "usage: $0 up|down|status|url|clean" >&2
    exit 2
    ;;
esac
