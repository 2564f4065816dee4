#!/usr/bin/env bash
# Uploads an image to bitonal with curl, waits until it is processed, downloads the result and
# checks it is a PNG of the same size. Prints the id and the timings; exits non-zero, with the
# reason, on any failure.
#
#   scripts/test_upload.sh [FILE] [BASE_URL]
#
# FILE defaults to a small generated PNG; BASE_URL to http://127.0.0.1:3000. API_TOKEN is
# sent as a bearer token when set; TIMEOUT_S (default 60) bounds the wait. Needs only curl
# and coreutils.
set -euo pipefail

file="${1:-}"
base="${2:-http://127.0.0.1:3000}"
base="${base%/}"
timeout_s="${TIMEOUT_S:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "test_upload: $*" >&2
  exit 1
}
now_ms() { date +%s%3N; }

# One top-level field of the API's JSON: a string or a number. sed rather than jq, so that
# curl and coreutils are all it needs (the API's fields hold no escaped quotes).
json_field() {
  sed -n "s/.*\"$1\":\(\"\([^\"]*\)\"\|\([0-9.-]*\)\).*/\2\3/p" | head -n 1
}

# "WIDTH HEIGHT" of a PNG file, or failure when it has no PNG signature.
png_size() {
  [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = "89504e470d0a1a0a" ] || return 1
  od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'
}

if [ -z "$file" ]; then
  file="$work/sample.png"
  # A 24 x 16 grey ramp.
  base64 -d >"$file" <<<'iVBORw0KGgoAAAANSUhEUgAAABgAAAAQCAAAAAApT+BJAAAAJ0lEQVR42mNg4BZT1DF38o1Izqts6Z+1dMPuYxfvPP/0l2FUYiAkADFvvcGMR6H7AAAAAElFTkSuQmCC'
fi
[ -r "$file" ] || fail "cannot read $file"

auth=()
if [ -n "${API_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $API_TOKEN"); fi

started=$(now_ms)
response=$(curl -sS -w '\n%{http_code}' "${auth[@]}" -F "image=@$file" "$base/api/images") ||
  fail "cannot reach $base"
code=$(tail -n 1 <<<"$response")
body=$(sed '$d' <<<"$response")
if [ "$code" != 202 ]; then
  fail "upload refused with HTTP $code: $(json_field detail <<<"$body")"
fi
id=$(json_field id <<<"$body")
[ -n "$id" ] || fail "the 202 answer had no id: $body"
uploaded=$(now_ms)

deadline=$((SECONDS + timeout_s))
while :; do
  status_body=$(curl -sS "$base/api/images/$id") || fail "cannot read the status of $id"
  status=$(json_field status <<<"$status_body")
  case "$status" in
    done) break ;;
    failed) fail "image $id failed: $(sed -n 's/.*"message":"\([^"]*\)".*/\1/p' <<<"$status_body")" ;;
    queued) ;;
    *) fail "unexpected status for $id: $status_body" ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || fail "image $id not done within ${timeout_s} s"
  sleep 0.2
done
processed=$(now_ms)

code=$(curl -sS -o "$work/processed.png" -w '%{http_code}' "$base/api/images/$id/processed") ||
  fail "cannot download the result of $id"
[ "$code" = 200 ] || fail "downloading the result of $id answered HTTP $code"
downloaded=$(now_ms)

size=$(png_size "$work/processed.png") || fail "the result of $id is not a PNG"
expected="$(json_field width <<<"$status_body") $(json_field height <<<"$status_body")"
[ "$size" = "$expected" ] || fail "the result of $id is ${size/ /x}, the status says ${expected/ /x}"
if input_size=$(png_size "$file"); then
  [ "$size" = "$input_size" ] || fail "the result of $id is ${size/ /x}, the upload was ${input_size/ /x}"
fi

echo "id         $id"
echo "size       ${size/ /x}, $(wc -c <"$work/processed.png") bytes"
echo "upload     $((uploaded - started)) ms"
echo "processing $((processed - uploaded)) ms"
echo "download   $((downloaded - processed)) ms"
echo "total      $((downloaded - started)) ms"
