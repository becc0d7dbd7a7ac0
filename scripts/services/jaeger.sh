#!/usr/bin/env bash
# Jaeger v2 (a trace backend: OTLP in, traces in memory, the query API /api/...;
# the UI's assets are not part of a module build, so / shows a placeholder) on
# loopback, for development and tests. Built from the Go module proxy: the
# module in scripts/services/jaeger pins github.com/jaegertracing/jaeger as a
# tool (go.mod, go.sum); nothing of Jaeger's is in this repository.
#
# Usage: scripts/services/jaeger.sh up|down|status|url|otlp|clean
#   up      build the binary if not cached, start Jaeger, and wait (bounded)
#           until its query API answers. Idempotent: returns at once when
#           running. Fails (exit 1) with the log tail when it does not come up.
#   down    stop the Jaeger started by `up` (TERM, then KILL after 10 s). Idempotent.
#   status  print "running <pid> <query url>" (exit 0) or "stopped" (exit 3).
#   url     print the query API's base URL (http://127.0.0.1:26686).
#   otlp    print the OTLP/HTTP endpoint for OTEL_EXPORTER_OTLP_ENDPOINT
#           (http://127.0.0.1:24318).
#   clean   down, then delete the state directory.
#
# Environment:
#   DANESWEEP_JAEGER_CACHE   built binaries, keyed by version and the module's
#                            hash (default /var/cache/danesweep-jaeger)
#   DANESWEEP_JAEGER_STATE   config, log, pid (default /var/tmp/danesweep-jaeger)
#   DANESWEEP_JAEGER_QUERY_PORT / DANESWEEP_JAEGER_OTLP_PORT  query HTTP and
#                            OTLP/HTTP ports (default 26686 / 24318; the gRPC
#                            ones are each minus one: 26685 / 24317)
#   DANESWEEP_JAEGER_MAX_TRACES  traces kept in memory (default 100000)
#   DANESWEEP_JAEGER_WAIT    seconds `up` waits for readiness (default 60)
# Go itself: the `go` on PATH or /usr/local/go/bin/go, else Debian's
# golang-go; GOTOOLCHAIN=auto fetches the toolchain go.mod asks for (also
# through the module proxy). The first build takes a few minutes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod_dir="$here/jaeger"
cache_root="${DANESWEEP_JAEGER_CACHE:-/var/cache/danesweep-jaeger}"
state_dir="${DANESWEEP_JAEGER_STATE:-/var/tmp/danesweep-jaeger}"
query_port="${DANESWEEP_JAEGER_QUERY_PORT:-26686}"
otlp_port="${DANESWEEP_JAEGER_OTLP_PORT:-24318}"
max_traces="${DANESWEEP_JAEGER_MAX_TRACES:-100000}"
wait_s="${DANESWEEP_JAEGER_WAIT:-60}"
host=127.0.0.1
pid_file="$state_dir/jaeger.pid"

log() { printf 'jaeger.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

version() { sed -n 's/^[[:space:]]*github.com\/jaegertracing\/jaeger \(v[^ ]*\).*/\1/p' "$mod_dir/go.mod" | head -1; }

# The binary for the current module (a changed go.mod or go.sum builds a new one).
bin_path() {
  local key
  key="$(cat "$mod_dir/go.mod" "$mod_dir/go.sum" | sha256sum | cut -c1-16)"
  printf '%s/%s-%s/jaeger' "$cache_root" "$(version)" "$key"
}

any_go() {
  if command -v go >/dev/null; then command -v go; return; fi
  if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return; fi
  log "installing golang-go"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >&2 || die "cannot install Go"
  command -v go
}

# A Go that builds go.mod's module: one that switches toolchains itself (1.21 or
# later, GOTOOLCHAIN=auto), else (Debian 12's golang-go is 1.19) the toolchain
# go.mod names, fetched as the module golang.org/toolchain from the proxy.
find_go() {
  local go minor want arch dir
  go="$(any_go)"
  minor="$("$go" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
  if [ -n "$minor" ] && [ "$minor" -ge 21 ]; then echo "$go"; return; fi
  want="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$mod_dir/go.mod")"
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) die "no Go toolchain for $(uname -m)" ;; esac
  log "Go $("$go" env GOVERSION) cannot switch toolchains; fetching go$want from the module proxy"
  dir="$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod "$go" mod download -json "golang.org/toolchain@v0.0.1-go$want.linux-$arch" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -x "$dir/bin/go" ] || die "no go binary in golang.org/toolchain@v0.0.1-go$want.linux-$arch"
  echo "$dir/bin/go"
}

