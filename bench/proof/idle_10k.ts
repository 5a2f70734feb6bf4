#!/usr/bin/env -S deno run -A
// Copyright 2026 the Reaper authors. MIT license.
/**
 * Proof (d): 10,000 idle keep-alive connections. Memory per connection, the
 * CPU time of a tick while they idle, and every one closed within one tick
 * after its deadline while a probe client keeps getting fast answers.
 *
 * For each server (a child process): warm it up (100 requests), read its
 * `VmRSS`; start a holder process that opens `--connections` (default
 * 10,000) keep-alive connections, 100 at a time, sends one request on each,
 * reads the answer and leaves it idle; read `VmRSS` again after `--settle`
 * ms (default 1500) and divide the growth by the connections. Then read the
 * server's CPU time (`/proc/PID/stat`) over `--window` ms (default 10 s)
 * while nothing but the ticks runs, and divide it by the ticks in that
 * window (the same window with no connection open is the baseline). Then,
 * while a probe client sends one request every 50 ms on a fresh connection
 * and records its latency, wait for the idle timeout to close them: each
 * close the server reports (`onConnectionState`, printed by `_server.ts`
 * with the milliseconds since the connection's last activity) must come at
 * or after `idleTimeout` and at most one `tickInterval` after it. The
 * holder reports what the client saw (the time from its answer to the
 * server's FIN).
 *
 * Reaper (both engines) runs with `idleTimeout` 20 s (long enough for the
 * memory and CPU readings to finish before the first deadline),
 * `headerTimeout` 20 s, `requestTimeout` off and `tickInterval` 250 ms. Raw
 * `Deno.serve` has no idle timeout: the script reports how many of its
 * connections are still open 5 s after Reaper's deadline. Node's `http`
 * runs with `keepAliveTimeout` 20 s; its closes are reported as the client
 * saw them, not judged.
 *
 * Pass (judged on Reaper only): every connection was opened and answered,
 * every one was closed by the idle timeout, none before `idleTimeout`, none
 * later than `idleTimeout + tickInterval` (server-side), and the probe got
 * every answer (200) during the expiry.
 *
 * Needs an open-file limit of connections + 500 in this process (the
 * holder and the server inherit it): `bench/proof/idle_10k.sh` raises
 * `ulimit -n` to the hard limit first. `-A` because Deno reads
 * `/proc/PID/stat` and `/proc/PID/status` only with it.
 *
 * Usage:
 * `deno run -A bench/proof/idle_10k.ts [--connections 10000] [--servers reaper-portable,reaper-native,deno,node] [--window 10000] [--settle 1500]`
 *
 * Bounded: one holder and one server at a time, about 45 s a server, every
 * wait with a deadline; the holder exits on its own after 120 s at the most.
 *
 * @module
 */

import {
  closes,
  countBy,
  cpuPreciseMs,
  flag,
  get,
  loadAverage,
  nodeServer,
  openFileLimit,
  percentile,
  proofServer,
  type ProofServerKind,
  readResponse,
  requestBytes,
  rssKiB,
  type RunningServer,
  SERVER_NAMES,
  type ServerSpec,
  sleep,
  startServer,
  verdict,
} from "./_proof.ts";

const IDLE_MS = 20_000;
const TICK_MS = 250;
const HOLDER_LIFETIME_MS = 120_000;
/**
 * The allowance over one tick for the event loop: a tick closes every
 * connection due in it, and the last of a batch of several hundred reads the
 * clock a few milliseconds after the first; a timer also fires late on a
 * busy machine. Over-one-tick closes are printed without it too.
 */
const JITTER_MS = 10;

/** What the holder reports. */
interface HolderReport {
  opened: number;
  answered: number;
  /** Per connection: [client port, ms from answer to FIN, or -1 if open]. */
  conns: [number, number][];
}

// ---------------------------------------------------------------- holder

