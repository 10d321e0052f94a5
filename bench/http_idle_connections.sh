#!/usr/bin/env bash
# The public API's HTTP server without databases: requests/s of a small JSON route (wrk, keep-alive)
# and resident memory with many idle connections and detached SSE streams.
#   bench/http_idle_connections.sh [BUILD_DIR] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
count=${2:-10000}
bin="$build/bench/http_idle_connections"
[ -x "$bin" ] || { echo "build $bin first: ninja -C $build http_idle_connections" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

coproc SERVER { "$bin" serve 2>/dev/null; }
read -r port <&"${SERVER[0]}"
wrk -t2 -c64 -d10s "http://127.0.0.1:$port/x" | sed -n '1,12p'
server_in=${SERVER[1]}
exec {server_in}>&-  # end of input: the server stops
wait "$SERVER_PID" 2>/dev/null || true

"$bin" idle "$count" 2>/dev/null
"$bin" idle "$count" stream 2>/dev/null
