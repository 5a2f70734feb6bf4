#!/usr/bin/env bash
# Copyright 2026 the Reaper authors. MIT license.
#
# Proof (c): rolling restarts behind nginx lose no request.
#
# nginx (Debian's nginx-light, config in a temp dir, one worker) proxies to
# two backend slots, each a port on 127.0.0.1 shared with SO_REUSEPORT by
# Reaper processes (bench/proof/_server.ts, `reusePort: true`, run with
# --unstable-net): `upstream { server A; server B; keepalive 32; }`,
# `proxy_http_version 1.1; proxy_set_header Connection "";`, nginx's default
# retries (`proxy_next_upstream error timeout`, which never resends a POST
# that reached a backend). Under GET load (wrk, 8 connections) and POST load
# (bench/proof/_post_loop.ts, 4 keep-alive loops, 1 KiB bodies) it restarts
# the slots one at a time, ROUNDS times each:
#
#   phase "reuse-port": start the replacement on the slot's port, wait until
#   it listens, SIGTERM the old process, wait for it to exit (it drains:
#   listener closed, Connection: close, idle connections closed after
#   shutdownGrace);
#
#   phase "shutdown-delay" (SHUTDOWN_DELAY_MS, default 3000; 0 skips it):
#   SIGTERM the old process first, while nginx still sends to it (it goes on
#   accepting and serving for shutdownDelay, every answer with
#   Connection: close), then start the replacement, then wait for the old to
#   exit. The option is passed on only if this Reaper has it
#   (bench/proof/_server.ts checks DEFAULTS.shutdownDelay); otherwise the
#   phase is reported NOT RUN, never faked.
#
# Counted: wrk's non-2xx responses and socket errors, the POST loop's non-2xx
# and errors, and every non-2xx line in nginx's access log (502 = a request
# lost by a backend). Pass: zero failed requests in every phase that ran, on
# each Reaper engine (ENGINES, default "native portable raw"). "raw" is not
# one: it is the peer, raw Deno.serve calling server.shutdown() on SIGTERM
# (reuse-port phase only: it has no shutdownDelay); its figures are printed,
# not judged.
#
# The network stack (NETNS, default 1). When an SO_REUSEPORT listener
# closes, Linux resets the connections still waiting in its accept queue
# (handshake done, not yet accepted) unless net.ipv4.tcp_migrate_req is 1
# (Linux 5.14 and later), in which case it hands them to another listener of
# the group. A server that closes its own SO_REUSEPORT listener cannot take
# that window away: a connection can complete its handshake between the last
# accept() and the close() (only a listener that is never closed, handed to
# the successor, avoids it, and Deno cannot pass a socket on).
# So with NETNS=1 the script runs itself in a network namespace of its own
# (ip netns, needs root), with loopback up and tcp_migrate_req=1, as a
# deployment using reusePort would set it; the kernel's migration counters
# (nstat TcpExtTCPMigrateReqSuccess/Failure) are printed per phase. NETNS=0
# runs on the host's stack with its own setting, to show the difference.
#
#   bash bench/proof/rolling_restart.sh
#   ROUNDS=5 ENGINES=native SHUTDOWN_DELAY_MS=0 bash bench/proof/rolling_restart.sh
#   NETNS=0 ...      the host's network stack, tcp_migrate_req as it is
#   KEEP_TMP=1 ...   keeps nginx's and the backends' logs in the temp dir
#
# Bounded: 127.0.0.1 only (inside the namespace with NETNS=1); every wait has
# a deadline; the loads stop on their own after the planned time
# (3 + 2 x ROUNDS x STEP + 3 s) or when the restarts are done; the trap ends
# nginx, the loads and every backend, and removes the namespace.
set -euo pipefail
SCRIPT=$(realpath "$0")
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
STEP=${STEP:-4}
ENGINES=${ENGINES:-"native portable raw"}
NETNS=${NETNS:-1}
SHUTDOWN_DELAY_MS=${SHUTDOWN_DELAY_MS:-3000}
((ROUNDS >= 1 && ROUNDS <= 10)) || { echo "ROUNDS must be 1..10"; exit 2; }

