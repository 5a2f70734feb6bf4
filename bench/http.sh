#!/usr/bin/env bash
# Copyright 2026 the Reaper authors. MIT license.
#
# bench/http.sh: hello-world throughput and tail latency of Reaper and its peers.
#
# Usage (from anywhere):  bash bench/http.sh
#
# Each server answers every request with a `Hello, World!` text response:
#   raw Deno.serve          bench/servers/deno_serve.ts
#   node:http in Deno       bench/servers/node_http.mjs run by Deno
#   Node http               bench/servers/node_http.mjs run by the system `node`
#   naive TS on Deno.listen bench/servers/naive_listen.ts (string split, Request)
#   public-API floor        bench/servers/floor_listen.ts, modes socket, api and
#                           bytes: the least work a Deno.listen server must do
#   Reaper portable         bench/servers/reaper.ts, engine "portable"
#   Reaper native           bench/servers/reaper.ts, engine "native"
# Both Reaper servers run with every timeout on (idleTimeout 65 s, headerTimeout
# 20 s, requestTimeout 60 s, tickInterval 1 s). Reaper is skipped, with a note,
# while mod.ts does not export `serve`.
#
# One server at a time is started pinned to core 0 (`taskset -c 0`) on
# 127.0.0.1, waited for until it answers, warmed up for WARMUP seconds, then
# loaded RUNS times with `wrk -t1 -cCONNS -dDURATIONs --latency` (keep-alive)
# pinned to core 1, then stopped. The script prints a markdown table: median
# req/s of the runs, its ratio to raw Deno.serve and the median of the runs' p99
# latency (from wrk's latency distribution). Progress goes to stderr, the table
# to stdout. With the defaults a run takes about 6 minutes.
#
# Environment:
#   DURATION  seconds per wrk run          (default 10)
#   RUNS      wrk runs per server          (default 3)
#   CONNS     wrk connections              (default 64)
#   WARMUP    seconds of unmeasured load   (default 2; 0 = none)
#   ONLY      run only the servers whose key matches this extended regex; keys:
#             deno_serve, deno_node_http, node_http, naive_listen, floor_socket,
#             floor_api, floor_bytes, reaper_portable, reaper_native (default: all)
#   INTERLEAVE  1 = start every server first, then take run 1 of each server,
#             run 2 of each, and so on, so that a change in background load
#             spreads over all servers; 0 = one server after the other
#             (default 0)
#
# Needs: bash, curl, taskset, wrk (installed with apt-get when missing), node,
# npx (Deno 2.9.6 is run as `npx -y deno@2.9.6`) and two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
CONNS=${CONNS:-64}
WARMUP=${WARMUP:-2}
ONLY=${ONLY:-.}
INTERLEAVE=${INTERLEAVE:-0}
export DENO_NO_UPDATE_CHECK=1

log() { printf '%s\n' "$*" >&2; }

for v in DURATION RUNS CONNS WARMUP INTERLEAVE; do
  if ! [[ ${!v} =~ ^[0-9]+$ ]] || { [[ $v != WARMUP && $v != INTERLEAVE ]] && ((${!v} == 0)); }; then
    log "Cannot run: $v must be a positive integer, received \"${!v}\""
    exit 2
  fi
done

if ! command -v wrk >/dev/null 2>&1; then
  log "Installing wrk"
  apt-get update -qq >&2 && apt-get install -y -qq wrk >&2
fi
# Resolve the Deno binary once, so that the server's pid is Deno's, not npx's.
DENO=$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())' | tail -n 1)
NODE=$(command -v node)

TMP=$(mktemp -d)
WRK_PID=""
declare -A PIDS=() PORTS=()

# load KEY SECONDS OUT [--latency]: wrk against server KEY, pinned to core 1.
# Runs in the background so that a signal's trap runs at once.
load() {
  local key=$1 seconds=$2 out=$3
  shift 3
  taskset -c 1 wrk -t1 -c"$CONNS" -d"${seconds}s" "$@" \
    "http://127.0.0.1:${PORTS[$key]}/" >"$out" 2>&1 &
  WRK_PID=$!
  local rc=0
  wait "$WRK_PID" || rc=$?
  WRK_PID=""
  return "$rc"
}

