# Source me: puts the project's Node 24 and pnpm first on PATH.
_ds_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$_ds_root/.tools/bin:$_ds_root/node_modules/.bin:$PATH"
unset _ds_root
