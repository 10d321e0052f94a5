#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 60) on a seed corpus made
# from the recorded node streams.
#
#   fuzz/run.sh [seconds]
#
# Environment: CES_FUZZ_BUILD_DIR (default build-fuzz), CES_DATA_DIR (default: scripts/recordings-dir),
# CES_FUZZ_TARGETS (default "sse_parser_fuzz classifier_fuzz http_request_fuzz"), CES_FUZZ_ARGS (extra
# libFuzzer flags).
# The corpus lives in a temporary directory (the recordings are only read); crash reproducers are
# written to <build dir>/fuzz-artifacts/. Exit status is non-zero if a target found a problem.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CES_FUZZ_BUILD_DIR:-$root/build-fuzz}"
data="${CES_DATA_DIR:-$("$root/scripts/recordings-dir")}"
targets="${CES_FUZZ_TARGETS:-sse_parser_fuzz classifier_fuzz http_request_fuzz}"

[[ -d "$data" ]] || { echo "recordings not found: $data" >&2; exit 2; }

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CXX="${CXX:-clang++}" cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCES_BUILD_FUZZ=ON -DCES_BUILD_TESTS=OFF -DCES_BUILD_BENCH=OFF
fi
# shellcheck disable=SC2086
cmake --build "$build" --target $targets

work="$(mktemp -d "${TMPDIR:-/tmp}/ces-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

# Seeds for the SSE parser: every recording; large ones also cut into 16 KiB pieces (libFuzzer works
# best on small inputs, -max_len below).
mkdir -p "$work/sse_parser_fuzz" "$work/classifier_fuzz" "$work/http_request_fuzz"
n=0
while IFS= read -r -d '' file; do
  n=$((n + 1))
  cp "$file" "$work/sse_parser_fuzz/rec-$n"
  if [[ $(stat -c %s "$file") -gt 65536 ]]; then
    split -b 16384 -a 3 "$file" "$work/sse_parser_fuzz/rec-$n-part-"
  fi
done < <(find "$data/v1" "$data/v2" \( -name '*.stream' -o -path '*/raw/*' \) -type f -print0 | sort -z)

# Seeds for the classifier: the single-event files and every `data:` payload of the recordings.
for version in v1 v2; do
  for file in "$data/$version"/events/*.json; do cp "$file" "$work/classifier_fuzz/$version-$(basename "$file")"; done
done
n=0
while IFS= read -r -d '' file; do
  n=$((n + 1))
  awk -v dir="$work/classifier_fuzz" -v n="$n" \
    'substr($0, 1, 5) == "data:" { f = sprintf("%s/payload-%d-%d", dir, n, NR); printf "%s", substr($0, 6) > f; close(f) }' \
    "$file"
done < <(find "$data/v1" "$data/v2" \( -name '*.stream' -o -path '*/raw/*' \) -type f -print0 | sort -z)

# Seeds for the HTTP request parser: requests as the api's clients send them (pipelined, with a body,
# HTTP/1.0, 100-continue, bare LF line ends).
printf 'GET /api/v1/blocks?page=1&size=10 HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip, deflate\r\n\r\n' \
  > "$work/http_request_fuzz/get"
printf 'GET /events/main?start_from=0 HTTP/1.1\r\nHost: a\r\nLast-Event-ID: 7\r\nIf-None-Match: W/"x", "y"\r\n\r\nHEAD /healthz HTTP/1.1\r\n\r\n' \
  > "$work/http_request_fuzz/pipelined"
printf 'POST /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nhello' \
  > "$work/http_request_fuzz/post"
printf 'GET /block/%%2Fx%%zz+y HTTP/1.0\nConnection: keep-alive\nOrigin: https://a.example\n\n' \
  > "$work/http_request_fuzz/http10"
printf 'OPTIONS * HTTP/1.1\r\nAccess-Control-Request-Method: GET\r\nX: 1\r\nx: 2\r\n\r\n' \
  > "$work/http_request_fuzz/options"

# Dictionaries: SSE field names and line ends; Casper JSON keys; HTTP request tokens.
cat > "$work/sse.dict" <<'EOF'
"data:"
"id:"
"event:"
"retry:"
"data"
":"
"\x0d\x0a"
"\x0d"
"\x0a\x0a"
"\x0d\x0a\x0d\x0a"
"\x0d\x0d"
"\x00"
"\"Shutdown\""
"{\"ApiVersion\":\"2.0.0\"}"
EOF
cat > "$work/json.dict" <<'EOF'
"\"Shutdown\""
"\"ApiVersion\""
"\"BlockAdded\""
"\"FinalitySignature\""
"\"TransactionAccepted\""
"\"DeployProcessed\""
"\"2.0.0\""
"\\u0000"
"\\ud800"
"18446744073709551616"
"1e400"
"-0"
"{}"
"[]"
"null"
EOF

cat > "$work/http.dict" <<'EOF'
"GET "
"HEAD "
"POST "
"OPTIONS "
" HTTP/1.1"
" HTTP/1.0"
"HTTP/2"
"\x0d\x0a"
"\x0d\x0a\x0d\x0a"
"\x0a\x0a"
"Content-Length: "
"Transfer-Encoding: chunked"
"Connection: close"
"Connection: keep-alive"
"Expect: 100-continue"
"Accept-Encoding: "
"gzip;q=0"
"If-None-Match: "
"%2F"
"%"
"?"
"&"
"="
"+"
":"
"18446744073709551616"
EOF

status=0
for target in $targets; do
  dict="$work/sse.dict"
  [[ "$target" == classifier_fuzz ]] && dict="$work/json.dict"
  [[ "$target" == http_request_fuzz ]] && dict="$work/http.dict"
  echo "== $target: ${seconds}s, $(find "$work/$target" -type f | wc -l) seeds"
  # shellcheck disable=SC2086
  if ! "$build/fuzz/$target" "$work/$target" -dict="$dict" -max_total_time="$seconds" -max_len=65536 -timeout=20 \
      -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$artifacts/$target-" ${CES_FUZZ_ARGS:-} \
      2>"$work/$target.log"; then
    status=1
    echo "!! $target failed; reproducer in $artifacts, log tail:"
  fi
  tail -n 25 "$work/$target.log"
done
exit "$status"
