#!/usr/bin/env bash
# Copyright 2026 the Reaper authors. MIT license.
#
# bench/h2load.sh: HTTP/2 throughput of Reaper's native engine against raw
# Deno.serve, with h2load from Debian's nghttp2-client, over TLS (ALPN h2)
# and h2c (prior knowledge).
#
# Usage (from anywhere): bash bench/h2load.sh
#
# For each mode, both servers (bench/servers/h2.ts) run at once pinned to
# core 0 and are warmed up; then ROUNDS rounds load each once with
# `h2load -n REQUESTS -c 16 -m 16` pinned to core 1, alternating which goes
# first. Prints one line a round (req/s and the server's CPU µs a request,
# read from /proc/PID/stat), then the median of the per-round ratios
# Reaper/raw. Needs bash, taskset, h2load and openssl (installed with
# apt-get when missing), python3, npx and two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-6}
REQUESTS=${REQUESTS:-60000}
for v in ROUNDS REQUESTS; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    printf 'Cannot run: %s must be a positive integer, received "%s"\n' "$v" "${!v}" >&2
    exit 2
  fi
done
missing=()
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if ((${#missing[@]})); then
  apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2
fi
export DENO_NO_UPDATE_CHECK=1
DENO=$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())' | tail -n 1)
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1

# start NAME KIND [CERT KEY]: a server on core 0; sets PID_NAME, PORT_NAME.
start() {
  local name=$1 port=""
  shift
  taskset -c 0 "$DENO" run --allow-net --allow-read bench/servers/h2.ts "$1" 0 "${@:2}" >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  printf -v "PID_$name" '%s' "$!"
  for _ in $(seq 300); do
    port=$(sed -n 's|^Listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$TMP/$name.log" | head -n 1)
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || { cat "$TMP/$name.log" >&2; exit 1; }
  printf -v "PORT_$name" '%s' "$port"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# load PID URL: prints "req_per_s cpu_us_per_request".
load() {
  local c0 c1 out
  c0=$(cpu_ticks "$1")
  out=$(taskset -c 1 h2load -n "$REQUESTS" -c 16 -m 16 "$2" 2>&1)
  c1=$(cpu_ticks "$1")
  awk -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n="$REQUESTS" '
    /^finished in/ { gsub(",", "", $4); rps = $4 }
    /^requests:/ { ok = $8 }
    END { if (ok != n) { print "h2load: " ok " of " n " succeeded" > "/dev/stderr"; exit 1 }
          printf "%d %.2f\n", rps, ticks * 1e6 / hz / n }' <<<"$out"
}

for mode in tls h2c; do
  if [[ $mode == tls ]]; then
    start RAW raw "$TMP/cert.pem" "$TMP/key.pem"
    start REAPER native "$TMP/cert.pem" "$TMP/key.pem"
    scheme=https
  else
    start RAW raw
    start REAPER native
    scheme=http
  fi
  raw_url="$scheme://127.0.0.1:$PORT_RAW/"
  reaper_url="$scheme://127.0.0.1:$PORT_REAPER/"
  load "$PID_RAW" "$raw_url" >/dev/null
  load "$PID_REAPER" "$reaper_url" >/dev/null
  printf '\n%s: h2load -n %s -c 16 -m 16, servers on core 0\nround | raw req/s | raw cpu µs/req | reaper req/s | reaper cpu µs/req\n' "$mode" "$REQUESTS"
  : >"$TMP/rounds"
  for round in $(seq "$ROUNDS"); do
    if ((round % 2)); then
      a=$(load "$PID_RAW" "$raw_url"); b=$(load "$PID_REAPER" "$reaper_url")
    else
      b=$(load "$PID_REAPER" "$reaper_url"); a=$(load "$PID_RAW" "$raw_url")
    fi
    echo "$a $b" | tee -a "$TMP/rounds" | awk -v r="$round" '{ printf "%5d | %9s | %14s | %12s | %17s\n", r, $1, $2, $3, $4 }'
  done
  python3 - "$TMP/rounds" "$mode" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
med = statistics.median
print("%s: Reaper/raw req/s %.3f, CPU µs/req %.3f (medians of the rounds' ratios)" % (
    sys.argv[2], med([r[2] / r[0] for r in rows]), med([r[3] / r[1] for r in rows])))
PY
  for pid in "$PID_RAW" "$PID_REAPER"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
done
