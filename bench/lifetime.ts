#!/usr/bin/env -S deno run --allow-net --allow-read --allow-run --allow-env
// Copyright 2026 the Reaper authors. MIT license.
/**
 * Which connections does a server close, and when? Five misbehaving clients
 * against raw `Deno.serve`, Node's `http` with its defaults and Reaper with
 * short timeouts.
 *
 * Each server runs as a child process on 127.0.0.1; all of them are probed at
 * the same time, each with five connections:
 *
 * - (a) silent: connects and sends nothing;
 * - (b) idle: one complete request, then nothing (an idle keep-alive
 *   connection);
 * - (c) stalled head: sends part of a request head, then nothing;
 * - (d) slow headers: the request line, then one header line every second;
 * - (e) trickle: the request head one byte every 500 ms.
 *
 * For each server and probe it prints when (seconds after connecting) the
 * server closed the connection, the status of any response it sent first and,
 * for Reaper, the close reason it reported; or "still open" at the end of the
 * observation (`--seconds`, default 15). Nothing runs longer than that, plus
 * the servers' start-up.
 *
 * Reaper runs with `idleTimeout` 5 s (Node's `keepAliveTimeout`),
 * `headerTimeout` 3 s, `requestTimeout` off and `tickInterval` 250 ms;
 * `--reaper JSON` merges other `ServeOptions` over these (for example
 * `--reaper '{"idleTimeout":2000}'`). The idle timeout is the longer one so
 * that each rule shows: Reaper's idle timeout also runs while a connection
 * waits for its first byte, so with `idleTimeout` below `headerTimeout` it
 * closes (a) and (c) first, and with the native engine, which sees no bytes,
 * (d) and (e) too.
 *
 * Usage:
 * `deno run --allow-net --allow-read --allow-run --allow-env bench/lifetime.ts [--seconds 15] [--only REGEX] [--reaper JSON]`
 *
 * @module
 */

import {
  benchServers,
  flag,
  reaperMissing,
  type RunningServer,
  type ServerSpec,
  startServer,
} from "./_servers.ts";

/** Reaper's settings in this comparison, unless `--reaper` overrides them. */
const REAPER_DEFAULTS: Record<string, unknown> = {
  idleTimeout: 5_000,
  headerTimeout: 3_000,
  requestTimeout: 0,
  tickInterval: 250,
};

const PROBES = {
  a: "silent",
  b: "idle after 1 request",
  c: "stalled partial head",
  d: "header line every 1 s",
  e: "1 byte every 500 ms",
} as const;
type ProbeKey = keyof typeof PROBES;

/** What one probe saw. */
interface ProbeResult {
  /** Seconds from connecting to the close, or `null`: still open. */
  closedAfter: number | null;
  /** Status codes of responses received (for (b), after the first). */
  statuses: string[];
  /** The client's port, to match the server's close log. */
  localPort: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** What a probe sends: `[delay before in ms, bytes]` pairs, lazily. */
function* script(key: ProbeKey): Generator<[number, string]> {
  const line = "GET / HTTP/1.1\r\n";
  const host = "Host: 127.0.0.1\r\n";
  switch (key) {
    case "a":
      return;
    case "b":
      yield [0, `${line}${host}\r\n`];
      return;
    case "c":
      yield [0, `${line}${host}User-Agent: probe\r\nAccept: */`];
      return;
    case "d":
      yield [0, `${line}${host}`];
      for (let i = 1;; i++) yield [1_000, `X-Slow-${i}: ${i}\r\n`];
    case "e":
      for (const char of `${line}${host}`) yield [500, char];
      for (;;) {
        yield [500, "X"];
        for (const char of "-Trickle: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n") {
          yield [500, char];
        }
      }
  }
}

async function probe(
  port: number,
  key: ProbeKey,
  seconds: number,
): Promise<ProbeResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const start = performance.now();
  const localPort = (conn.localAddr as Deno.NetAddr).port;
  const stop = new AbortController();
  let closedAt: number | null = null;
  const markClosed = (): void => {
    closedAt ??= performance.now();
    stop.abort();
  };
  let received = "";
  const reader = (async () => {
    const buffer = new Uint8Array(4_096);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch {
        if (!stop.signal.aborted) markClosed();
        return;
      }
      if (n === null) return markClosed();
      received += decoder.decode(buffer.subarray(0, n));
    }
  })();
  const writer = (async () => {
    for (const [wait, text] of script(key)) {
      await delay(wait, stop.signal);
      if (stop.signal.aborted) return;
      try {
        await conn.write(encoder.encode(text));
      } catch {
        return markClosed();
      }
    }
  })();
  await delay(seconds * 1_000, stop.signal);
  stop.abort();
  await writer;
  conn.close();
  await reader;
  const statuses = [...received.matchAll(/HTTP\/1\.[01] (\d{3})/g)]
    .map((m) => m[1]);
  if (key === "b") statuses.shift();
  return {
    closedAfter: closedAt === null ? null : (closedAt - start) / 1_000,
    statuses,
    localPort,
  };
}

