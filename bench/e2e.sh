#!/usr/bin/env bash
# `make bench-e2e`: the end-to-end targets of issue 14 in one run, printed as one table (the layout of
# docs/benchmarks.md: what | command | result | machine), each row with its goal and met / not met.
#
#   [RUNS=N] [QUICK=1] [ONLY=LABEL,...] [BUILD_DIR=build] bench/e2e.sh
#
#   1. ingest to PostgreSQL, 1.x and 2.x mixes, from produce's start to the last row committed
#                                              bench/store_throughput.sh e2e
#   2. audit-consume -> audit store on the 1.x mix, with the bare-driver baseline of the same events
#                                              CES_BENCH_PROTOCOL=1 bench/audit_consume_bench.sh
#   3. peak and idle RSS of every service at full ingest, both mixes       bench/rss_bench.sh
#   4. consumers started before the topics exist: produce's first record -> first PostgreSQL row and
#      first audit event, at a live rate                                 bench/topic_discovery.sh
#      and at full ingest (the runs of 3)                                bench/rss_bench.sh
#   5. REST tail at 32 connections on a store of 1M blocks (filled once per invocation, then dropped)
#                                              bench/api_rest_bench.sh fill, then tail
#
# RUNS (default 3): every measurement that many times, interleaved; the table gives the median and each
# run's value. QUICK=1: a try-out in a few minutes (1 run, fewer events, a 50,000-block REST store, 5 s
# wrk runs); its figures are not comparable with the goals. BUILD_DIR (default build, configured as
# RelWithDebInfo when missing): casper-event-store and the bench/ tools are built there first and
# measured. CES_BENCH_REST_DB=NAME: use that already filled database (`bench/api_rest_bench.sh fill`)
# for 5 and keep it. ONLY: a subset of the measurements, by label: pg1 pg2 (1), audit1 (2), rss1 rss2 (3
# and 4 at full ingest), disc (4 at a live rate), rest (5). Logs of every run: the directory printed at
# the start (kept).
#
# Uses the running stack (scripts/stack env) or starts one on CES_PORT_BASE (default 36000) in
# .state/bench-e2e and stops it afterwards. Everything else it makes (databases in PostgreSQL and in the
# audit store, topics' consumers, temporary files) is removed by the scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target casper-event-store audit_insert_baseline mongo_drop_database >/dev/null
export CES_BENCH_BINARY=$build/casper-event-store
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_init bench-e2e 36000
disk() { df -h / | awk 'NR == 2 {print $3 " used, " $4 " free on /"}'; }
trap 'bench_cleanup; echo "after clean-up: $(disk); $(uptime)"' EXIT
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

runs=${RUNS:-3}
only=${ONLY:-}
failed=0
want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
quick=${QUICK:-0}
if [ "$quick" = 1 ]; then
  runs=1; pg1_events=10000; pg2_events=50000; audit_events=10000; audit_window=2
  rss1_events=10000; rss2_events=20000; idle_s=5; rest_blocks=50000; rest_duration=5s
else
  pg1_events=100000; pg2_events=400000; audit_events=100000; audit_window=10
  rss1_events=100000; rss2_events=200000; idle_s=20; rest_blocks=1000000; rest_duration=15s
fi
logs=$(mktemp -d /tmp/bench-e2e.XXXXXX)
res=$work/results
mkdir -p "$res"
load1() { cut -d' ' -f1 /proc/loadavg; }
fmt() { awk -v v="$1" 'BEGIN { if (v !~ /^[0-9.]+$/) { print v; exit }
  if (v != int(v)) { print v; exit } s = sprintf("%d", v); o = ""
  while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }

measure() {  # measure LABEL COMMAND...: one run; its `result KEY VALUE` lines appended to $res/LABEL.KEY
  local label=$1 log
  shift
  want "$label" || return 0
  log="$logs/$label.$run.log"
  load1 >>"$res/$label.load"
  printf '[e2e] run %d/%d %-8s ' "$run" "$runs" "$label"
  if "$@" >"$log" 2>&1; then
    awk -v dir="$res" -v label="$label" '$1 == "result" {print $3 >> (dir "/" label "." $2)}' "$log"
    grep '^result' "$log" | cut -d' ' -f2- | tr '\n' ' ' || true
    echo
  else
    echo "FAILED (log: $log)"
    failed=1
    tail -5 "$log" >&2
  fi
  load1 >>"$res/$label.load"
}

