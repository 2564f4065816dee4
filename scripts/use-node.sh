# Source this file (`source scripts/use-node.sh`): it puts Node.js >= 22 on PATH for the
# current shell. When the machine's node is older, Node 24 LTS is installed once from the
# npm registry's `node@24` package into the git-ignored .local/node and used from there.
# (Sourced, not executed, because a child process cannot change its parent's PATH.)

bitonal_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
bitonal_node_bin="$bitonal_root/.local/node/node_modules/.bin"

bitonal_node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(bitonal_node_major)" -lt 22 ]; then
  if [ ! -x "$bitonal_node_bin/node" ] || [ "$(bitonal_node_major "$bitonal_node_bin/node")" -lt 22 ]; then
    echo "use-node: machine node is $(node --version 2>/dev/null || echo missing); installing node@24 into .local/node" >&2
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$bitonal_root/.local/node" node@24 >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$bitonal_node_bin:$PATH"
fi
echo "use-node: $(command -v node) $(node --version)" >&2
unset -f bitonal_node_major
unset bitonal_root bitonal_node_bin
