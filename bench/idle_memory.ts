#!/usr/bin/env -S deno run --allow-all
// Copyright 2026 the Reaper authors. MIT license.
/**
 * Resident memory per idle keep-alive connection, Reaper against its peers.
 *
 * For each server (a child process on 127.0.0.1): warm it up (20
 * connections × 10 requests, then closed), read its `VmRSS` from
 * `/proc/<pid>/status`, open N keep-alive connections with one complete
 * request each and leave them idle, wait for the process to settle, read
 * `VmRSS` again and print (after − before) / N in KiB, and the ratio to raw
 * `Deno.serve`. Connections that the server closed before the second reading
 * are reported and left out of N.
 *
 * The `node:http` servers get `keepAliveTimeout` 10 min (Node's default of
 * 5 s would close the connections before the reading); Reaper runs with every
 * timeout on and long (`idleTimeout` 65 s, `headerTimeout` 20 s,
 * `requestTimeout` 60 s).
 *
 * Usage (`--allow-all`, since Deno grants reads of `/proc/<pid>/status` and
 * `/proc/self/limits` only with it):
 * `deno run --allow-all bench/idle_memory.ts [--connections 2000] [--settle 1500] [--only REGEX]`
 *
 * @module
 */

import {
  benchServers,
  flag,
  readResponse,
  reaperMissing,
  requestBytes,
  rssKiB,
  type ServerSpec,
  startServer,
} from "./_servers.ts";

/** What {@linkcode measure} found for one server. */
interface Result {
  spec: ServerSpec;
  beforeKiB: number;
  afterKiB: number;
  open: number;
  closedEarly: number;
  failed: number;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function openFileLimit(): Promise<number> {
  const limits = await Deno.readTextFile("/proc/self/limits");
  const match = limits.match(/^Max open files\s+(\d+|unlimited)/m);
  return !match || match[1] === "unlimited" ? Infinity : Number(match[1]);
}

async function warmUp(port: number): Promise<void> {
  await Promise.all(Array.from({ length: 20 }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      for (let i = 0; i < 10; i++) {
        await conn.write(requestBytes());
        await readResponse(conn);
      }
    } finally {
      conn.close();
    }
  }));
}

async function measure(
  spec: ServerSpec,
  connections: number,
  settleMs: number,
): Promise<Result> {
  await using server = await startServer(spec);
  await warmUp(server.port);
  await delay(settleMs);
  const beforeKiB = await rssKiB(server.pid);
  const conns: Deno.Conn[] = [];
  const ended: Promise<void>[] = [];
  let closedEarly = 0;
  let failed = 0;
  try {
    const batch = 100;
    for (let i = 0; i < connections; i += batch) {
      const n = Math.min(batch, connections - i);
      await Promise.all(Array.from({ length: n }, async () => {
        let conn: Deno.Conn;
        try {
          conn = await Deno.connect({
            hostname: "127.0.0.1",
            port: server.port,
          });
        } catch {
          failed++;
          return;
        }
        conns.push(conn);
        try {
          await conn.write(requestBytes());
          const response = await readResponse(conn);
          if (response.status !== 200) throw new Error("Not 200");
        } catch {
          failed++;
          return;
        }
        // Notice when the server closes it before the reading.
        ended.push(
          conn.read(new Uint8Array(1)).then(
            () => void closedEarly++,
            () => void closedEarly++,
          ),
        );
      }));
    }
    await delay(settleMs);
    const afterKiB = await rssKiB(server.pid);
    const open = connections - failed - closedEarly;
    return { spec, beforeKiB, afterKiB, open, closedEarly, failed };
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await Promise.all(ended);
  }
}

function format(value: number, digits: number): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

async function main(): Promise<void> {
  let connections = Number(flag("connections") ?? "2000");
  const settleMs = Number(flag("settle") ?? "1500");
  const only = new RegExp(flag("only") ?? ".");
  if (!Number.isInteger(connections) || connections < 1) {
    throw new RangeError(
      `Cannot run: --connections must be a positive integer, received "${
        flag("connections")
      }"`,
    );
  }
  if (!Number.isFinite(settleMs) || settleMs < 0) {
    throw new RangeError(
      `Cannot run: --settle must be >= 0, received "${flag("settle")}"`,
    );
  }
  // This process and the server each hold one descriptor a connection.
  const limit = await openFileLimit();
  if (connections + 200 > limit) {
    const fewer = Math.max(1, limit - 200);
    console.error(
      `Open file limit is ${limit}: using ${fewer} connections instead of ${connections} (raise it with "ulimit -n")`,
    );
    connections = fewer;
  }
  const missing = await reaperMissing();
  const specs = benchServers({ nodeKeepAlive: 600_000, floor: true })
    .filter((spec) => only.test(spec.key));
  const results: Result[] = [];
  const notes: string[] = [];
  for (const spec of specs) {
    if (spec.key.startsWith("reaper_") && missing) {
      notes.push(`${spec.name}: ${missing}`);
      continue;
    }
    console.error(`${spec.name}: ${connections} idle connections`);
    try {
      const result = await measure(spec, connections, settleMs);
      results.push(result);
      if (result.failed || result.closedEarly) {
        notes.push(
          `${spec.name}: ${result.failed} connections failed, ${result.closedEarly} closed by the server before the reading`,
        );
      }
    } catch (error) {
      notes.push(`${spec.name}: failed: ${String(error).split("\n")[0]}`);
    }
  }
  const perConn = (r: Result): number =>
    r.open > 0 ? (r.afterKiB - r.beforeKiB) / r.open : NaN;
  const base = results.find((r) => r.spec.key === "deno_serve");
  console.log(
    `\nIdle keep-alive connections: ${connections}, one request each; VmRSS of the server process (${
      new Date().toISOString().slice(0, 16).replace("T", " ")
    } UTC, Deno ${Deno.version.deno})\n`,
  );
  console.log(
    "| server | RSS before (MiB) | RSS after (MiB) | idle connections | KiB per idle connection | × raw Deno.serve |",
  );
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const ratio = base ? format(perConn(r) / perConn(base), 2) : "—";
    console.log(
      `| ${r.spec.name} | ${format(r.beforeKiB / 1024, 1)} | ${
        format(r.afterKiB / 1024, 1)
      } | ${r.open} | ${format(perConn(r), 1)} | ${ratio} |`,
    );
  }
  if (notes.length) console.log("\n" + notes.map((n) => `- ${n}`).join("\n"));
}

if (import.meta.main) await main();