values() { [ -f "$res/$1.$2" ] && cat "$res/$1.$2"; }  # values LABEL KEY: one value per run
middle() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
median() { values "$1" "$2" | middle; }
maximum() { values "$1" "$2" | sort -g | tail -1; }
each() { values "$1" "$2" | while read -r v; do fmt "$v"; done | paste -sd/ | sed 's|/| / |g'; }
goal() {  # goal VALUE OP LIMIT -> met / not met
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { if (v !~ /^[0-9.]+$/) print "no figure";
    else if ((op == ">=" && v >= l) || (op == "<=" && v <= l) || (op == "<" && v < l)) print "met"; else print "**not met**" }'
}
machine() {  # machine LABEL...: "M1, load A–B" over the load samples of those measurements
  local l
  l=$(for label in "$@"; do cat "$res/$label.load" 2>/dev/null; done | sort -g | awk 'NR == 1 {a = $1} {b = $1} END {print a "–" b}')
  echo "M1, load $l"
}

echo "bench-e2e: RUNS=$runs QUICK=$quick, binary $bin, logs in $logs"
echo "before: $(disk); $(uptime)"
rest_db=${CES_BENCH_REST_DB:-}
if want rest && [ -z "$rest_db" ]; then
  rest_db="bench_e2e_rest_$(date +%s)"
  bench_dbs+=("$rest_db")
  echo "[e2e] filling the REST store: $rest_blocks blocks into $rest_db"
  BIN=$bin BLOCKS=$rest_blocks DB=$rest_db bench/api_rest_bench.sh fill >"$logs/rest-fill.log" 2>&1 ||
    { echo "REST store fill failed (log: $logs/rest-fill.log)" >&2; exit 1; }
fi
want rest && rest_size=$(psql -Atc "SELECT count(*) FROM blocks" "$(uri_with_db "$POSTGRES_URI" "$rest_db")")

for run in $(seq 1 "$runs"); do
  measure pg1 env CES_BENCH_PROTOCOL=1 bench/store_throughput.sh e2e "$pg1_events"
  measure pg2 env CES_BENCH_PROTOCOL=2 bench/store_throughput.sh e2e "$pg2_events"
  measure audit1 env CES_BENCH_PROTOCOL=1 bench/audit_consume_bench.sh "$audit_events" "$audit_window"
  measure rss1 bench/rss_bench.sh 1 "$rss1_events" "$idle_s"
  measure rss2 bench/rss_bench.sh 2 "$rss2_events" "$idle_s"
  measure disc bench/topic_discovery.sh 200
  measure rest env BIN="$bin" KEEP_DB=1 DB="$rest_db" DURATION="$rest_duration" PORT="$(free_port)" \
    bench/api_rest_bench.sh tail
done

# The rows: what | command | result | machine.
row() { printf '| %s | %s | %s | %s |\n' "$@"; }
rate_row() {  # rate_row LABEL MIX EVENTS GOAL COMMAND
  local m
  m=$(median "$1" pg_e2e)
  row "ingest → PostgreSQL, $2 mix, $(fmt "$3") events, produce's start → last row committed (goal ≥ $(fmt "$4") events/s)" \
    "\`$5\`" "**$(fmt "$m") events/s** ($(each "$1" pg_e2e)): $(goal "$m" '>=' "$4")" "$(machine "$1")"
}
services=(produce store audit api)
name() { case $1 in store) echo store-consume ;; audit) echo audit-consume ;; *) echo "$1" ;; esac; }
rss_row() {  # rss_row LABEL MIX peak|idle GOAL_MB EVENTS
  local s list="" worst=0 v
  for s in "${services[@]}"; do
    list+="$(name "$s") $(median "$1" "$3_$s"), "
    v=$(maximum "$1" "$3_$s"); [ "${v:-0}" -gt "$worst" ] && worst=$v
  done
  local what="peak RSS at full ingest"
  [ "$3" = idle ] && what="idle RSS ($idle_s s after the last event stored)"
  row "$what, $2 mix, every service (goal ≤ $4 MB)" "\`bench/rss_bench.sh ${1#rss} $5 $idle_s\`" \
    "${list%, } MB (medians); highest single run $worst MB: $(goal "$worst" '<=' "$4")" "$(machine "$1")"
}
first_row() {  # first_row KEY WHAT HOW COMMAND LABEL...
  local key=$1 what=$2 how=$3 command=$4 all m worst each_run="" label
  shift 4
  all=$(for label in "$@"; do cat "$res/$label.$key" 2>/dev/null; done | sort -g)
  m=$(middle <<< "$all")
  worst=$(tail -1 <<< "$all")
  for label in "$@"; do each_run+="$(each "$label" "$key") s; "; done
  row "consumers started before the topics exist, $how: produce's first record → $what (goal ≤ 2 s)" "$command" \
    "median **$m s**, at most $worst s (${each_run%; }): $(goal "${worst:--}" '<=' 2)" "$(machine "$@")"
}
rest_row() {  # rest_row KEY WHAT
  local p m
  p=$(median rest "$1_p99"); m=$(median rest "$1_max")
  local verdict="**not met**"
  if [ "$(goal "$p" '<' 20)" = met ] && [ "$(goal "$m" '<' 200)" = met ]; then verdict=met; fi
  row "\`$2\`, store of $(fmt "$rest_size") blocks, wrk -t2 -c32 $rest_duration (goal p99 < 20 ms, max < 200 ms)" \
    "\`bench/api_rest_bench.sh tail\`" \
    "**p99 $p ms, max $m ms** (p99 $(each rest "$1_p99"); max $(each rest "$1_max")); $(fmt "$(median rest "$1_rps")") req/s, $(median rest "$1_failed") failed: $verdict" \
    "$(machine rest)"
}

