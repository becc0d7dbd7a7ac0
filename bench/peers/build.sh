#!/usr/bin/env bash
# Builds the peer tools the benchmarks measure danesweep against, from the Go
# module proxy, into a cache outside the repository (none of their code is in
# danesweep). Each tool is pinned to one release:
#   zdns    github.com/zmap/zdns/v2  v2.1.1   (bench/dns: a DNS lookup tool, the peer of the stub resolver)
#   zgrab2  github.com/zmap/zgrab2   v1.0.0   (bench/probe: its smtp module with --starttls, the peer of the prober)
#
# Usage: bench/peers/build.sh [zdns|zgrab2]...   (default: both)
#   Prints one line per tool, "<tool> <path of the binary>", on stdout. A tool
#   already built is not built again (the cache key is the tool and version).
#   Exit 1, with the build's output, when a module cannot be fetched or built.
#
# How: `go mod download` fetches the released module (the proxy serves the
# pinned versions, not the version lists `go install pkg@version` asks for),
# and the tool is built from a copy of it with its own go.mod and go.sum, so
# the dependencies are exactly the release's. Go itself: the `go` on PATH or
# /usr/local/go/bin/go, else Debian's golang-go; GOTOOLCHAIN=auto fetches the
# toolchain a module asks for (also through the module proxy).
#
# Environment: DANESWEEP_PEERS_CACHE (default /var/cache/danesweep-peers).
set -euo pipefail

cache="${DANESWEEP_PEERS_CACHE:-/var/cache/danesweep-peers}"
log() { printf 'peers/build.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# tool -> module, version, package inside the module
declare -A MODULE=([zdns]=github.com/zmap/zdns/v2 [zgrab2]=github.com/zmap/zgrab2)
declare -A VERSION=([zdns]=v2.1.1 [zgrab2]=v1.0.0)
declare -A PACKAGE=([zdns]=. [zgrab2]=./cmd/zgrab2)

find_go() {
  if command -v go >/dev/null; then command -v go; return; fi
  if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return; fi
  log "installing golang-go"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >&2 || die "cannot install Go"
  command -v go
}

build() {
  local tool="$1" mod="${MODULE[$1]}" ver="${VERSION[$1]}" pkg="${PACKAGE[$1]}"
  local dir="$cache/$tool-$ver"
  if [ -f "$dir/.complete" ] && [ -x "$dir/$tool" ]; then
    printf '%s %s\n' "$tool" "$dir/$tool"
    return 0
  fi
  local go src work
  go="$(find_go)"
  mkdir -p "$cache"
  log "fetching $mod@$ver from the Go module proxy"
  src="$(GOTOOLCHAIN=auto "$go" mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$src" ] && [ -d "$src" ] || die "go mod download $mod@$ver gave no source directory"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  log "building $tool $ver (a minute or two)"
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  if ! (cd "$work" && GOTOOLCHAIN=auto GOFLAGS=-mod=readonly "$go" build -trimpath -o "$dir.tmp/$tool" "$pkg") >"$dir.tmp/build.log" 2>&1; then
    tail -n 40 "$dir.tmp/build.log" >&2
    die "building $tool failed (log: $dir.tmp/build.log)"
  fi
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  touch "$dir/.complete"
  printf '%s %s\n' "$tool" "$dir/$tool"
}

tools=("$@")
[ "${#tools[@]}" -gt 0 ] || tools=(zdns zgrab2)
for t in "${tools[@]}"; do
  [ -n "${MODULE[$t]:-}" ] || die "unknown tool '$t' (zdns, zgrab2)"
  build "$t"
done
