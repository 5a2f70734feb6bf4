#!/usr/bin/env bash
# Copyright 2026 the Reaper authors. MIT license.
#
# Proof (b): slowhttptest (Debian's package) against raw Deno.serve and
# Reaper with the same handler (bench/proof/_server.ts): slow headers (-H),
# slow body (-B) and slow read (-X). While each attack runs, a probe client
# (curl) sends one request a second on a fresh connection and records
# whether it was answered with 200 within 1 s, and how fast.
#
# Reaper runs with headerTimeout 5 s, idleTimeout 10 s, requestTimeout 10 s
# and tickInterval 250 ms (REAPER_OPTS overrides them); raw Deno.serve has
# no timeout to set. The attacks send their next bytes every 3 s (-i 3, -n 3),
# so that no idle timer ever fires on a connection that keeps trickling:
# only headerTimeout (-H) and requestTimeout (-B, -X) can stop them.
#
# Printed per server and mode: the probe's per-second availability and
# latency, slowhttptest's own verdict (the "service available" column of its
# per-second statistics, and its closed/pending/connected counts at the end)
# and, for Reaper, its close reasons (onConnectionState) and stats().
#
# Pass (judged on Reaper only): the probe was answered every second, and
# Reaper closed at least 95% of the attack connections by one of its
# timeouts (headerTimeout, idle or requestTimeout). Raw Deno.serve's figures
# are reported, not judged.
#
#   bash bench/proof/slowhttptest.sh
#   DURATION=30 CONNS=500 SERVERS="reaper-native" MODES="H" bash bench/proof/slowhttptest.sh
#
# Bounded: CONNS (default 300) connections at RATE (default 150) a second,
# DURATION (default 20) seconds a test, 127.0.0.1 only; every process it
# starts is ended by the trap. Installs slowhttptest with apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-20}
CONNS=${CONNS:-300}
RATE=${RATE:-150}
SERVERS=${SERVERS:-"deno reaper-portable reaper-native"}
MODES=${MODES:-"H B X"}
REAPER_OPTS=${REAPER_OPTS:-'{"headerTimeout":5000,"idleTimeout":10000,"requestTimeout":10000,"tickInterval":250}'}
((DURATION >= 5 && DURATION <= 120)) || { echo "DURATION must be 5..120"; exit 2; }
((CONNS >= 1 && CONNS <= 2000)) || { echo "CONNS must be 1..2000"; exit 2; }

if ! command -v slowhttptest >/dev/null; then
  echo "slowhttptest is missing: installing Debian's package (apt-get install -y -qq slowhttptest)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slowhttptest >/dev/null
fi
command -v curl >/dev/null || { echo "curl is needed"; exit 2; }

