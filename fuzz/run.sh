#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 60) on a seed corpus made
# from the recorded node streams.
#
#   fuzz/run.sh [seconds]
#
# Environment: CES_FUZZ_BUILD_DIR (default build-fuzz), CES_DATA_DIR (default: scripts/recordings-dir),
# CES_FUZZ_TARGETS (default: all, "sse_parser_fuzz classifier_fuzz http_request_fuzz model_parser_fuzz
# audit_cursor_fuzz sql_literal_fuzz"), CES_FUZZ_ARGS (extra libFuzzer flags).
# The corpus lives in a temporary directory (the recordings are only read): seeds made from the
# recordings below, plus the files of fuzz/seeds/<target>/; dictionaries are written below or taken from
# fuzz/dicts/. Crash reproducers are written to <build dir>/fuzz-artifacts/. Exit status is non-zero if
# a target found a problem.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CES_FUZZ_BUILD_DIR:-$root/build-fuzz}"
data="${CES_DATA_DIR:-$("$root/scripts/recordings-dir")}"
all_targets=(sse_parser_fuzz classifier_fuzz http_request_fuzz model_parser_fuzz audit_cursor_fuzz sql_literal_fuzz)
read -ra target_list <<< "${CES_FUZZ_TARGETS:-${all_targets[*]}}"

[[ -d "$data" ]] || { echo "recordings not found: $data" >&2; exit 2; }

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CXX="${CXX:-clang++}" cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCES_BUILD_FUZZ=ON -DCES_BUILD_TESTS=OFF -DCES_BUILD_BENCH=OFF
fi
cmake --build "$build" --target "${target_list[@]}"

work="$(mktemp -d "${TMPDIR:-/tmp}/ces-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

# Seeds for the SSE parser: every recording; large ones also cut into 16 KiB pieces (libFuzzer works
# best on small inputs, -max_len below).
for target in "${all_targets[@]}"; do
  mkdir -p "$work/$target"
  if [[ -d "$root/fuzz/seeds/$target" ]]; then cp "$root/fuzz/seeds/$target"/* "$work/$target/"; fi
done
n=0
while IFS= read -r -d '' file; do
  n=$((n + 1))
  cp "$file" "$work/sse_parser_fuzz/rec-$n"
  if [[ $(stat -c %s "$file") -gt 65536 ]]; then
    split -b 16384 -a 3 "$file" "$work/sse_parser_fuzz/rec-$n-part-"
  fi
done < <(find "$data/v1" "$data/v2" \( -name '*.stream' -o -path '*/raw/*' \) -type f -print0 | sort -z)

# payloads DIR FILE...: the single-event files and every `data:` payload of the given recordings into DIR.
payloads() {
  local dir=$1 version file n=0
  shift
  for version in v1 v2; do
    for file in "$data/$version"/events/*.json; do cp "$file" "$dir/$version-$(basename "$file")"; done
  done
  for file in "$@"; do
    n=$((n + 1))
    awk -v dir="$dir" -v n="$n" \
      'substr($0, 1, 5) == "data:" { f = sprintf("%s/payload-%d-%d", dir, n, NR); printf "%s", substr($0, 6) > f; close(f) }' \
      "$file"
  done
}
# Seeds for the classifier: the single events and the payloads of every recording.
mapfile -d '' -t recordings < <(find "$data/v1" "$data/v2" \( -name '*.stream' -o -path '*/raw/*' \) -type f -print0 | sort -z)
payloads "$work/classifier_fuzz" "${recordings[@]}"
# Seeds for the model parser: the single events and the payloads of the assembled streams (the raw
# captures only add hundreds of signatures of one shape), plus fuzz/seeds/model_parser_fuzz (RPC answers).
payloads "$work/model_parser_fuzz" "$data"/v1/*.stream "$data"/v2/*.stream

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

# Dictionaries: SSE field names and line ends; Casper JSON tokens; HTTP request tokens.
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

# The model parser's dictionary: the JSON tokens above and every key the recordings hold.
{
  cat "$work/json.dict"
  find "$data/v1" "$data/v2" -type f \( -name '*.json' -o -name '*.stream' \) -print0 |
    xargs -0 grep -ohE '"[A-Za-z_][A-Za-z0-9_]*":' | sort -u | sed 's/"/\\"/g; s/^/"/; s/$/"/'
} > "$work/model.dict"

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

read -ra extra_args <<< "${CES_FUZZ_ARGS:-}"
status=0
for target in "${target_list[@]}"; do
  case "$target" in
    classifier_fuzz) dict="$work/json.dict" ;;
    http_request_fuzz) dict="$work/http.dict" ;;
    model_parser_fuzz) dict="$work/model.dict" ;;
    audit_cursor_fuzz) dict="$root/fuzz/dicts/audit_cursor.dict" ;;
    sql_literal_fuzz) dict="$root/fuzz/dicts/sql_literal.dict" ;;
    *) dict="$work/sse.dict" ;;
  esac
  echo "== $target: ${seconds}s, $(find "$work/$target" -type f | wc -l) seeds"
  if ! "$build/fuzz/$target" "$work/$target" -dict="$dict" -max_total_time="$seconds" -max_len=65536 -timeout=20 \
      -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "${extra_args[@]}" \
      2>"$work/$target.log"; then
    status=1
    echo "!! $target failed; reproducer in $artifacts, log tail:"
  fi
  tail -n 25 "$work/$target.log"
done
exit "$status"