async function holder(port: number, count: number): Promise<void> {
  const started = Date.now();
  const conns: { port: number; answeredAt: number; closedAt: number }[] = [];
  let opened = 0;
  let answered = 0;
  const watch = async (conn: Deno.TcpConn): Promise<void> => {
    const record = {
      port: conn.localAddr.port,
      answeredAt: 0,
      closedAt: 0,
    };
    conns.push(record);
    try {
      await conn.write(requestBytes(false));
      await readResponse(conn);
      record.answeredAt = performance.now();
      answered++;
    } catch {
      return;
    }
    const buffer = new Uint8Array(256);
    try {
      while (await conn.read(buffer) !== null) { /* discard */ }
    } catch { /* reset */ }
    record.closedAt = performance.now();
  };
  const all: Promise<void>[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(count, i + 100); j++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      opened++;
      const done = watch(conn);
      all.push(done);
      batch.push(Promise.race([done, sleep(50)]));
    }
    await Promise.all(batch);
  }
  while (answered < opened && Date.now() - started < 30_000) await sleep(20);
  console.log(`Opened ${opened} ${answered}`);
  // Report when asked (a line on stdin), or at the end of the lifetime.
  const asked = (async () => {
    const buffer = new Uint8Array(16);
    await Deno.stdin.read(buffer);
  })();
  await Promise.race([asked, sleep(HOLDER_LIFETIME_MS)]);
  const report: HolderReport = {
    opened,
    answered,
    conns: conns.map((c) => [
      c.port,
      c.closedAt === 0 ? -1 : Math.round(c.closedAt - c.answeredAt),
    ]),
  };
  console.log(`Report ${JSON.stringify(report)}`);
  Deno.exit(0);
}

// ---------------------------------------------------------------- main

interface Holder {
  child: Deno.ChildProcess;
  opened: Promise<[number, number]>;
  report(): Promise<HolderReport>;
  kill(): void;
}

function startHolder(port: number, count: number): Holder {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--holder",
      String(port),
      String(count),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let text = "";
  const lines: ((text: string) => void)[] = [];
  (async () => {
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      text += chunk;
      for (const check of lines) check(text);
    }
  })();
  const waitFor = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve) => {
      const check = (t: string) => {
        const match = t.match(re);
        if (match) resolve(match);
      };
      lines.push(check);
      check(text);
    });
  const writer = child.stdin.getWriter();
  return {
    child,
    opened: waitFor(/^Opened (\d+) (\d+)\n/m).then((
      m,
    ) => [Number(m[1]), Number(m[2])]),
    async report() {
      await writer.write(new TextEncoder().encode("report\n"));
      const match = await waitFor(/^Report (.*)\n/m);
      return JSON.parse(match[1]);
    },
    kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    },
  };
}