# stop_server KEY: SIGTERM, then SIGKILL after 3 s.
stop_server() {
  local pid=${PIDS[$1]:-}
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PIDS[$1]"
}
# shellcheck disable=SC2317 # called by the EXIT trap.
cleanup() {
  [[ -z $WRK_PID ]] || kill -KILL "$WRK_PID" 2>/dev/null || true
  local key
  for key in "${!PIDS[@]}"; do stop_server "$key"; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server KEY: starts CMD[KEY] on core 0 and waits until it answers;
# sets PIDS[KEY] and PORTS[KEY].
start_server() {
  local key=$1 logfile="$TMP/$1.log" port="" pid
  # shellcheck disable=SC2086 # CMD holds a command line with known words.
  taskset -c 0 ${CMD[$key]} >"$logfile" 2>&1 &
  pid=$!
  PIDS[$key]=$pid
  for _ in $(seq 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "  server exited: $(tail -n 5 "$logfile")"
      stop_server "$key"
      return 1
    fi
    if [[ -z $port ]]; then
      port=$(sed -n 's|.*Listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$logfile" | head -n 1)
    fi
    if [[ -n $port ]] &&
      [[ $(curl -s --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null) == "Hello, World!" ]]; then
      PORTS[$key]=$port
      return 0
    fi
    sleep 0.1
  done
  log "  server did not answer within 30 s: $(tail -n 5 "$logfile")"
  stop_server "$key"
  return 1
}

# to_ms VALUE: wrk's "123.45us" / "1.23ms" / "1.02s" / "1.50m" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n
  }'
}

# commas NUMBER: the number rounded, with thousands separators.
commas() {
  printf '%.0f' "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'
}

# median VALUES...: the middle value (the mean of the two middle ones if even).
median() {
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
    if (NR % 2) printf "%.2f", a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2
  }'
}

reaper_available() {
  [[ -f mod.ts ]] || return 1
  "$DENO" eval --quiet \
    'const m = await import("./mod.ts"); Deno.exit(typeof m.serve === "function" ? 0 : 1)' \
    >/dev/null 2>&1
}

KEYS=(deno_serve deno_node_http node_http naive_listen floor_socket floor_api floor_bytes reaper_portable reaper_native)
declare -A NAME CMD
# shellcheck disable=SC2016 # backticks are markdown here.
NAME[deno_serve]='raw `Deno.serve`'
NAME[deno_node_http]="\`node:http\` in Deno"
NAME[node_http]="Node $("$NODE" --version | tr -d v) \`http\`"
NAME[naive_listen]="naive TS HTTP/1.1 on \`Deno.listen\`"
NAME[floor_socket]="public-API floor: socket loop only"
NAME[floor_api]="public-API floor: + Request, response via \`body\`"
NAME[floor_bytes]="public-API floor: + Request, \`await res.bytes()\`"
NAME[reaper_portable]="Reaper \`engine: \"portable\"\`"
NAME[reaper_native]="Reaper \`engine: \"native\"\`"
CMD[deno_serve]="$DENO run --allow-net bench/servers/deno_serve.ts 0"
CMD[deno_node_http]="$DENO run --allow-net --allow-env bench/servers/node_http.mjs 0"
CMD[node_http]="$NODE bench/servers/node_http.mjs 0"
CMD[naive_listen]="$DENO run --allow-net bench/servers/naive_listen.ts 0"
CMD[floor_socket]="$DENO run --allow-net bench/servers/floor_listen.ts 0 socket"
CMD[floor_api]="$DENO run --allow-net bench/servers/floor_listen.ts 0 api"
CMD[floor_bytes]="$DENO run --allow-net bench/servers/floor_listen.ts 0 bytes"
CMD[reaper_portable]="$DENO run --allow-net bench/servers/reaper.ts 0 portable"
CMD[reaper_native]="$DENO run --allow-net bench/servers/reaper.ts 0 native"

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD_START" 'BEGIN { exit !(l > 0.5) }'; then
  log "Warning: load average is $LOAD_START before the first server starts; figures will be noisy"
fi

HAVE_REAPER=1
reaper_available || HAVE_REAPER=0

declare -A RPS P99 NOTE RPS_RUNS P99_RUNS
SELECTED=()
for key in "${KEYS[@]}"; do
  [[ $key =~ $ONLY ]] || continue
  if [[ $key == reaper_* ]] && ((HAVE_REAPER == 0)); then
    NOTE[$key]="skipped: mod.ts does not load or does not export serve yet"
    log "${NAME[$key]}: skipped (mod.ts does not load or does not export serve)"
    continue
  fi
  SELECTED+=("$key")