need=()
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
if ((${#need[@]})); then
  echo "missing: ${need[*]}: installing Debian's packages (apt-get install -y -qq ${need[*]})"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

DENO=${REAPER_PROOF_DENO:-$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())')}

# NETNS=1: run this script again inside a network namespace of its own.
if [[ $NETNS == 1 && -z ${REAPER_PROOF_NETNS:-} ]]; then
  command -v ip >/dev/null || { echo "NETNS=1 needs iproute2's ip (or run with NETNS=0)"; exit 2; }
  [[ -e /proc/sys/net/ipv4/tcp_migrate_req ]] ||
    { echo "this kernel has no net.ipv4.tcp_migrate_req (Linux 5.14 and later): run with NETNS=0"; exit 2; }
  # Nothing is fetched inside the namespace: it has no route out.
  "$DENO" cache --quiet bench/proof/_server.ts bench/proof/_post_loop.ts
  ns="reaper_proof_$$"
  if ! ip netns add "$ns" 2>/dev/null; then
    echo "cannot create a network namespace (needs root): run with NETNS=0 for the host's stack"
    exit 2
  fi
  child=""
  # Whatever ends the run, nothing is left in the namespace, nor it.
  end_netns() {
    local pids
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n $pids ]] && kill -9 $pids 2>/dev/null
    ip netns delete "$ns" 2>/dev/null || true
  }
  trap end_netns EXIT
  # Passed on to the run inside, whose own trap ends its processes.
  trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 130' INT TERM
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_migrate_req=1
  REAPER_PROOF_NETNS=$ns REAPER_PROOF_DENO=$DENO ip netns exec "$ns" bash "$SCRIPT" "$@" &
  child=$!
  rc=0
  wait "$child" || rc=$?
  exit "$rc"
fi
MIGRATE=$(cat /proc/sys/net/ipv4/tcp_migrate_req 2>/dev/null || echo "absent")
# The kernel's counters of connections handed over, "n/a n/a" without nstat.
migrate_counters() {
  if ! command -v nstat >/dev/null; then echo "n/a n/a"; return; fi
  { nstat -asz TcpExtTCPMigrateReqSuccess TcpExtTCPMigrateReqFailure 2>/dev/null || true; } |
    awk '$1 ~ /Success/ { s = $2 } $1 ~ /Failure/ { f = $2 } END { print s + 0, f + 0 }'
}
TMP=$(mktemp -d /tmp/reaper_rolling.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  if [[ -n ${KEEP_TMP:-} ]]; then echo "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$DENO" eval 'const l = Deno.listen({ hostname: "127.0.0.1", port: 0 }); console.log(l.addr.port); l.close();'
}

# start_backend SLOT ENGINE OPTIONS -> sets BACKEND (its pid); waits until it listens
N_BACKENDS=0
start_backend() {
  local slot=$1 engine=$2 options=$3 log
  N_BACKENDS=$((N_BACKENDS + 1))
  log="$TMP/backend.$N_BACKENDS.log"
  : >"$log"
  local kind=reaper
  [[ $engine == raw ]] && kind=deno
  "$DENO" run --unstable-net --allow-net --allow-read bench/proof/_server.ts "$kind" "${SLOT_PORT[$slot]}" "$engine" "$options" >"$log" 2>&1 &
  BACKEND=$!
  PIDS+=("$BACKEND")
  for _ in $(seq 1 300); do
    grep -q '^Unsupported: shutdownDelay' "$log" && return 3
    grep -q '^Engine: ' "$log" && return 0
    kill -0 "$BACKEND" 2>/dev/null || { echo "backend exited:"; cat "$log"; exit 1; }
    sleep 0.1
  done
  echo "backend did not start:"; cat "$log"; exit 1
}

# wait_exit PID SECONDS: waits for a backend to exit by itself
wait_exit() {
  local pid=$1 limit=$2 i
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  echo "  backend $pid did not exit within $limit s"; return 1
}

declare -A SLOT_PORT CURRENT
OVERALL_FAIL=0
SUMMARY=()

run_phase() {
  local engine=$1 phase=$2 options
  options='{"reusePort":true,"idleTimeout":65000,"headerTimeout":20000,"requestTimeout":60000,"shutdownTimeout":10000}'
  if [[ $engine == raw ]]; then options='{"reusePort":true,"shutdownOnSigterm":true}'; fi
  if [[ $phase == shutdown-delay ]]; then
    options=${options%\}}",\"shutdownDelay\":$SHUTDOWN_DELAY_MS}"
  fi
  SLOT_PORT[a]=$(free_port)
  SLOT_PORT[b]=$(free_port)
  local nginx_port
  nginx_port=$(free_port)
  local dir="$TMP/$engine.$phase"
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  log_format proof '\$request_method \$status \$upstream_status \$upstream_addr';
  access_log $dir/access.log proof;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  upstream backend {
    server 127.0.0.1:${SLOT_PORT[a]};
    server 127.0.0.1:${SLOT_PORT[b]};
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
  echo
  echo "== $engine engine, phase $phase: nginx on :$nginx_port, slots :${SLOT_PORT[a]} :${SLOT_PORT[b]}, $ROUNDS rounds; load $(cut -d' ' -f1 /proc/loadavg)"
  echo "   backend options: $options"
  for slot in a b; do
    if ! start_backend "$slot" "$engine" "$options"; then
      echo "   NOT RUN: this Reaper has no shutdownDelay option (hook: SHUTDOWN_DELAY_MS, checked in bench/proof/_server.ts)"
      SUMMARY+=("$engine $phase: NOT RUN (no shutdownDelay in this Reaper)")
      kill "$BACKEND" 2>/dev/null || true
      for s in a b; do [[ -n ${CURRENT[$s]:-} ]] && kill "${CURRENT[$s]}" 2>/dev/null; CURRENT[$s]=""; done
      return 0
    fi
    CURRENT[$slot]=$BACKEND
  done
  "$NGINX" -c "$dir/nginx.conf" -p "$dir" >"$dir/nginx.out" 2>&1 &
  local nginx_pid=$!
  PIDS+=("$nginx_pid")
  for _ in $(seq 1 50); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$nginx_port/" && break; sleep 0.1; done
  local planned=$((3 + 2 * ROUNDS * STEP + 3))
  wrk -t1 -c8 -d"${planned}s" --timeout 5s "http://127.0.0.1:$nginx_port/" >"$dir/wrk.out" 2>&1 &
  local wrk_pid=$!
  PIDS+=("$wrk_pid")
  "$DENO" run --allow-net --allow-read bench/proof/_post_loop.ts "http://127.0.0.1:$nginx_port/" "$planned" 4 "$dir/stop" >"$dir/post.out" 2>&1 &
  local post_pid=$!
  PIDS+=("$post_pid")
  local t0=$SECONDS restarts=0 late=0 old migrated_before
  migrated_before=$(migrate_counters)
  sleep 3
  for ((round = 1; round <= ROUNDS; round++)); do
    for slot in a b; do
      old=${CURRENT[$slot]}
      if [[ $phase == reuse-port ]]; then
        start_backend "$slot" "$engine" "$options"
        kill -TERM "$old"
      else
        kill -TERM "$old"
        start_backend "$slot" "$engine" "$options"
      fi
      CURRENT[$slot]=$BACKEND
      wait_exit "$old" 20 || [[ $engine == raw ]] || OVERALL_FAIL=1
      restarts=$((restarts + 1))
      echo "   restart $restarts (slot $slot, round $round): old pid $old exited, new pid $BACKEND, t=$((SECONDS - t0)) s"
      local due=$((3 + restarts * STEP))
      while ((SECONDS - t0 < due)); do sleep 0.2; done
    done
  done
  ((SECONDS - t0 <= planned)) || late=1
  local migrated_after migrated
  migrated_after=$(migrate_counters)
  if [[ $migrated_before == "n/a n/a" ]]; then
    migrated="n/a n/a"
  else
    migrated=$(awk -v a="$migrated_before" -v b="$migrated_after" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[1] - x[1], y[2] - x[2] }')
  fi
  touch "$dir/stop"
  wait "$wrk_pid" || true
  wait "$post_pid" || true
  kill "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
  for slot in a b; do kill -TERM "${CURRENT[$slot]}" 2>/dev/null || true; done
  for slot in a b; do wait_exit "${CURRENT[$slot]}" 15 || true; CURRENT[$slot]=""; done
  # Figures.
  local wrk_total wrk_non2xx wrk_errors post total_fail
  wrk_total=$(awk '/requests in/ { print $1 }' "$dir/wrk.out")
  wrk_non2xx=$(awk -F': ' '/Non-2xx/ { print $2 + 0 }' "$dir/wrk.out")
  wrk_errors=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$dir/wrk.out" |
    awk '{ print $1 + $2 + $3 + $4 }')
  post=$(grep '^Posts ' "$dir/post.out" || echo "Posts 0 0 0 0 [\"no result: $(tr '\n' ' ' <"$dir/post.out" | cut -c1-120)\"]")
  read -r _ post_total post_ok post_bad post_err post_samples <<<"$post"
  local log_get log_post log_bad log_retried
  log_get=$(awk '$1 == "GET"' "$dir/access.log" | wc -l)
  log_post=$(awk '$1 == "POST"' "$dir/access.log" | wc -l)
  # 499: the load client hung up with a request in flight (wrk does so at
  # the end of its run); reported, not counted.
  log_bad=$(awk '$2 !~ /^2/ && $2 != 499' "$dir/access.log" | wc -l)
  log_retried=$(awk '$3 ~ /,/' "$dir/access.log" | wc -l)
  echo "   wrk GET: ${wrk_total:-?} requests, ${wrk_non2xx:-0} non-2xx, ${wrk_errors:-0} socket errors"
  echo "   POST loop: $post_total requests, $post_ok 2xx, $post_bad non-2xx, $post_err errors ${post_samples:-}"
  echo "   nginx access log: $log_get GET, $log_post POST, $log_bad non-2xx other than 499 ($(awk '$2 !~ /^2/ { print $1, $2 }' "$dir/access.log" | sort | uniq -c | awk '{ printf "%s%s %s x%s", s, $2, $3, $1; s = ", " }')), $log_retried retried on the other slot by nginx"
  grep -v '^\s*$' "$dir/error.log" | sed -n '1,3s/^/   nginx error.log: /p' || true
  # Why nginx failed requests: a backend closed or reset a connection with
  # a request on it (the request is lost, or retried if nginx may), a
  # connect was refused (always retried), or both slots were marked down
  # after such failures (max_fails 1, fail_timeout 10 s), when nginx answers
  # 502 at once without asking a backend.
  echo "   nginx error.log: $(grep -c 'prematurely closed connection' "$dir/error.log" || true) closed and $(grep -c 'reset by peer\|Broken pipe' "$dir/error.log" || true) reset by a backend with a request on them, $(grep -c 'connect() failed' "$dir/error.log" || true) connects refused, $(grep -c 'no live upstreams' "$dir/error.log" || true) requests failed at once with both slots marked down"
  local reasons
  reasons=$(cat "$dir"/../backend.*.log 2>/dev/null | awk '/^Closed / { n[$3]++ } END { for (r in n) printf "%s %d, ", r, n[r] }' | sed 's/, $//')
  echo "   backends' close reasons so far (every process of this run): ${reasons:-none}"
  echo "   kernel: tcp_migrate_req=$MIGRATE; connections of a closing listener (queued or in their handshake) handed to another listener: ${migrated% *}, failed to hand over: ${migrated#* }"
  # A request lost shows in a client's count and in nginx's log: count the
  # larger of the two, not their sum.
  local client_failed=$(( ${wrk_non2xx:-0} + ${wrk_errors:-0} + post_bad + post_err ))
  local failed=$(( client_failed > log_bad ? client_failed : log_bad ))
  if ((late)); then echo "   the restarts took longer than the planned load: the last ones ran without load"; failed=$((failed + 1)); fi
  if [[ $engine == raw ]]; then
    SUMMARY+=("raw Deno.serve (peer, not judged) $phase: $restarts restarts, ${wrk_total:-?} GET + $post_total POST, $failed failed")
  elif ((failed == 0 && restarts == 2 * ROUNDS)); then
    SUMMARY+=("$engine $phase: $restarts restarts, ${wrk_total:-?} GET + $post_total POST, 0 failed: pass")
  else
    SUMMARY+=("$engine $phase: $restarts restarts, ${wrk_total:-?} GET + $post_total POST, $failed failed: FAIL")
    OVERALL_FAIL=1
  fi
}

where="the host's network stack"
[[ -n ${REAPER_PROOF_NETNS:-} ]] && where="network namespace $REAPER_PROOF_NETNS"
echo "rolling restarts behind nginx: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), shared with other work; $where, net.ipv4.tcp_migrate_req=$MIGRATE"
for engine in $ENGINES; do
  run_phase "$engine" reuse-port
  if ((SHUTDOWN_DELAY_MS > 0)) && [[ $engine != raw ]]; then run_phase "$engine" shutdown-delay; fi
done
echo
echo "Summary:"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
rule="rule: zero failed requests (wrk, POST loop, nginx access log) over every restart of every phase that ran"
if ((OVERALL_FAIL)); then echo "FAIL rolling_restart: $rule"; exit 1; fi
echo "PASS rolling_restart: $rule"