function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: no answer in ${ms} ms`)),
        ms,
      );
    }),
  ]);
}

async function openCount(pid: number): Promise<number> {
  // Established TCP connections of the server: its socket fds, minus the
  // listener, read from /proc (cheaper than ss for 10,000).
  let n = 0;
  for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      if (
        (await Deno.readLink(`/proc/${pid}/fd/${entry.name}`)).startsWith(
          "socket:",
        )
      ) n++;
    } catch { /* closed meanwhile */ }
  }
  return n;
}

async function cpuPerTick(pid: number, windowMs: number): Promise<number> {
  const before = await cpuPreciseMs(pid);
  await sleep(windowMs);
  return (await cpuPreciseMs(pid) - before) / (windowMs / TICK_MS);
}

interface Result {
  name: string;
  pass: boolean | null;
  line: string;
}

async function measure(
  key: ProofServerKind | "node",
  count: number,
  windowMs: number,
  settleMs: number,
): Promise<Result> {
  const reaper = key.startsWith("reaper");
  const options = {
    idleTimeout: IDLE_MS,
    headerTimeout: 20_000,
    requestTimeout: 0,
    tickInterval: TICK_MS,
  };
  const spec: ServerSpec = key === "node"
    ? nodeServer(IDLE_MS)
    : proofServer(key, options);
  const name = SERVER_NAMES[key];
  console.log(
    `\n== ${name}${
      reaper ? ` ${JSON.stringify(options)}` : ""
    }, load ${await loadAverage()}`,
  );
  let server: RunningServer | undefined;
  let holder: Holder | undefined;
  try {
    server = await startServer(spec);
    for (let i = 0; i < 100; i++) await get(server.port, 2_000);
    // CPU with no connection open: the baseline of a tick.
    await sleep(settleMs);
    const baseTick = await cpuPerTick(server.pid, Math.min(windowMs, 5_000));
    const rssBefore = await rssKiB(server.pid);
    const holderStart = Date.now();
    holder = startHolder(server.port, count);
    const [opened, answered] = await withTimeout(
      holder.opened,
      60_000,
      "holder",
    );
    const openedAt = Date.now();
    await sleep(settleMs);
    const rssAfter = await rssKiB(server.pid);
    const perConn = (rssAfter - rssBefore) / answered;
    console.log(
      `opened ${opened}, answered ${answered}; RSS ${
        (rssBefore / 1024).toFixed(1)
      } → ${(rssAfter / 1024).toFixed(1)} MiB: ${
        perConn.toFixed(1)
      } KiB per idle connection`,
    );
    const tick = await cpuPerTick(server.pid, windowMs);
    const idleWindowEnd = Date.now();
    const sockets = await openCount(server.pid);
    console.log(
      `CPU a tick (${TICK_MS} ms) over ${windowMs / 1000} s idle: ${
        tick.toFixed(2)
      } ms with ${answered} connections, ${
        baseTick.toFixed(2)
      } ms with none (/proc/PID/task/*/schedstat, every thread); sockets open in the server after the window: ${sockets}`,
    );
    // Expiry: probe every 50 ms until every connection is gone, or until
    // 5 s past the last deadline.
    const latencies: number[] = [];
    let probeFailures = 0;
    const stopAt = openedAt + IDLE_MS + 5_000 + settleMs;
    while (Date.now() < stopAt) {
      const start = performance.now();
      try {
        const response = await get(server.port, 2_000);
        if (response.status === 200) latencies.push(performance.now() - start);
        else probeFailures++;
      } catch {
        probeFailures++;
      }
      if (reaper || key === "node") {
        const left = await openCount(server.pid);
        if (left <= 1 && Date.now() > openedAt + IDLE_MS) break;
      }
      await sleep(50);
    }
    const report = await withTimeout(holder.report(), 10_000, "holder report");
    const clientSeen = report.conns.filter(([, ms]) => ms >= 0).map(([, ms]) =>
      ms
    );
    const stillOpen = report.conns.length - clientSeen.length;
    console.log(
      `probe during expiry: ${latencies.length} answered, ${probeFailures} failed; latency p50 ${
        percentile(latencies, 50).toFixed(2)
      } ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${
        Math.max(...latencies).toFixed(2)
      } ms`,
    );
    console.log(
      `client side: ${clientSeen.length} closed by the server, ${stillOpen} still open ${
        ((Date.now() - openedAt) / 1000).toFixed(1)
      } s after opening; answer→FIN ms min ${Math.min(...clientSeen)} p50 ${
        percentile(clientSeen, 50)
      } p99 ${percentile(clientSeen, 99)} max ${Math.max(...clientSeen)}`,
    );
    if (!reaper) {
      const what = key === "deno"
        ? `raw Deno.serve never closes an idle connection: ${stillOpen} of ${answered} still open`
        : `Node closed ${clientSeen.length} of ${answered}`;
      return {
        name,
        pass: null,
        line: `${name}: ${perConn.toFixed(1)} KiB/conn, ${
          tick.toFixed(2)
        } ms CPU/tick idle; ${what} (not judged)`,
      };
    }
    const holderPorts = new Set(report.conns.map(([port]) => port));
    // The holder's connections: not the warm-up's or the probe's (those
    // ask for Connection: close, so they end as "done").
    const log = closes(server.output()).filter((c) =>
      c.at >= holderStart && holderPorts.has(c.port) && c.reason !== "done"
    );
    const idle = log.filter((c) => c.reason === "idle");
    const early = idle.filter((c) => c.idleMs < IDLE_MS).length;
    const overTick = idle.filter((c) => c.idleMs > IDLE_MS + TICK_MS).length;
    const late = idle.filter((c) =>
      c.idleMs > IDLE_MS + TICK_MS + JITTER_MS
    ).length;
    const over = idle.map((c) => c.idleMs - IDLE_MS);
    const beforeWindowEnd = log.filter((c) => c.at < idleWindowEnd).length;
    console.log(
      `server side: ${log.length} closes (${
        countBy(log, (c) => c.reason)
      }); idle ms after the deadline: min ${Math.min(...over)} p50 ${
        percentile(over, 50)
      } p99 ${percentile(over, 99)} max ${
        Math.max(...over)
      }; ${early} early, ${overTick} over one tick, ${late} over one tick + ${JITTER_MS} ms; ${beforeWindowEnd} closed before the CPU window ended`,
    );
    const pass = answered === count && idle.length === count && early === 0 &&
      late === 0 && probeFailures === 0;
    return {
      name,
      pass,
      line: `${name}: ${perConn.toFixed(1)} KiB/conn, ${
        tick.toFixed(2)
      } ms CPU/tick idle (${
        baseTick.toFixed(2)
      } empty), ${idle.length}/${count} idle closes, ${early} early, ${overTick} over one tick, ${late} over one tick + ${JITTER_MS} ms (max +${
        Math.max(...over)
      } ms), probe p50 ${percentile(latencies, 50).toFixed(2)} ms p99 ${
        percentile(latencies, 99).toFixed(2)
      } ms, ${probeFailures} probe failures`,
    };
  } catch (error) {
    console.log(`error: ${error instanceof Error ? error.message : error}`);
    return {
      name,
      pass: reaper ? false : null,
      line: `${name}: error (${error})`,
    };
  } finally {
    holder?.kill();
    await holder?.child.status;
    await server?.stop();
  }
}

if (Deno.args[0] === "--holder") {
  await holder(Number(Deno.args[1]), Number(Deno.args[2]));
} else {
  const count = Number(flag("connections") ?? "10000");
  const windowMs = Number(flag("window") ?? "10000");
  const settleMs = Number(flag("settle") ?? "1500");
  const keys = (flag("servers") ?? "reaper-portable,reaper-native,deno,node")
    .split(",") as (ProofServerKind | "node")[];
  const limit = await openFileLimit();
  console.log(
    `idle_10k: ${count} idle keep-alive connections; open-file limit ${limit}; ${
      (await Deno.readTextFile("/proc/cpuinfo")).match(/^processor/gm)?.length
    } cores, shared with other work (latency and CPU figures are noisy)`,
  );
  if (limit < count + 500) {
    console.log(
      `The open-file limit ${limit} is below ${
        count + 500
      }: run bench/proof/idle_10k.sh (it raises ulimit -n) or \`ulimit -n ${
        count + 1000
      }\` first`,
    );
    verdict("idle_10k", false, "could not raise the open-file limit");
    Deno.exit(1);
  }
  const results: Result[] = [];
  for (const key of keys) {
    results.push(await measure(key, count, windowMs, settleMs));
  }
  console.log("\nSummary:");
  for (const r of results) console.log(`  ${r.line}`);
  const judged = results.filter((r) => r.pass !== null);
  verdict(
    "idle_10k",
    judged.length > 0 && judged.every((r) => r.pass),
    `rule: on Reaper every one of ${count} idle connections answered and closed by idleTimeout (${IDLE_MS} ms) no earlier than its deadline and within one tick (${TICK_MS} ms, + ${JITTER_MS} ms event-loop allowance) after it, and the probe answered throughout`,
  );
}
