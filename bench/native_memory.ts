#!/usr/bin/env -S deno run --allow-net --allow-read --allow-run
// Copyright 2026 the Reaper authors. MIT license.
/**
 * Resident memory per idle keep-alive connection: raw `Deno.serve` against
 * the runtime's internal `serveHttpOnConnection` (bare, and with an
 * `AbortController` per connection) and the native engine (`_native.ts`),
 * with the portable engine (`_portable.ts`) on the same minimal hooks for
 * comparison.
 *
 * Each server runs in its own child process on 127.0.0.1 with
 * `--v8-flags=--expose-gc`. For each: warm up (50 connections × 5 requests,
 * then closed), collect garbage in the child and let it report its own
 * resident set size and V8 heap (`Deno.memoryUsage()`); open N keep-alive connections with
 * one complete request each and leave them idle; collect garbage and read
 * again. Prints (after − before) / N in KiB for RSS and for the V8 heap,
 * and the RSS ratio to raw `Deno.serve`.
 *
 * Usage:
 * `deno run --allow-net --allow-read --allow-run bench/native_memory.ts [--connections 2000] [--rounds 1]`
 *
 * @module
 */

import type { ConnectionHooks, EngineConnection } from "../_engine.ts";
import { createNativeEngine, findServeHttpOnConnection } from "../_native.ts";
import { createPortableEngine } from "../_portable.ts";

const MODES = {
  raw: "raw Deno.serve",
  bare: "serveHttpOnConnection, no signal, result dropped",
  kept: "serveHttpOnConnection, no signal, result kept",
  signal: "serveHttpOnConnection + AbortController",
  native: "native engine (_native.ts)",
  portable: "portable engine (_portable.ts), for comparison",
} as const;
type Mode = keyof typeof MODES;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(Deno.args[i + 1]);
}

// ---------------------------------------------------------------- child ---

function noop(): void {}

function handler(_req: Request): Response {
  return new Response("ok");
}

function onError(): Response {
  return new Response("error", { status: 500 });
}

/** Hooks as small as a lifetime layer could make them. */
class MinimalHooks implements ConnectionHooks {
  readonly remoteAddr: Deno.NetAddr;
  readonly #table: Set<unknown>;
  connection: EngineConnection | undefined;
  mustClose = false;
  keepAlive = "";
  constructor(remoteAddr: Deno.NetAddr, table: Set<unknown>) {
    this.remoteAddr = remoteAddr;
    this.#table = table;
  }
  touch(): void {}
  headStart(): void {}
  requestStart(): this {
    return this;
  }
  peerWait(): void {}
  responseStart(): void {}
  requestEnd(): void {}
  setRequestTimeout(): void {}
  closed(): void {
    this.#table.delete(this);
  }
}

async function child(mode: Mode): Promise<void> {
  const kept = new Set<unknown>();
  let port: number;
  if (mode === "raw") {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: noop },
      handler,
    );
    port = server.addr.port;
  } else {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = (listener.addr as Deno.NetAddr).port;
    const serveOn = findServeHttpOnConnection();
    if (typeof serveOn === "string") throw new Error(serveOn);
    const engine = mode === "portable"
      ? createPortableEngine()
      : createNativeEngine();
    (async () => {
      for await (const conn of listener) {
        if (mode === "bare") {
          serveOn(conn, undefined, handler, onError, noop);
        } else if (mode === "kept") {
          const server = serveOn(conn, undefined, handler, onError, noop);
          kept.add(server);
          server.finished.finally(() => kept.delete(server));
        } else if (mode === "signal") {
          // What a caller needs to close the connection later.
          const controller = new AbortController();
          const server = serveOn(
            conn,
            controller.signal,
            handler,
            onError,
            noop,
          );
          kept.add(controller);
          server.finished.finally(() => kept.delete(controller));
        } else {
          // The connection table of a lifetime layer, at its smallest.
          const hooks = new MinimalHooks(conn.remoteAddr as Deno.NetAddr, kept);
          kept.add(hooks);
          hooks.connection = engine.serve(conn, hooks, handler, onError);
        }
      }
    })();
  }
  await Deno.stdout.write(encoder.encode(`port ${port}\n`));
  const gc = (globalThis as { gc?: () => void }).gc;
  for await (const chunk of Deno.stdin.readable) {
    for (const _ of decoder.decode(chunk).split("\n").filter(Boolean)) {
      for (let i = 0; i < 3; i++) gc?.();
      await new Promise((resolve) => setTimeout(resolve, 50));
      gc?.();
      const { rss, heapUsed, heapTotal } = Deno.memoryUsage();
      await Deno.stdout.write(
        encoder.encode(`mem ${rss} ${heapUsed} ${heapTotal} ${kept.size}\n`),
      );
    }
  }
  Deno.exit(0);
}