build() {
  local bin dir go
  bin="$(bin_path)"
  dir="$(dirname "$bin")"
  [ -f "$dir/.complete" ] && [ -x "$bin" ] && return 0
  go="$(find_go)"
  mkdir -p "$cache_root"
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  log "building Jaeger $(version) from the Go module proxy into $dir (a few minutes, once)"
  if ! (cd "$mod_dir" && GOTOOLCHAIN=auto GOFLAGS=-mod=readonly "$go" build -trimpath \
    -o "$dir.tmp/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger) >"$dir.tmp/build.log" 2>&1; then
    tail -n 40 "$dir.tmp/build.log" >&2
    die "building Jaeger failed (log: $dir.tmp/build.log)"
  fi
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  touch "$dir/.complete"
}

running_pid() {
  [ -f "$pid_file" ] || return 1
  local pid
  pid="$(cat "$pid_file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q 'jaeger' "/proc/$pid/cmdline" 2>/dev/null || return 1
  printf '%s' "$pid"
}

# Ready when the query API lists services (a JSON object with "data").
query_ready() {
  local body
  body="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET /api/services HTTP/1.0\r\nHost: %s\r\n\r\n" "$0" >&3
    cat <&3
  ' "$host" "$query_port" 2>/dev/null)" || return 1
  [[ "$body" == "HTTP/1."*" 200 "* ]] && [[ "$body" == *'"data"'* ]]
}

render_config() {
  mkdir -p "$state_dir"
  sed -e "s|@MAX_TRACES@|$max_traces|g" \
    -e "s|@QUERY_PORT@|$query_port|g" -e "s|@QUERY_GRPC_PORT@|$((query_port - 1))|g" \
    -e "s|@OTLP_HTTP_PORT@|$otlp_port|g" -e "s|@OTLP_GRPC_PORT@|$((otlp_port - 1))|g" \
    "$mod_dir/config.yaml.in" >"$state_dir/config.yaml"
}

up() {
  if running_pid >/dev/null && query_ready; then return 0; fi
  if ! running_pid >/dev/null && query_ready; then
    log "something already answers on $host:$query_port (not started by this script); using it"
    return 0
  fi
  mkdir -p "$cache_root" "$state_dir"
  build
  local bin pid
  bin="$(bin_path)"
  if ! pid="$(running_pid)"; then
    render_config
    log "starting Jaeger (query $host:$query_port, OTLP/HTTP $host:$otlp_port), state in $state_dir"
    setsid nohup "$bin" --config="file:$state_dir/config.yaml" >"$state_dir/jaeger.log" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$pid_file"
  fi
  local deadline=$((SECONDS + wait_s))
  until query_ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$state_dir/jaeger.log" >&2 2>/dev/null || true
      rm -f "$pid_file"
      die "Jaeger exited during start-up (log: $state_dir/jaeger.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 40 "$state_dir/jaeger.log" >&2 2>/dev/null || true
      die "Jaeger's query API did not answer on $host:$query_port within ${wait_s}s (pid $pid still running)"
    fi
    sleep 0.3
  done
  log "Jaeger is up: query http://$host:$query_port, OTLP/HTTP http://$host:$otlp_port (pid $pid)"
}

down() {
  local pid
  pid="$(running_pid)" || { rm -f "$pid_file"; return 0; }
  log "stopping Jaeger (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "Jaeger did not stop within 10 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    if query_ready; then echo "running $pid http://$host:$query_port"; else echo "starting $pid http://$host:$query_port"; fi
    return 0
  fi
  echo "stopped"
  return 3
}

# up/down/clean take a lock, so test files starting in parallel start one Jaeger.
lock() {
  mkdir -p "$(dirname "$state_dir")"
  exec 9>"$state_dir.lock"
  flock -w 600 9 || die "could not lock $state_dir.lock within 600 s"
}

case "${1:-}" in
  up) lock; up ;;
  down) lock; down ;;
  status) status ;;
  url) echo "http://$host:$query_port" ;;
  otlp) echo "http://$host:$otlp_port" ;;
  clean) lock; down; rm -rf "$state_dir" ;;
  *) echo "usage: $0 up|down|status|url|otlp|clean" >&2; exit 2 ;;
esac
