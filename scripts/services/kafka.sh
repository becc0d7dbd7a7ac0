#!/usr/bin/env bash
# A real Apache Kafka (KRaft: broker and controller in one process, no ZooKeeper)
# on loopback, for development and tests.
#
# Usage: scripts/services/kafka.sh up|down|status|bootstrap|clean
#   up         fetch the broker from Maven Central if not cached, format storage
#              if new, start it, and wait (bounded) until it answers a metadata
#              request listing itself. Idempotent: returns at once when running.
#              Fails (exit 1) with the log tail when the broker does not come up.
#   down       stop the broker started by `up` (TERM, then KILL after 30 s). Idempotent.
#   status     print "running <pid> <bootstrap>" (exit 0) or "stopped" (exit 3).
#   bootstrap  print the bootstrap address (127.0.0.1:29092).
#   clean      down, then delete the state directory (topics, offsets, logs).
#
# Environment:
#   DANESWEEP_KAFKA_CACHE  jars, keyed by the pom's hash (default /var/cache/danesweep-kafka)
#   DANESWEEP_KAFKA_STATE  data, logs, pid (default /var/tmp/danesweep-kafka)
#   DANESWEEP_KAFKA_PORT / DANESWEEP_KAFKA_CONTROLLER_PORT (default 29092 / 29093)
#   DANESWEEP_KAFKA_HEAP   JVM max heap (default 512m)
#   DANESWEEP_KAFKA_WAIT   seconds `up` waits for readiness (default 90)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
conf_dir="$here/kafka"
cache_root="${DANESWEEP_KAFKA_CACHE:-/var/cache/danesweep-kafka}"
state_dir="${DANESWEEP_KAFKA_STATE:-/var/tmp/danesweep-kafka}"
port="${DANESWEEP_KAFKA_PORT:-29092}"
controller_port="${DANESWEEP_KAFKA_CONTROLLER_PORT:-29093}"
heap="${DANESWEEP_KAFKA_HEAP:-512m}"
wait_s="${DANESWEEP_KAFKA_WAIT:-90}"
host=127.0.0.1
pid_file="$state_dir/kafka.pid"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

need_tools() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  fi
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "Kafka 4 needs Java 17 or later; found '${major:-unknown}'"
}

# The jar directory for the current pom (a changed pom fetches into a new one).
libs_dir() {
  local key
  key="$(sha256sum "$conf_dir/pom.xml" | cut -c1-16)"
  printf '%s/%s/libs' "$cache_root" "$key"
}

fetch() {
  local libs
  libs="$(libs_dir)"
  [ -f "$libs/.complete" ] && return 0
  log "fetching Apache Kafka from Maven Central into $libs"
  rm -rf "$libs.tmp"
  mkdir -p "$libs.tmp"
  if ! mvn -B -q -f "$conf_dir/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs.tmp" >"$cache_root/mvn.log" 2>&1; then
    tail -n 40 "$cache_root/mvn.log" >&2
    die "mvn dependency:copy-dependencies failed (full log: $cache_root/mvn.log)"
  fi
  ls "$libs.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "no kafka_2.13 jar after the fetch"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  touch "$libs/.complete"
}

running_pid() {
  [ -f "$pid_file" ] || return 1
  local pid
  pid="$(cat "$pid_file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka\.Kafka' "/proc/$pid/cmdline" 2>/dev/null || return 1
  printf '%s' "$pid"
}

