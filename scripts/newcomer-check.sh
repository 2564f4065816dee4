#!/usr/bin/env bash
# The README's quick start as a newcomer meets it: a fresh clone, the machine's own node first
# on PATH (Debian's is 20, too old to run the .ts files itself), README's quick-start block run
# exactly as written, one upload through curl that must come out done, then Ctrl-C, after which
# nothing of it may be left running. `.ci/run` calls this; so can anyone: scripts/newcomer-check.sh
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
started=$SECONDS
group=""
cleanup() {
  [ -n "$group" ] && kill -KILL -- "-$group" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "newcomer-check: $*" >&2
  [ -f "$work/start.log" ] && tail -n 40 "$work/start.log" >&2
  exit 1
}

# The block under "## Quick start", as a reader would copy it.
block="$(awk '/^## Quick start/ { inside = 1; next } inside && /^```sh/ { code = 1; next } code && /^```/ { exit } code' "$repo/README.md")"
[ "$block" = "npm install && npm start" ] || fail "README's quick start is no longer \`npm install && npm start\`: update this check"

git clone --quiet "$repo" "$work/bitonal"
cd "$work/bitonal"
# The machine's own node first, as a newcomer's shell has it.
[ -x /usr/bin/node ] && export PATH="/usr/bin:$PATH"
echo "newcomer-check: node on PATH is $(command -v node) $(node --version); running: $block"

# Its own process group, so that Ctrl-C reaches npm and everything under it, as in a terminal.
setsid bash -c "$block" >"$work/start.log" 2>&1 &
group=$!
for _ in $(seq 1 300); do
  grep -q "open http://" "$work/start.log" && break
  kill -0 "$group" 2>/dev/null || fail "the quick start exited before it was ready"
  sleep 1
done
url="$(grep -o 'open http://[^ ]*' "$work/start.log" | head -n 1 | cut -d' ' -f2)"
[ -n "$url" ] || fail "the quick start did not print its URL within 300 s"
echo "newcomer-check: ready at $url after $((SECONDS - started)) s"

TIMEOUT_S=60 "$work/bitonal/scripts/test_upload.sh" "" "$url" || fail "an upload through curl did not come out done"

kill -INT -- "-$group"
for _ in $(seq 1 60); do
  kill -0 "$group" 2>/dev/null || break
  sleep 1
done
kill -0 "$group" 2>/dev/null && fail "Ctrl-C did not stop the quick start within 60 s"
group=""
left="$(pgrep -f "$work/bitonal" || true)"
[ -z "$left" ] || fail "processes left running after Ctrl-C: $left"
echo "newcomer-check: quick start, upload and Ctrl-C fine in $((SECONDS - started)) s"