echo
echo "All targets, $(date -u '+%Y-%m-%d %H:%M') UTC, RUNS=$runs$([ "$quick" = 1 ] && echo ' QUICK=1'), binary $bin; medians (each run's value in parentheses)"
echo
echo "| what | command | result | machine |"
echo "|---|---|---|---|"
want pg1 && rate_row pg1 1.x "$pg1_events" 15000 "CES_BENCH_PROTOCOL=1 bench/store_throughput.sh e2e $pg1_events"
want pg2 && rate_row pg2 2.x "$pg2_events" 60000 "bench/store_throughput.sh e2e $pg2_events"
if want audit1; then
  # The whole drain, not the median window: on the 1.x mix the windows of signatures and of the large
  # DeployProcessed batches differ by 10x, so their median depends on where the windows fall.
  am=$(median audit1 audit_total)
  row "audit-consume → audit store (FerretDB), 1.x mix, $(fmt "$audit_events") events in Kafka first, from its start to the last event stored (goal ≥ 5,000 events/s)" \
    "\`CES_BENCH_PROTOCOL=1 bench/audit_consume_bench.sh $audit_events $audit_window\`" \
    "**$(fmt "$am") events/s** ($(each audit1 audit_total)); median $audit_window s window $(fmt "$(median audit1 audit_window)") events/s ($(each audit1 audit_window)): $(goal "$am" '>=' 5000)" \
    "$(machine audit1)"
  row "bare-driver baseline, same events and run: libmongoc insert_many of audit-consume's \`events\` documents / of payload-only documents" \
    "same run (\`audit_insert_baseline\`)" \
    "full $(fmt "$(median audit1 baseline_full)") documents/s ($(each audit1 baseline_full)); raw $(fmt "$(median audit1 baseline_raw)") documents/s ($(each audit1 baseline_raw))" \
    "$(machine audit1)"
fi
want rss1 && rss_row rss1 1.x peak 150 "$rss1_events"
want rss1 && rss_row rss1 1.x idle 30 "$rss1_events"
want rss2 && rss_row rss2 2.x peak 150 "$rss2_events"
want rss2 && rss_row rss2 2.x idle 30 "$rss2_events"
want disc && first_row first_row_s "first PostgreSQL row" "2.x mix at 200 events/s" "\`bench/topic_discovery.sh 200\`" disc
want disc && first_row first_audit_s "first audit event" "2.x mix at 200 events/s" "\`bench/topic_discovery.sh 200\`" disc
{ want rss1 || want rss2; } && first_row first_row_s "first PostgreSQL row" "at full ingest (1.x runs; 2.x runs)" "the runs of \`bench/rss_bench.sh\`" rss1 rss2
{ want rss1 || want rss2; } && first_row first_audit_s "first audit event" "at full ingest (1.x runs; 2.x runs)" "the runs of \`bench/rss_bench.sh\`" rss1 rss2
want rest && rest_row hash "GET /api/v1/blocks/{hash}"
want rest && rest_row page "GET /api/v1/blocks?size=10"
exit "$failed"  # 1 when a measurement failed (its rows show what the other runs gave)