DENO=$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())')
TMP=$(mktemp -d /tmp/reaper_slowhttp.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server KIND -> sets SERVER_PID and PORT
start_server() {
  local kind=$1 what engine=portable
  if [[ $kind == deno ]]; then what=deno; else what=reaper; engine=${kind#reaper-}; fi
  "$DENO" run --allow-net --allow-read bench/proof/_server.ts "$what" 0 "$engine" "$REAPER_OPTS" \
    >"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  PORT=""
  for _ in $(seq 1 300); do
    PORT=$(sed -n 's|^Listening on http://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$TMP/server.log" | head -1)
    [[ -n $PORT ]] && curl -s -m 1 "http://127.0.0.1:$PORT/" >/dev/null && return 0
    sleep 0.1
  done
  echo "server $kind did not start:"; cat "$TMP/server.log"; exit 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# probe SECONDS: one GET a second, "SECOND STATUS TIME_S" lines in probe.log
probe() {
  local seconds=$1 start i now next
  start=$(date +%s.%N)
  for ((i = 0; i < seconds; i++)); do
    echo "$i $(curl -s -o /dev/null -m 1 -w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT/" || true)" >>"$TMP/probe.log"
    next=$(echo "$start + $i + 1" | bc)
    now=$(date +%s.%N)
    (($(echo "$next > $now" | bc))) && sleep "$(echo "$next - $now" | bc)"
  done
}

JUDGED_FAIL=0
SUMMARY=()
echo "slowhttptest proof: $CONNS connections at $RATE/s, $DURATION s a test; Reaper options $REAPER_OPTS"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), shared with other work (latencies are noisy)"
for kind in $SERVERS; do
  for mode in $MODES; do
    start_server "$kind"
    : >"$TMP/probe.log"
    case $mode in
      H) args=(-H -i 3 -x 24 -u "http://127.0.0.1:$PORT/") ;;
      B) args=(-B -i 3 -x 24 -s 65536 -u "http://127.0.0.1:$PORT/") ;;
      X) args=(-X -w 512 -y 1024 -n 3 -z 32 -k 1 -u "http://127.0.0.1:$PORT/big") ;;
    esac
    probe $((DURATION + 2)) &
    probe_pid=$!
    PIDS+=("$probe_pid")
    timeout $((DURATION + 30)) slowhttptest "${args[@]}" -c "$CONNS" -r "$RATE" -p 3 -l "$DURATION" \
      -g -o "$TMP/sht" >"$TMP/sht.out" 2>&1 || true
    wait "$probe_pid" || true
    sleep 1
    stats=""
    if [[ $kind != deno ]]; then
      before=$(grep -c '^Stats ' "$TMP/server.log" || true)
      kill -USR2 "$SERVER_PID" 2>/dev/null || true
      for _ in $(seq 1 30); do
        (($(grep -c '^Stats ' "$TMP/server.log" || true) > before)) && break
        sleep 0.1
      done
      stats=$(grep '^Stats ' "$TMP/server.log" | tail -1 | cut -c7-)
    fi
    stop_server
    # The probe: seconds answered 200 within 1 s, latency.
    total=$(wc -l <"$TMP/probe.log")
    ok=$(awk '$2 == 200' "$TMP/probe.log" | wc -l)
    lat=$(awk '$2 == 200 { print $3 * 1000 }' "$TMP/probe.log" | sort -n |
      awk '{ a[NR] = $1 } END { if (NR) printf "p50 %.1f ms, max %.1f ms", a[int((NR + 1) / 2)], a[NR]; else printf "none" }')
    missed=$(awk '$2 != 200 { printf "%s%s(%s)", sep, $1, $2; sep = " " }' "$TMP/probe.log")
    # slowhttptest's statistics: seconds,closed,pending,connected,service available
    csv="$TMP/sht.csv"
    if [[ -f $csv ]]; then
      avail=$(awk -F, 'NR > 1 && $5 + 0 > 0' "$csv" | wc -l)
      rows=$(awk -F, 'NR > 1' "$csv" | wc -l)
      last=$(tail -1 "$csv" | awk -F, '{ printf "closed %s, pending %s, connected %s", $2, $3, $4 }')
      peak=$(awk -F, 'NR > 1 && $4 + 0 > m { m = $4 + 0 } END { print m + 0 }' "$csv")
    else
      avail="?"; rows="?"; last="no statistics file"; peak="?"
    fi
    sed 's/\x1b\[[0-9;]*m//g' "$TMP/sht.out" >"$TMP/sht.txt"
    verdict_line=$(grep -o 'service available: *[A-Z]*' "$TMP/sht.txt" | tail -1 | tr -s ' ' || true)
    exit_status=$(grep -o 'Exit status: .*' "$TMP/sht.txt" | tail -1 || true)
    echo
    echo "== $kind, slowhttptest -$mode"
    echo "probe: answered (200 within 1 s) $ok of $total seconds; $lat${missed:+; missed: $missed}"
    echo "slowhttptest: service available in $avail of $rows seconds; peak connected $peak; at the end: $last; last status '${verdict_line:-?}'; ${exit_status:-no exit status}"
    line="$kind -$mode: probe $ok/$total s"
    if [[ $kind != deno ]]; then
      reasons=$(awk '/^Closed / { n[$3]++ } END { for (r in n) printf "%s %d, ", r, n[r] }' "$TMP/server.log" | sed 's/, $//')
      reclaimed=$(awk '/^Closed / && ($3 == "headerTimeout" || $3 == "idle" || $3 == "requestTimeout") { n++ } END { print n + 0 }' "$TMP/server.log")
      echo "Reaper close reasons: ${reasons:-none}; closed by a timeout: $reclaimed of $CONNS attack connections"
      echo "Reaper stats(): $stats"
      if ((ok == total && reclaimed * 100 >= CONNS * 95)); then
        line+=", $reclaimed/$CONNS reclaimed by timeouts: pass"
      else
        line+=", $reclaimed/$CONNS reclaimed by timeouts: FAIL"
        JUDGED_FAIL=1
      fi
    else
      line+=", slowhttptest at the end: $last (not judged)"
    fi
    SUMMARY+=("$line")
  done
done
echo
echo "Summary:"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
rule="rule: on Reaper the probe is answered every second and >= 95% of the attack connections are closed by a timeout"
if ((JUDGED_FAIL)); then echo "FAIL slowhttptest: $rule"; exit 1; fi
echo "PASS slowhttptest: $rule"
