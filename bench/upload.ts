#!/usr/bin/env -S deno run --allow-net --allow-read --allow-run
// Copyright 2026 the Reaper authors. MIT license.
/**
 * Uploads and large responses on each engine: seconds per 100 MB chunked
 * upload (a `fetch()` with a stream body, 64 KiB chunks, read by the handler
 * with `req.body`), and the peak RSS of a process that serves two 100 MB
 * `Uint8Array` responses in a row. Each measurement runs in a child process
 * of its own (`/proc/self/status` `VmHWM` for the peak, so Linux only).
 *
 * Usage: `deno run --allow-net --allow-read --allow-run bench/upload.ts`
 * (`ROUNDS=5` uploads a measurement, by default 3; the best is printed).
 *
 * @module
 */

import { serve } from "../server.ts";

const MB = 1_000_000;
const UPLOAD = 100 * MB;
const CHUNK = 65536;
type EngineName = "native" | "portable";

function start(
  engine: EngineName,
  handler: (req: Request) => Promise<Response> | Response,
) {
  return serve({
    port: 0,
    hostname: "127.0.0.1",
    engine,
    signals: false,
    onListen() {},
  }, handler);
}

/** Seconds of the fastest of `rounds` chunked 100 MB uploads. */
async function upload(engine: EngineName, rounds: number): Promise<number> {
  const server = start(engine, async (req) => {
    let n = 0;
    for await (const chunk of req.body!) n += chunk.length;
    return new Response(String(n));
  });
  const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
  const chunk = new Uint8Array(CHUNK).fill(97);
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    let left = UPLOAD;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (left <= 0) return controller.close();
        const n = Math.min(left, CHUNK);
        left -= n;
        controller.enqueue(n === CHUNK ? chunk : chunk.subarray(0, n));
      },
    });
    const t0 = performance.now();
    const res = await fetch(url, { method: "POST", body });
    const got = Number(await res.text());
    const seconds = (performance.now() - t0) / 1000;
    if (got !== UPLOAD) {
      throw new Error(`Uploaded ${got} bytes, expected ${UPLOAD}`);
    }
    best = Math.min(best, seconds);
  }
  await server.close();
  return best;
}

/** The peak RSS, in MB, after two 100 MB `Uint8Array` responses. */
async function bigResponses(engine: EngineName): Promise<number> {
  const server = start(engine, () => new Response(new Uint8Array(100 * MB)));
  const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
  for (let i = 0; i < 2; i++) {
    const res = await fetch(url);
    let n = 0;
    for await (const chunk of res.body!) n += chunk.length;
    if (n !== 100 * MB) throw new Error(`Got ${n} bytes`);
  }
  await server.close();
  const status = await Deno.readTextFile("/proc/self/status");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function child(args: string[]): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, ...args],
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`The child ${args.join(" ")} failed`);
  return Number(new TextDecoder().decode(out.stdout).trim());
}

if (import.meta.main) {
  const [mode, engine] = Deno.args as [string?, EngineName?];
  if (mode === "upload") {
    console.log(await upload(engine!, Number(Deno.env.get("ROUNDS") ?? 3)));
  } else if (mode === "responses") {
    console.log(await bigResponses(engine!));
  } else {
    for (const name of ["native", "portable"] as const) {
      const seconds = await child(["upload", name]);
      const peak = await child(["responses", name]);
      console.log(
        `${name.padEnd(8)}  chunked upload ${seconds.toFixed(3)} s / 100 MB` +
          `  peak RSS, two 100 MB responses: ${peak.toFixed(0)} MB`,
      );
    }
  }
}
