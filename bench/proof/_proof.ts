// Copyright 2026 the Reaper authors. MIT license.
/**
 * Helpers shared by the proof scripts: the server under test
 * (`_server.ts`) as a child process, its close log and stats, CPU time and
 * memory of a process, percentiles and the pass/fail line.
 *
 * @module
 */

import {
  type RunningServer,
  type ServerSpec,
  startServer,
} from "../_servers.ts";

export { flag, get, readResponse, requestBytes, rssKiB } from "../_servers.ts";
export type { RunningServer, ServerSpec };
export { startServer };

const SERVER = new URL("./_server.ts", import.meta.url).pathname;
const NODE_HTTP = new URL("../servers/node_http.mjs", import.meta.url)
  .pathname;

/** Which server `_server.ts` runs. */
export type ProofServerKind =
  | "deno"
  | "reaper-portable"
  | "reaper-native";

/** The printed name of each server kind. */
export const SERVER_NAMES: Readonly<Record<ProofServerKind | "node", string>> =
  {
    "deno": "raw Deno.serve",
    "reaper-portable": "Reaper portable",
    "reaper-native": "Reaper native",
    "node": "Node http",
  };

/**
 * The spec of the proof server of one kind.
 *
 * @param kind Which server.
 * @param options Reaper options (JSON-serialisable), merged over its defaults.
 * @param denoFlags Extra flags for `deno run` (such as `--unstable-net`).
 * @returns The spec, listening on a free port.
 */
export function proofServer(
  kind: ProofServerKind,
  options: Record<string, unknown> = {},
  denoFlags: readonly string[] = [],
): ServerSpec {
  const [what, engine] = kind === "deno"
    ? ["deno", "portable"]
    : ["reaper", kind.slice("reaper-".length)];
  return {
    key: kind,
    name: SERVER_NAMES[kind],
    command: Deno.execPath(),
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      ...denoFlags,
      SERVER,
      what,
      "0",
      engine,
      JSON.stringify(options),
    ],
  };
}

/**
 * The spec of Node's `http` (`bench/servers/node_http.mjs`).
 *
 * @param keepAliveMs Node's `server.keepAliveTimeout`.
 * @returns The spec, listening on a free port.
 */
export function nodeServer(keepAliveMs: number): ServerSpec {
  return {
    key: "node",
    name: SERVER_NAMES.node,
    command: "node",
    args: [NODE_HTTP, "0", String(keepAliveMs)],
  };
}

/** One `Closed` line of `_server.ts`. */
export interface CloseRecord {
  /** The client's port. */
  readonly port: number;
  /** The close reason Reaper reported. */
  readonly reason: string;
  /** Milliseconds since the connection's last activity, at the close. */
  readonly idleMs: number;
  /** When it closed (`Date.now()` in the server). */
  readonly at: number;
}

/**
 * The connections a proof server reported closed, in order.
 *
 * @param output What the server printed.
 * @returns One record a close.
 */
export function closes(output: string): CloseRecord[] {
  const records: CloseRecord[] = [];
  for (const match of output.matchAll(/^Closed (\d+) (\S+) (\d+) (\d+)$/gm)) {
    records.push({
      port: Number(match[1]),
      reason: match[2],
      idleMs: Number(match[3]),
      at: Number(match[4]),
    });
  }
  return records;
}

/**
 * Counts records by a key.
 *
 * @param items The items.
 * @param key What to count them by.
 * @returns The counts, as `a 3, b 1` (or `none`).
 */
export function countBy<T>(
  items: readonly T[],
  key: (item: T) => string,
): string {
  const counts = new Map<string, number>();
  for (const item of items) {
    counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  }
  if (counts.size === 0) return "none";
  return [...counts].map(([name, n]) => `${name} ${n}`).join(", ");
}

/**
 * Asks a Reaper proof server for `server.stats()` (SIGUSR2).
 *
 * @param server The running server.
 * @param timeoutMs How long to wait for the answer.
 * @returns The stats, or `null` when none came.
 */
export async function reaperStats(
  server: RunningServer,
  timeoutMs = 3_000,
): Promise<Record<string, unknown> | null> {
  const before = server.output().length;
  Deno.kill(server.pid, "SIGUSR2");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = server.output().slice(before).match(/^Stats (.*)$/m);
    if (match) return JSON.parse(match[1]);
    await sleep(50);
  }
  return null;
}

/**
 * CPU time (user + system) a process has used, from `/proc/PID/stat`.
 *
 * @param pid The process id.
 * @returns Milliseconds (at the clock tick's resolution, 10 ms on Linux).
 */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The command name may hold spaces: the fields start after its ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 (1-based), in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU time (on the CPU, every thread) a process has used, from
 * `/proc/PID/task/TID/schedstat`: nanosecond resolution, where
 * `/proc/PID/stat` counts 10 ms clock ticks.
 *
 * @param pid The process id.
 * @returns Milliseconds.
 */
export async function cpuPreciseMs(pid: number): Promise<number> {
  let ns = 0;
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    try {
      const text = await Deno.readTextFile(
        `/proc/${pid}/task/${task.name}/schedstat`,
      );
      ns += Number(text.split(" ")[0]);
    } catch { /* the thread ended meanwhile */ }
  }
  return ns / 1e6;
}

/**
 * This process's soft limit on open files.
 *
 * @returns The limit, or `Infinity` when unlimited or unknown.
 */
export async function openFileLimit(): Promise<number> {
  try {
    const limits = await Deno.readTextFile("/proc/self/limits");
    const match = limits.match(/^Max open files\s+(\S+)/m);
    return match && match[1] !== "unlimited" ? Number(match[1]) : Infinity;
  } catch {
    return Infinity;
  }
}

/**
 * The `p`-th percentile of some numbers (nearest rank).
 *
 * @param values The numbers.
 * @param p The percentile, 0–100.
 * @returns It, or `NaN` for no numbers.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/**
 * Sleeps.
 *
 * @param ms Milliseconds.
 * @returns A promise that resolves after them.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The machine's 1-minute load average, for the figures' context.
 *
 * @returns It as text, or `?`.
 */
export async function loadAverage(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
  } catch {
    return "?";
  }
}

/**
 * Prints the pass/fail line and sets the exit code.
 *
 * @param name The script's name.
 * @param pass Whether it passed.
 * @param why One line: the rule and what was seen.
 */
export function verdict(name: string, pass: boolean, why: string): void {
  console.log(`${pass ? "PASS" : "FAIL"} ${name}: ${why}`);
  if (!pass) Deno.exitCode = 1;
}