// --------------------------------------------------------------- parent ---

class LineReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }
  async line(): Promise<string> {
    while (!this.#buffer.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("The child process ended");
      this.#buffer += decoder.decode(value);
    }
    const i = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, i);
    this.#buffer = this.#buffer.slice(i + 1);
    return line;
  }
  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

async function request(conn: Deno.Conn): Promise<void> {
  await conn.write(
    encoder.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
  );
  const buffer = new Uint8Array(1024);
  let text = "";
  while (!text.endsWith("\r\n\r\nok")) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("The server closed a connection");
    text += decoder.decode(buffer.subarray(0, n));
  }
}

async function openConnections(
  port: number,
  count: number,
  requests: number,
): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let start = 0; start < count; start += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, count - start) }, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        for (let i = 0; i < requests; i++) await request(conn);
        return conn;
      }),
    );
    conns.push(...batch);
  }
  return conns;
}

interface Sample {
  rssKiB: number;
  heapUsed: number;
  heapTotal: number;
}

async function measure(mode: Mode, count: number): Promise<{
  rss: number;
  heap: number;
  heapTotal: number;
}> {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--child",
      mode,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = new LineReader(process.stdout);
  const writer = process.stdin.getWriter();
  const sample = async (): Promise<Sample> => {
    await writer.write(encoder.encode("gc\n"));
    const [, rss, heapUsed, heapTotal] = (await lines.line()).split(" ").map(
      Number,
    );
    return { rssKiB: rss / 1024, heapUsed, heapTotal };
  };
  try {
    const port = Number((await lines.line()).split(" ")[1]);
    for (const conn of await openConnections(port, 50, 5)) conn.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = await sample();
    const conns = await openConnections(port, count, 1);
    const after = await sample();
    for (const conn of conns) conn.close();
    return {
      rss: (after.rssKiB - before.rssKiB) / count,
      heap: (after.heapUsed - before.heapUsed) / count / 1024,
      heapTotal: (after.heapTotal - before.heapTotal) / count / 1024,
    };
  } finally {
    await writer.close().catch(() => {});
    await lines.cancel().catch(() => {});
    try {
      process.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await process.status;
  }
}

async function main(): Promise<void> {
  const count = flag("connections", 2000);
  const rounds = flag("rounds", 1);
  console.log(
    `Idle keep-alive connections: ${count}, Deno ${Deno.version.deno}, ` +
      `${rounds} round(s), figures are per connection (median of rounds)`,
  );
  const results = new Map<Mode, { rss: number; heap: number; total: number }>();
  for (const mode of Object.keys(MODES) as Mode[]) {
    const runs = [];
    for (let r = 0; r < rounds; r++) runs.push(await measure(mode, count));
    const median = (values: number[]) =>
      values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
    results.set(mode, {
      rss: median(runs.map((run) => run.rss)),
      heap: median(runs.map((run) => run.heap)),
      total: median(runs.map((run) => run.heapTotal)),
    });
  }
  const raw = results.get("raw")!.rss;
  console.log(
    "| server | RSS KiB/conn | × raw | V8 heap KiB/conn | V8 committed KiB/conn |",
  );
  console.log("|---|---|---|---|---|");
  for (const [mode, { rss, heap, total }] of results) {
    console.log(
      `| ${MODES[mode]} | ${rss.toFixed(1)} | ${(rss / raw).toFixed(2)} | ${
        heap.toFixed(2)
      } | ${total.toFixed(2)} |`,
    );
  }
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--child");
  if (i !== -1) await child(Deno.args[i + 1] as Mode);
  else await main();
}
