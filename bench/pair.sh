#!/usr/bin/env bash
# Copyright 2026 the Reaper authors. MIT license.
#
# bench/pair.sh: a paired comparison of two benchmark servers, for a noisy
# machine.
#
# Usage (from anywhere):
#   bash bench/pair.sh "A_ARGS" "B_ARGS"
#   bash bench/pair.sh "bench/servers/deno_serve.ts 0" "bench/servers/reaper.ts 0 portable"
#   bash bench/pair.sh "bench/servers/floor_listen.ts 0 api" "bench/servers/reaper.ts 0"
#
# Each ARGS is what follows `deno run --allow-net` (a server file of
# bench/servers and its arguments; the port must make it pick a free one,
# `0`). Both servers run at once pinned to core 0, each waited for until it
# prints `Listening on http://127.0.0.1:PORT/` and warmed up for 2 s. Then
# ROUNDS rounds each load A and B once, for DURATION seconds each, with
# `wrk -t1 -c64 --latency` pinned to core 1 (odd rounds A first, even rounds B
# first). Background load on a shared machine changes over seconds, so short
# runs side by side see nearly the same machine: the median of the per-round
# ratios B/A is far steadier than a ratio of two separate medians. Each server
# process also settles on its own (its JIT's choices): fresh pairs of
# processes still differ by up to ±10%. REPEAT (default 1) starts fresh
# processes that many times, ROUNDS rounds each, and reports the median of
# every round's ratio together with each repetition's.
#
# Per run it reads the server's CPU time from /proc/PID/stat, so besides
# requests/s it reports CPU microseconds a request (user + system), which
# does not depend on how busy wrk is. Prints one line a round, then the
# medians and the paired ratios. Needs bash, taskset, wrk (installed with
# apt-get when missing), python3, npx and two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

if (($# != 2)); then
  printf 'Usage: bash bench/pair.sh "A_ARGS" "B_ARGS"\n' >&2
  exit 2
fi
DURATION=${DURATION:-2}
ROUNDS=${ROUNDS:-10}
REPEAT=${REPEAT:-1}
for v in DURATION ROUNDS REPEAT; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    printf 'Cannot run: %s must be a positive integer, received "%s"\n' "$v" "${!v}" >&2
    exit 2
  fi
done
if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq >&2 && apt-get install -y -qq wrk >&2
fi
export DENO_NO_UPDATE_CHECK=1
DENO=$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())' | tail -n 1)
TMP=$(mktemp -d)
PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT

# start NAME ARGS: starts a server on core 0; sets PID_NAME and PORT_NAME.
start() {
  local name=$1 port=""
  # shellcheck disable=SC2086 # ARGS is a command line with known words.
  taskset -c 0 "$DENO" run --allow-net $2 >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  printf -v "PID_$name" '%s' "$!"
  for _ in $(seq 300); do
    port=$(sed -n 's|^Listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$TMP/$name.log" | head -n 1)
    [[ -n $port ]] && break
    sleep 0.1
  done
  if [[ -z $port ]]; then
    printf 'Server %s did not start:\n' "$name" >&2
    cat "$TMP/$name.log" >&2
    exit 1
  fi
  printf -v "PORT_$name" '%s' "$port"
  taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:$port/" >/dev/null
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run PID PORT: one wrk run; prints "cpu_us_per_request requests_per_s p99".
run() {
  local c0 c1 out
  c0=$(cpu_ticks "$1")
  out=$(taskset -c 1 wrk -t1 -c64 -d"${DURATION}s" --latency "http://127.0.0.1:$2/")
  c1=$(cpu_ticks "$1")
  awk -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '
    /requests in/ { n = $1 }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = $2 }
    END { printf "%.2f %d %s\n", ticks * 1e6 / hz / n, rps, p99 }' <<<"$out"
}

printf 'A: %s\nB: %s\n%s × %s rounds of %s s each, wrk -t1 -c64 on core 1, servers on core 0\n\n' \
  "$1" "$2" "$REPEAT" "$ROUNDS" "$DURATION"
printf 'rep round | A cpu µs/req | A req/s | A p99 | B cpu µs/req | B req/s | B p99\n'
for rep in $(seq "$REPEAT"); do
  start A "$1"
  start B "$2"
  for round in $(seq "$ROUNDS"); do
    if ((round % 2)); then
      a=$(run "$PID_A" "$PORT_A")
      b=$(run "$PID_B" "$PORT_B")
    else
      b=$(run "$PID_B" "$PORT_B")
      a=$(run "$PID_A" "$PORT_A")
    fi
    echo "$rep $round $a $b" | tee -a "$TMP/rounds" |
      awk '{ printf "%3d %5d | %12s | %7s | %5s | %12s | %7s | %5s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
  done
  stop_all
done
python3 - "$TMP/rounds" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
cpu_a = [float(r[2]) for r in rows]; rps_a = [float(r[3]) for r in rows]
cpu_b = [float(r[5]) for r in rows]; rps_b = [float(r[6]) for r in rows]
med = statistics.median
print()
reps = sorted({r[0] for r in rows}, key=int)
if len(reps) > 1:
    for rep in reps:
        pick = [i for i, r in enumerate(rows) if r[0] == rep]
        print("repetition %s: B/A req/s %.3f, B/A cpu µs/req %.3f" % (rep,
            med([rps_b[i] / rps_a[i] for i in pick]), med([cpu_b[i] / cpu_a[i] for i in pick])))
print("A: median %.2f cpu µs/req, %d req/s" % (med(cpu_a), med(rps_a)))
print("B: median %.2f cpu µs/req, %d req/s" % (med(cpu_b), med(rps_b)))
print("B/A req/s, median of the rounds' ratios: %.3f" % med([b / a for a, b in zip(rps_a, rps_b)]))
print("B/A cpu µs/req, median of the rounds' ratios: %.3f (B used less CPU a request in %d of %d rounds)" % (
    med([b / a for a, b in zip(cpu_a, cpu_b)]), sum(b < a for a, b in zip(cpu_a, cpu_b)), len(rows)))
PY