async function run(
  server: RunningServer,
  seconds: number,
): Promise<Record<ProbeKey, ProbeResult>> {
  const keys = Object.keys(PROBES) as ProbeKey[];
  const results = await Promise.all(
    keys.map((key) => probe(server.port, key, seconds)),
  );
  return Object.fromEntries(keys.map((k, i) => [k, results[i]])) as Record<
    ProbeKey,
    ProbeResult
  >;
}

function cell(result: ProbeResult, reasons: Map<number, string>): string {
  if (result.closedAfter === null) return "still open";
  const notes = [...result.statuses];
  const reason = reasons.get(result.localPort);
  if (reason) notes.unshift(reason);
  return `closed at ${result.closedAfter.toFixed(1)} s${
    notes.length ? ` (${notes.join(", ")})` : ""
  }`;
}

async function main(): Promise<void> {
  const seconds = Number(flag("seconds") ?? "15");
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 600) {
    throw new RangeError(
      `Cannot run: --seconds must be > 0 and <= 600, received "${
        flag("seconds")
      }"`,
    );
  }
  const only = new RegExp(flag("only") ?? ".");
  const reaperOptions = {
    ...REAPER_DEFAULTS,
    ...JSON.parse(flag("reaper") ?? "{}"),
  };
  const missing = await reaperMissing();
  const specs = benchServers({
    denoNodeHttp: false,
    reaperOptions,
    reaperLogCloses: true,
  }).filter((spec) => only.test(spec.key));
  const notes: string[] = [];
  const started: [ServerSpec, RunningServer][] = [];
  try {
    for (const spec of specs) {
      if (spec.key.startsWith("reaper_") && missing) {
        notes.push(`${spec.name}: ${missing}`);
        continue;
      }
      try {
        started.push([spec, await startServer(spec)]);
      } catch (error) {
        notes.push(`${spec.name}: failed: ${String(error).split("\n")[0]}`);
      }
    }
    console.error(
      `Probing ${started.length} servers for ${seconds} s (a: ${PROBES.a}, b: ${PROBES.b}, c: ${PROBES.c}, d: ${PROBES.d}, e: ${PROBES.e})`,
    );
    const results = await Promise.all(
      started.map(([, server]) => run(server, seconds)),
    );
    // Let the servers' close logs arrive.
    await new Promise((resolve) => setTimeout(resolve, 200));
    console.log(
      `\nConnection lifetime, observed for ${seconds} s on 127.0.0.1 (${
        new Date().toISOString().slice(0, 16).replace("T", " ")
      } UTC, Deno ${Deno.version.deno})\n`,
    );
    for (const [spec, server] of started) {
      if (spec.key.startsWith("reaper_")) {
        const engine = server.output().match(/^Engine: (\w+)$/m)?.[1];
        console.log(
          `- ${spec.name}: ${
            Object.entries(reaperOptions).map(([k, v]) =>
              `${k} ${
                v === 0 ? "0 (off)" : typeof v === "number" ? `${v} ms` : v
              }`
            ).join(", ")
          }${engine ? `; engine chosen: ${engine}` : ""}`,
        );
      }
      const settings = server.output().match(/^Settings: (.*)$/m)?.[1];
      if (settings) console.log(`- ${spec.name} (defaults): ${settings}`);
    }
    console.log(
      `\n| server | ${
        Object.entries(PROBES).map(([k, v]) => `(${k}) ${v}`).join(" | ")
      } |`,
    );
    console.log(`|---|${"---|".repeat(Object.keys(PROBES).length)}`);
    started.forEach(([spec, server], i) => {
      const reasons = new Map<number, string>();
      for (const m of server.output().matchAll(/^Closed (\d+) (\w+)$/gm)) {
        reasons.set(Number(m[1]), m[2]);
      }
      const row = (Object.keys(PROBES) as ProbeKey[])
        .map((key) => cell(results[i][key], reasons));
      console.log(`| ${spec.name} | ${row.join(" | ")} |`);
    });
    if (notes.length) console.log("\n" + notes.map((n) => `- ${n}`).join("\n"));
  } finally {
    await Promise.all(started.map(([, server]) => server.stop()));
  }
}

if (import.meta.main) await main();