# A Metadata v4 request for no topics, sent over bash's /dev/tcp; ready when
# the answer carries our correlation id and lists at least one broker (the
# broker is registered and unfenced, so clients can produce and consume).
# Request: size, api_key 3, api_version 4, correlation_id 0x2a,
# client_id "kafka.sh", topics [] (int32 0), allow_auto_topic_creation false.
metadata_ready() {
  local hex
  hex="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x00\x00\x00\x17\x00\x03\x00\x04\x00\x00\x00\x2a\x00\x08kafka.sh\x00\x00\x00\x00\x00" >&3
    head -c 20 <&3 | od -An -tx1 -v
  ' "$host" "$port" 2>/dev/null | tr -d ' \n')" || return 1
  # bytes: 0-3 size, 4-7 correlation id, 8-11 throttle, 12-15 broker count
  [ "${hex:8:8}" = "0000002a" ] || return 1
  [ "${#hex}" -ge 32 ] && [ $((16#${hex:24:8})) -ge 1 ]
}

render_config() {
  mkdir -p "$state_dir/data" "$state_dir/logs"
  sed -e "s|@STATE_DIR@|$state_dir|g" -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" \
    "$conf_dir/server.properties.in" >"$state_dir/server.properties"
  cp "$conf_dir/log4j2.xml" "$state_dir/log4j2.xml"
}

java_opts() {
  printf '%s\n' "-Xms128m" "-Xmx$heap" "-XX:+UseG1GC" "-XX:MaxGCPauseMillis=20" \
    "-XX:+ExitOnOutOfMemoryError" "-Djava.awt.headless=true" \
    "-Dkafka.logs.dir=$state_dir/logs" "-Dlog4j2.configurationFile=$state_dir/log4j2.xml"
}

format_storage() {
  local libs="$1"
  [ -f "$state_dir/data/meta.properties" ] && return 0
  local cluster_id
  cluster_id="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  [ -n "$cluster_id" ] || die "StorageTool random-uuid printed nothing"
  log "formatting storage in $state_dir/data (cluster $cluster_id)"
  mapfile -t opts < <(java_opts)
  java "${opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$state_dir/server.properties" >"$state_dir/logs/format.log" 2>&1 ||
    { cat "$state_dir/logs/format.log" >&2; die "kafka.tools.StorageTool format failed"; }
}

up() {
  if running_pid >/dev/null && metadata_ready; then return 0; fi
  if ! running_pid >/dev/null && metadata_ready; then
    log "something already answers on $host:$port (not started by this script); using it"
    return 0
  fi
  need_tools
  mkdir -p "$cache_root" "$state_dir"
  fetch
  local libs pid
  libs="$(libs_dir)"
  if ! pid="$(running_pid)"; then
    render_config
    format_storage "$libs"
    mapfile -t opts < <(java_opts)
    log "starting Kafka on $host:$port (controller $controller_port), state in $state_dir"
    setsid nohup java "${opts[@]}" -cp "$libs/*" kafka.Kafka "$state_dir/server.properties" \
      >"$state_dir/logs/kafka.out" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$pid_file"
  fi
  local deadline=$((SECONDS + wait_s))
  until metadata_ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$state_dir/logs/kafka.out" "$state_dir/logs/server.log" >&2 2>/dev/null || true
      rm -f "$pid_file"
      die "Kafka exited during start-up (logs in $state_dir/logs)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 40 "$state_dir/logs/server.log" >&2 2>/dev/null || true
      die "Kafka did not answer metadata requests on $host:$port within ${wait_s}s (pid $pid still running; logs in $state_dir/logs)"
    fi
    sleep 0.5
  done
  log "Kafka is up on $host:$port (pid $pid)"
}

down() {
  local pid
  pid="$(running_pid)" || { rm -f "$pid_file"; return 0; }
  log "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "Kafka did not stop within 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    if metadata_ready; then echo "running $pid $host:$port"; else echo "starting $pid $host:$port"; fi
    return 0
  fi
  echo "stopped"
  return 3
}

# up/down/clean take a lock, so test files starting in parallel start one broker.
lock() {
  mkdir -p "$(dirname "$state_dir")"
  exec 9>"$state_dir.lock"
  flock -w 300 9 || die "could not lock $state_dir.lock within 300 s"
}

case "${1:-}" in
  up) lock; up ;;
  down) lock; down ;;
  status) status ;;
  bootstrap) echo "$host:$port" ;;
  clean) lock; down; rm -rf "$state_dir" ;;
  *) echo "usage: $0 up|down|status|bootstrap|clean" >&2; exit 2 ;;
esac