done

# begin KEY: starts server KEY and warms it up; fails if it does not start.
begin() {
  log "${NAME[$1]}: starting"
  if ! start_server "$1"; then
    NOTE[$1]="failed to start"
    return 1
  fi
  if ((WARMUP > 0)); then
    load "$1" "$WARMUP" /dev/null || true
  fi
}

# measure KEY RUN: one measured wrk run against server KEY.
measure() {
  local key=$1 run=$2 out="$TMP/$1.$2.wrk" r p err
  if ! load "$key" "$DURATION" "$out" --latency; then
    NOTE[$key]+=" run $run: wrk failed;"
    return 0
  fi
  r=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  p=$(awk '$1 == "99%" { print $2 }' "$out")
  RPS_RUNS[$key]+=" $r"
  P99_RUNS[$key]+=" $(to_ms "$p")"
  err=$(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' ' | sed 's/^ //' | paste -sd ';' - || true)
  [[ -z $err ]] || NOTE[$key]+=" run $run: $err;"
  log "  ${NAME[$key]}, run $run: $r req/s, p99 $p"
}

# finish KEY: stops server KEY and notes the engine a Reaper server chose.
finish() {
  local key=$1 engine
  engine=$(sed -n 's/^Engine: //p' "$TMP/$key.log" | head -n 1)
  stop_server "$key"
  if [[ $key == reaper_* && -n $engine && $key != "reaper_$engine" ]]; then
    NOTE[$key]+=" engine chosen: $engine;"
  fi
}

if ((INTERLEAVE)); then
  RUNNING=()
  for key in "${SELECTED[@]}"; do
    if begin "$key"; then RUNNING+=("$key"); fi
  done
  for run in $(seq "$RUNS"); do
    for key in "${RUNNING[@]}"; do measure "$key" "$run"; done
  done
  for key in "${RUNNING[@]}"; do finish "$key"; done
else
  for key in "${SELECTED[@]}"; do
    begin "$key" || continue
    for run in $(seq "$RUNS"); do measure "$key" "$run"; done
    finish "$key"
  done
fi

for key in "${SELECTED[@]}"; do
  NOTE[$key]=${NOTE[$key]:-}
  NOTE[$key]=${NOTE[$key]# }
  if [[ -n ${RPS_RUNS[$key]:-} ]]; then
    # shellcheck disable=SC2086 # word splitting wanted: a list of numbers.
    RPS[$key]=$(median ${RPS_RUNS[$key]})
    # shellcheck disable=SC2086
    P99[$key]=$(median ${P99_RUNS[$key]})
  fi
done

echo
echo "Hello world, keep-alive, \`wrk -t1 -c$CONNS -d${DURATION}s --latency\` on core 1," \
  "server on core 0, median of $RUNS runs$( ((INTERLEAVE)) && echo ", interleaved") ($(date -u '+%Y-%m-%d %H:%M UTC')," \
  "$("$DENO" --version | head -n 1 | cut -d" " -f1,2), Node $("$NODE" --version | tr -d v), $(nproc) cores," \
  "1-min load average $LOAD_START before the first server)"
echo
echo "| server | req/s (median of $RUNS) | × raw Deno.serve | p99 ms (median of $RUNS) |"
echo "|---|---:|---:|---:|"
base=${RPS[deno_serve]:-}
for key in "${KEYS[@]}"; do
  [[ $key =~ $ONLY ]] || continue
  if [[ -n ${RPS[$key]:-} ]]; then
    ratio="—"
    [[ -z $base ]] || ratio=$(awk -v a="${RPS[$key]}" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
    printf '| %s | %s | %s | %s |\n' "${NAME[$key]}" \
 "$(commas "${RPS[$key]}")" "$ratio" "${P99[$key]}"
  else
    printf '| %s | — | — | — |\n' "${NAME[$key]}"
  fi
done
notes=0
for key in "${KEYS[@]}"; do
  if [[ -n ${NOTE[$key]:-} ]]; then
    ((notes++ == 0)) && echo
    echo "- ${NAME[$key]}: ${NOTE[$key]}"
  fi
done
exit 0
