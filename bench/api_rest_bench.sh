#!/usr/bin/env bash
# REST API benchmarks (issue 5 §5, docs/api-rest.md): a synthetic store of 1,000,000 blocks and
# 5,000,000 transactions, then wrk against `casper-event-store api`:
#   1. GET /api/v1/blocks?size=10            throughput at -c64 (target >= 10,000 req/s)
#   2. the same at ~2,000 req/s              p99 latency (target < 10 ms)
#   3. a deep page by cursor                 throughput, compared with page 1
#   4. GET /api/v1/blocks/{hash}             throughput on random hashes (target >= 15,000 req/s)
# Needs POSTGRES_URI (scripts/stack env) and wrk (apt-get install -y wrk). BLOCKS=N scales the store;
# KEEP_DB=1 reuses a filled database.
#
#   bench/api_rest_bench.sh [all|fill|tail]
# all (default): fill (unless KEEP_DB=1), then the four runs above. fill: only create and fill DB.
# tail (issue 14, target 5; DB already filled): p99 and max latency of GET /api/v1/blocks/{hash} (random
# hashes) and GET /api/v1/blocks?size=10 at 32 connections, wrk -t2 -c32 --latency, each DURATION; prints
# `result` lines (bench/lib.sh) with the p99/max in ms, the requests/s and the failed requests.
#
# Latency at a fixed rate: wrk2 is not in Debian, so bench/api_rate.lua paces each wrk connection
# (8 connections, each waiting 1/RATE s after every response: RATE=300 gives ~2,000 req/s here) and
# wrk --latency reports the percentiles of those paced requests.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
mode=${1:-all}
BIN=${BIN:-build-release/casper-event-store}
BLOCKS=${BLOCKS:-1000000}
DURATION=${DURATION:-15s}
DB=${DB:-ces_api_bench}
: "${POSTGRES_URI:?run: eval \"\$(scripts/stack env)\"}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
ADMIN_URI=$POSTGRES_URI
DB_URI=$(python3 - "$POSTGRES_URI" "$DB" <<'PY'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1]); print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], p.query, "")))
PY
)
if [[ "${KEEP_DB:-0}" != 1 || $mode == fill ]]; then
  psql "$ADMIN_URI" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  "$BIN" migrate --postgres "$DB_URI"
  start=$(date +%s)
  psql "$DB_URI" -q -v blocks="$BLOCKS" -f bench/api_fill.sql
  echo "filled $BLOCKS blocks in $(( $(date +%s) - start )) s"
fi
[ "$mode" != fill ] || exit 0
PORT=${PORT:-18480}
TMP=$(mktemp -d)
"$BIN" api --postgres "$DB_URI" --listen "127.0.0.1:$PORT" > "$TMP/api.log" 2>&1 &
API=$!
trap 'kill $API 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
URL="http://127.0.0.1:$PORT"
# A deep cursor: the keyset position of the block in the middle of the store.
MID=$(psql "$DB_URI" -Atc "SELECT to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS+00') || E'\x1f' || block_hash FROM blocks WHERE height = $BLOCKS / 2")
CURSOR=$(python3 -c "import base64,sys; print(base64.urlsafe_b64encode(('d\x1f' + sys.argv[1]).encode()).decode().rstrip('='))" "$MID")
psql "$DB_URI" -Atc "SELECT block_hash FROM blocks TABLESAMPLE SYSTEM (1) LIMIT 10000" > "$TMP/hashes.txt"
curl -sf "$URL/api/v1/blocks?size=10" >/dev/null  # warm the count cache and the pool
if [ "$mode" = tail ]; then
  tail_run() {  # tail_run KEY WRK_ARGS...: wrk -t2 -c32 --latency; result lines KEY_p99 / _max (ms), _rps, _failed
    local key=$1 out
    shift
    out=$(wrk -t2 -c32 -d"$DURATION" --latency "$@")
    echo "$out"
    awk -v key="$key" '
      function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000; return v * 1000 }
      $1 == "Latency" && NF >= 4 && !lat { lat = 1; max = ms($4) }
      $1 == "99%" { p99 = ms($2) }
      $1 == "Requests/sec:" { rps = $2 }
      /Non-2xx or 3xx responses:/ { failed += $NF }
      /Socket errors:/ { gsub(/,/, ""); failed += $4 + $6 + $8 + $10 }
      END { printf "result %s_p99 %.2f\nresult %s_max %.2f\nresult %s_rps %.0f\nresult %s_failed %d\n",
                   key, p99, key, max, key, rps, key, failed }' <<< "$out"
  }
  echo "== GET /api/v1/blocks/{hash}, 10,000 random hashes, -t2 -c32"
  HASHES=$TMP/hashes.txt tail_run hash -s bench/api_block_hash.lua "$URL"
  echo "== GET /api/v1/blocks?size=10, -t2 -c32"
  tail_run page "$URL/api/v1/blocks?size=10"
  exit 0
fi
echo "== 1. /api/v1/blocks?size=10, -t2 -c64"
wrk -t2 -c64 -d"$DURATION" --latency "$URL/api/v1/blocks?size=10"
echo "== 2. /api/v1/blocks?size=10 at ~2,000 req/s (8 paced connections; the achieved rate is printed)"
RATE=${RATE:-300} wrk -t2 -c8 -d"$DURATION" --latency -s bench/api_rate.lua "$URL/api/v1/blocks?size=10"
echo "== 3. deep cursor (after the middle of the store), -t2 -c64"
wrk -t2 -c64 -d"$DURATION" --latency "$URL/api/v1/blocks?size=10&after=$CURSOR"
echo "== 4. /api/v1/blocks/{hash} on 10,000 random hashes, -t2 -c64"
HASHES=$TMP/hashes.txt wrk -t2 -c64 -d"$DURATION" --latency -s bench/api_block_hash.lua "$URL"
