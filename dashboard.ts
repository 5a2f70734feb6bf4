// Copyright 2026 the Reaper authors. MIT license.
/**
 * A live dashboard of a server's connections and their timers.
 *
 * {@linkcode createDashboard} returns a handler that serves, under a path
 * prefix (`/_reaper` by default):
 *
 * - `GET {prefix}/`: a self-contained HTML page (inline CSS and script, no
 *   external resources) that draws every open connection as a bar shrinking
 *   toward the expiry of its timer, the counters of the server and a chart of
 *   closes by reason over the last minute;
 * - `GET {prefix}/stats`: the same data as JSON,
 *   `{ stats, connections, now }`;
 * - `GET {prefix}/events`: that JSON as Server-Sent Events, one event every
 *   `interval` milliseconds.
 *
 * The handler returns `undefined` for a path outside the prefix, so it chains
 * in front of an application's handler.
 *
 * @example Usage
 * ```ts ignore
 * import { createDashboard, serve } from "./mod.ts";
 *
 * // The dashboard answers under /_reaper/, the application everywhere else.
 * const server = serve({ port: 8000 }, (req, info) =>
 *   dashboard(req, info) ?? new Response("Hello"));
 * const dashboard = createDashboard(server);
 * ```
 *
 * @module
 */

import type { ConnectionInfo, ServeHandlerInfo, ServerStats } from "./types.ts";

/** Where the dashboard reads its data from. The server `serve()` returns fits. */
export interface DashboardSource {
  /** Returns the counters and gauges of the server. */
  stats(): ServerStats;
  /** Returns the open connections, soonest deadline first. */
  connections(): ConnectionInfo[];
}

/** Options for {@linkcode createDashboard}. */
export interface DashboardOptions {
  /**
   * The path the dashboard lives under. It must start with `/`; a trailing
   * `/` is ignored.
   *
   * @default {"/_reaper"}
   */
  prefix?: string;
  /**
   * Who may see the dashboard. With `"loopback"`, a client whose address is
   * not a loopback address (`127.0.0.0/8`, `::1`, `::ffff:127.0.0.0/104`)
   * gets `404`, as if the dashboard did not exist. A client on a Unix domain
   * socket counts as loopback: it runs on the same host, and the socket
   * file's permissions say who may connect. Behind a reverse proxy on the
   * same host (TCP or Unix socket) every client looks like loopback: do not
   * expose the dashboard through one.
   *
   * @default {"loopback"}
   */
  allow?: "loopback" | "all";
  /**
   * How often the event stream pushes a snapshot, in milliseconds.
   *
   * @default {500}
   */
  interval?: number;
}

/**
 * The most connections listed in one snapshot (the ones with the soonest
 * deadlines). `stats.open.total` still counts them all.
 */
const MAX_LISTED = 1000;

/**
 * Creates the dashboard handler for a server.
 *
 * The event stream calls `info.setTimeout(0)`, so the server's stall and
 * request timeouts never cut it; it stops when the client goes away (the
 * request's signal aborts or the body stream is cancelled), and after the
 * first snapshot that shows a shutdown, so that it does not hold up a
 * graceful shutdown. Snapshots list at
 * most 1,000 connections, the ones with the soonest deadlines.
 *
 * @example Usage
 * ```ts
 * import {
 *   createDashboard,
 *   type DashboardOptions,
 *   type DashboardSource,
 * } from "./dashboard.ts";
 * import type { ServeHandlerInfo } from "./types.ts";
 * import { assertEquals } from "@std/assert";
 *
 * // A server is a source; this one is made up.
 * const source: DashboardSource = {
 *   stats: () => ({
 *     engine: "portable",
 *     open: { total: 0, new: 0, reading: 0, active: 0, writing: 0, idle: 0 },
 *     accepted: 3,
 *     requests: 5,
 *     streams: 0,
 *     webSockets: 0,
 *     effective: { idleTimeout: 65_000, headerTimeout: 20_000 },
 *     closed: {
 *       idle: 3, headerTimeout: 0, requestTimeout: 0, maxConnections: 0,
 *       maxConnectionsPerClient: 0, evicted: 0,
 *       shutdown: 0, client: 0, done: 0, error: 0,
 *     },
 *     shuttingDown: false,
 *   }),
 *   connections: () => [],
 * };
 * const options: DashboardOptions = { prefix: "/_reaper", allow: "loopback" };
 * const dashboard = createDashboard(source, options);
 * const info: ServeHandlerInfo = {
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
 *   completed: Promise.resolve(),
 *   setTimeout() {},
 * };
 *
 * const res = dashboard(new Request("http://localhost/_reaper/stats"), info);
 * assertEquals(res?.status, 200);
 * assertEquals((await res?.json()).stats.closed.idle, 3);
 * assertEquals(dashboard(new Request("http://localhost/"), info), undefined);
 * ```
 *
 * @param source Where the data comes from, usually the server.
 * @param options Options.
 * @returns The handler.
 * @throws {TypeError} If `prefix` is not a string or `allow` is not
 * `"loopback"` or `"all"`.
 * @throws {RangeError} If `prefix` does not start with `/` or is only `/`,
 * or `interval` is not a positive finite number.
 */
export function createDashboard(
  source: DashboardSource,
  options: DashboardOptions = {},
): (
  request: Request,
  info: ServeHandlerInfo<Deno.NetAddr | Deno.UnixAddr>,
) => Response | undefined {
  const prefix = checkPrefix(options.prefix ?? "/_reaper");
  const allow = options.allow ?? "loopback";
  if (allow !== "loopback" && allow !== "all") {
    throw new TypeError(
      `Cannot create dashboard: allow must be "loopback" or "all", received ${
        quote(allow)
      }`,
    );
  }
  const interval = options.interval ?? 500;
  if (
    typeof interval !== "number" || !Number.isFinite(interval) || interval <= 0
  ) {
    throw new RangeError(
      `Cannot create dashboard: interval must be a positive finite number, received ${
        quote(interval)
      }`,
    );
  }
  const base = prefix + "/";

  return (
    request: Request,
    info: ServeHandlerInfo<Deno.NetAddr | Deno.UnixAddr>,
  ): Response | undefined => {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path !== prefix && !path.startsWith(base)) return undefined;
    if (allow === "loopback" && !isLocal(info.remoteAddr)) {
      return notFound();
    }
    const route = path === prefix ? null : path.slice(base.length);
    if (
      route !== null && route !== "" && route !== "stats" && route !== "events"
    ) {
      return notFound();
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed\n", {
        status: 405,
        headers: { "allow": "GET, HEAD", "content-type": TEXT },
      });
    }
    const head = request.method === "HEAD";
    if (route === null) {
      return new Response(null, {
        status: 301,
        headers: { "location": base + url.search },
      });
    }
    if (route === "") {
      return new Response(head ? null : PAGE, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
          "content-security-policy": CSP,
          "x-content-type-options": "nosniff",
          "referrer-policy": "no-referrer",
        },
      });
    }
    if (route === "stats") {
      return new Response(head ? null : snapshot(source), {
        headers: { "content-type": JSON_TYPE, "cache-control": "no-store" },
      });
    }
    const headers = {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    };
    if (head) return new Response(null, { headers });
    info.setTimeout(0);
    return new Response(eventStream(source, request.signal, interval), {
      headers,
    });
  };
}

/** Whether a client is on this host: a Unix socket or a loopback address. */
function isLocal(addr: Deno.NetAddr | Deno.UnixAddr): boolean {
  return "path" in addr || isLoopback(addr.hostname);
}

/**
 * Whether an IP address is a loopback address: `127.0.0.0/8`, `::1`, or
 * `127.0.0.0/8` mapped into IPv6 (`::ffff:127.0.0.1`). Names such as
 * `localhost` are not addresses and do not count.
 */
function isLoopback(hostname: string): boolean {
  if (isLoopbackV4(hostname)) return true;
  let host = hostname;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const zone = host.indexOf("%");
  if (zone !== -1) host = host.slice(0, zone);
  const groups = parseIPv6(host);
  if (groups === null) return false;
  if (groups.slice(0, 5).some((g) => g !== 0)) return false;
  // ::1
  if (groups[5] === 0 && groups[6] === 0 && groups[7] === 1) return true;
  // ::ffff:127.x.y.z
  return groups[5] === 0xffff && groups[6] >> 8 === 127;
}

function isLoopbackV4(host: string): boolean {
  return isIPv4(host) && host.startsWith("127.");
}

/** Parses an IPv6 address into its eight 16-bit groups, or `null`. */
function parseIPv6(host: string): number[] | null {
  if (!host.includes(":")) return null;
  const lastColon = host.lastIndexOf(":");
  const last = host.slice(lastColon + 1);
  if (last.includes(".")) {
    // An embedded IPv4 address stands for the last two groups.
    if (!isIPv4(last)) return null;
    const [a, b, c, d] = last.split(".").map(Number);
    host = host.slice(0, lastColon + 1) + ((a << 8) | b).toString(16) + ":" +
      ((c << 8) | d).toString(16);
  }
  const halves = host.split("::");
  if (halves.length > 2) return null;
  const left = parseGroups(halves[0]);
  const right = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (left === null || right === null) return null;
  if (halves.length === 1) return left.length === 8 ? left : null;
  const missing = 8 - left.length - right.length;
  if (missing < 1) return null;
  return [...left, ...new Array<number>(missing).fill(0), ...right];
}

function parseGroups(s: string): number[] | null {
  if (s === "") return [];
  const out: number[] = [];
  for (const group of s.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    out.push(parseInt(group, 16));
  }
  return out;
}

function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== "string") {
    throw new TypeError(
      `Cannot create dashboard: prefix must be a string, received ${
        quote(prefix)
      }`,
    );
  }
  const trimmed = prefix.replace(/\/+$/, "");
  if (!prefix.startsWith("/") || trimmed === "" || /[?#\s]/.test(prefix)) {
    throw new RangeError(
      `Cannot create dashboard: prefix must be a path such as "/_reaper", received ${
        quote(prefix)
      }`,
    );
  }
  return trimmed;
}

function quote(value: unknown): string {
  return typeof value === "string" ? `"${value}"` : String(value);
}

const TEXT = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

function notFound(): Response {
  return new Response("Not Found\n", {
    status: 404,
    headers: { "content-type": TEXT },
  });
}

function snapshot(source: DashboardSource): string {
  return JSON.stringify(takeSnapshot(source));
}

function takeSnapshot(
  source: DashboardSource,
): { stats: ServerStats; connections: ConnectionInfo[]; now: number } {
  const stats = source.stats();
  let connections = source.connections();
  if (connections.length > MAX_LISTED) {
    connections = connections.slice(0, MAX_LISTED);
  }
  return { stats, connections, now: Date.now() };
}

function eventStream(
  source: DashboardSource,
  signal: AbortSignal,
  interval: number,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;
  let onAbort = (): void => {};
  const stop = (): void => {
    stopped = true;
    clearInterval(timer);
    signal.removeEventListener("abort", onAbort);
  };
  return new ReadableStream<Uint8Array>({
    start(controller): void {
      if (signal.aborted) {
        stopped = true;
        controller.close();
        return;
      }
      onAbort = (): void => {
        if (stopped) return;
        stop();
        controller.close();
      };
      const push = (): void => {
        // A reader that falls behind skips snapshots instead of queueing them.
        if ((controller.desiredSize ?? 1) <= 0) return;
        let data;
        try {
          data = takeSnapshot(source);
        } catch {
          stop();
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(data)}\n\n`));
        // A graceful shutdown waits for responses in flight: this one ends
        // with the snapshot that shows the shutdown.
        if (data.stats.shuttingDown) {
          stop();
          controller.close();
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
      push();
      if (!stopped) timer = setInterval(push, interval);
    },
    cancel(): void {
      stop();
    },
  });
}

const CSP = "default-src 'none'; style-src 'unsafe-inline'; " +
  "script-src 'unsafe-inline'; connect-src 'self'; img-src data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Reaper · connections</title>
<link rel="icon" href="data:,">
<style>
:root {
  --bg: #f6f7f9; --panel: #ffffff; --text: #1c2430; --muted: #667085; --line: #e4e7ec;
  --track: #eef0f3; --none: #c3c8d0;
  --new: #8b5cf6; --reading: #7c3aed; --active: #2563eb; --writing: #0d9488; --idle: #d97706;
  --r-idle: #d97706; --r-headerTimeout: #9333ea; --r-requestTimeout: #db2777;
  --r-maxConnections: #475569; --r-maxConnectionsPerClient: #64748b;
  --r-evicted: #b45309; --r-shutdown: #0891b2; --r-client: #16a34a;
  --r-done: #2563eb; --r-error: #dc2626;
  --urgent: #dc2626; --ok: #16a34a;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1318; --panel: #171c23; --text: #e6e9ee; --muted: #98a2b3; --line: #2a313b;
    --track: #232a33; --none: #4a5360; --r-maxConnections: #94a3b8;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif;
}
.wrap { max-width: 1080px; margin: 0 auto; padding: 16px; }
header { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; margin-bottom: 14px; }
h1 { font-size: 19px; margin: 0; letter-spacing: -0.01em; }
h1 small { color: var(--muted); font-weight: 500; font-size: 14px; }
h2 { font-size: 12px; font-weight: 600; margin: 0 0 10px; color: var(--muted);
  text-transform: uppercase; letter-spacing: .06em; display: flex; align-items: baseline; gap: 8px; }
h2 .aside { margin-left: auto; text-transform: none; letter-spacing: 0; font-weight: 500; }
.spacer { flex: 1; }
.badge { display: inline-flex; align-items: center; gap: 6px; padding: 2px 10px; border-radius: 999px;
  border: 1px solid var(--line); background: var(--panel); color: var(--muted); font-size: 12px; white-space: nowrap; }
.badge b { color: var(--text); font-weight: 600; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: var(--none); }
#live[data-live="true"] .dot { background: var(--ok); box-shadow: 0 0 0 3px color-mix(in srgb, var(--ok) 25%, transparent); }
#live[data-live="false"] .dot { background: var(--urgent); }
#shutting[hidden] { display: none; }
#shutting { border-color: var(--urgent); color: var(--urgent); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px; margin-bottom: 14px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 14px; margin-bottom: 14px; }
.grid .panel { margin-bottom: 0; }
.big { display: flex; gap: 22px; flex-wrap: wrap; }
.big div { display: flex; flex-direction: column; }
.big span { color: var(--muted); font-size: 12px; }
.big output { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.15; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 10px; }
.chip { display: inline-flex; align-items: center; gap: 6px; padding: 3px 9px; border-radius: 6px;
  background: var(--track); font-size: 12px; white-space: nowrap; }
.chip output { font-weight: 650; font-variant-numeric: tabular-nums; }
.sw { width: 9px; height: 9px; border-radius: 2px; flex: none; }
.chip.zero { opacity: .55; }
.chip.bump { animation: bump .9s ease-out; }
@keyframes bump { from { box-shadow: 0 0 0 2px var(--c, var(--muted)); } to { box-shadow: 0 0 0 2px transparent; } }
#chart { width: 100%; height: 110px; display: block; }
.axis { display: flex; justify-content: space-between; color: var(--muted); font-size: 11px; margin-top: 4px; }
#conns { list-style: none; margin: 0; padding: 0; }
.conn { padding: 9px 0; border-top: 1px solid var(--line); transition: opacity .7s ease; }
.conn:first-child { border-top: 0; }
.conn-head { display: flex; align-items: baseline; gap: 8px; flex-wrap: wrap; margin-bottom: 5px; }
.conn-id { color: var(--muted); font-variant-numeric: tabular-nums; min-width: 2.5em; }
.conn-addr { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.pill { font-size: 11px; font-weight: 600; padding: 1px 8px; border-radius: 999px; color: #fff; background: var(--none); }
.conn-meta { margin-left: auto; color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.conn-meta b { color: var(--text); font-weight: 600; }
.track { position: relative; height: 20px; border-radius: 5px; background: var(--track); overflow: hidden; }
.fill { position: absolute; inset: 0 auto 0 0; width: 100%; border-radius: 5px; background: var(--none); }
.left { position: absolute; right: 8px; top: 0; line-height: 20px; font-size: 12px; font-weight: 600;
  font-variant-numeric: tabular-nums; color: var(--text); text-shadow: 0 0 3px var(--panel); }
.conn[data-state="new"] .pill, .conn[data-state="new"] .fill { background: var(--new); }
.conn[data-state="reading"] .pill, .conn[data-state="reading"] .fill { background: var(--reading); }
.conn[data-state="active"] .pill, .conn[data-state="active"] .fill { background: var(--active); }
.conn[data-state="writing"] .pill, .conn[data-state="writing"] .fill { background: var(--writing); }
.conn[data-state="idle"] .pill, .conn[data-state="idle"] .fill { background: var(--idle); }
.conn[data-timer="none"] .fill { background: var(--none); }
.conn[data-timer="none"] .left { color: var(--muted); font-weight: 500; }
.conn.urgent .fill { background: var(--urgent); }
.conn.entering { animation: enter 1.2s ease-out; }
@keyframes enter { from { background: color-mix(in srgb, var(--active) 14%, transparent); } to { background: transparent; } }
.conn.leaving .pill { background: var(--urgent); }
.conn.leaving .fill { width: 0 !important; }
.conn.leaving .left { visibility: hidden; }
.conn.gone { opacity: 0; }
.empty { color: var(--muted); text-align: center; padding: 18px 0 8px; }
.empty[hidden] { display: none; }
.more { color: var(--muted); font-size: 12px; padding-top: 8px; }
.legend { display: flex; gap: 12px; flex-wrap: wrap; color: var(--muted); font-size: 12px; margin-top: 10px; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
body.stale #conns { opacity: .55; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 4px 0 16px; }
@media (max-width: 560px) {
  .wrap { padding: 10px; }
  .big output { font-size: 22px; }
  .conn-meta { margin-left: 0; width: 100%; }
}
@media (prefers-reduced-motion: reduce) { .conn, .conn.entering, .chip.bump { transition: none; animation: none; } }
</style>
</head>
<body>
<div class="wrap">
<header>
  <h1>Reaper <small>connections</small></h1>
  <span class="badge" id="live" data-live="connecting"><span class="dot"></span><span id="live-text">connecting…</span></span>
  <span class="badge">engine <b id="engine">–</b></span>
  <span class="badge" id="shutting" hidden>shutting down</span>
  <span class="badge" title="The idle and header timeouts in force (less than set under pressure)">timeouts <b id="effective">–</b></span>
  <span class="spacer"></span>
  <span class="badge">updated <b id="updated">–</b></span>
</header>

<div class="grid">
  <section class="panel" aria-labelledby="h-totals">
    <h2 id="h-totals">Totals</h2>
    <div class="big">
      <div><span>accepted</span><output id="accepted">0</output></div>
      <div><span>requests</span><output id="requests">0</output></div>
      <div><span>open</span><output id="open-total">0</output></div>
      <div><span>streams</span><output id="streams">0</output></div>
      <div><span>WebSockets</span><output id="websockets">0</output></div>
      <div><span>closed</span><output id="closed-total">0</output></div>
    </div>
    <div class="chips" id="open-states" aria-label="Open connections by state">
      <span class="chip" data-state="new" style="--c:var(--new)"><span class="sw" style="background:var(--c)"></span>new <output id="open-new">0</output></span>
      <span class="chip" data-state="reading" style="--c:var(--reading)"><span class="sw" style="background:var(--c)"></span>reading <output id="open-reading">0</output></span>
      <span class="chip" data-state="active" style="--c:var(--active)"><span class="sw" style="background:var(--c)"></span>active <output id="open-active">0</output></span>
      <span class="chip" data-state="writing" style="--c:var(--writing)"><span class="sw" style="background:var(--c)"></span>writing <output id="open-writing">0</output></span>
      <span class="chip" data-state="idle" style="--c:var(--idle)"><span class="sw" style="background:var(--c)"></span>idle <output id="open-idle">0</output></span>
    </div>
  </section>
  <section class="panel" aria-labelledby="h-closed">
    <h2 id="h-closed">Closed by reason</h2>
    <div class="chips" id="closed-reasons">
      <span class="chip" data-reason="idle" title="idleTimeout ran out" style="--c:var(--r-idle)"><span class="sw" style="background:var(--c)"></span>idle <output id="closed-idle">0</output></span>
      <span class="chip" data-reason="headerTimeout" title="The request head did not arrive in time" style="--c:var(--r-headerTimeout)"><span class="sw" style="background:var(--c)"></span>header timeout <output id="closed-headerTimeout">0</output></span>
      <span class="chip" data-reason="requestTimeout" title="The request took longer than requestTimeout" style="--c:var(--r-requestTimeout)"><span class="sw" style="background:var(--c)"></span>request timeout <output id="closed-requestTimeout">0</output></span>
      <span class="chip" data-reason="maxConnections" title="Refused: maxConnections were open" style="--c:var(--r-maxConnections)"><span class="sw" style="background:var(--c)"></span>max connections <output id="closed-maxConnections">0</output></span>
      <span class="chip" data-reason="maxConnectionsPerClient" title="Refused: the client had maxConnectionsPerClient open" style="--c:var(--r-maxConnectionsPerClient)"><span class="sw" style="background:var(--c)"></span>per-client limit <output id="closed-maxConnectionsPerClient">0</output></span>
      <span class="chip" data-reason="evicted" title="Closed while waiting without a request, to make room for a new connection" style="--c:var(--r-evicted)"><span class="sw" style="background:var(--c)"></span>evicted <output id="closed-evicted">0</output></span>
      <span class="chip" data-reason="shutdown" title="Closed by a shutdown" style="--c:var(--r-shutdown)"><span class="sw" style="background:var(--c)"></span>shutdown <output id="closed-shutdown">0</output></span>
      <span class="chip" data-reason="client" title="The client closed it" style="--c:var(--r-client)"><span class="sw" style="background:var(--c)"></span>client <output id="closed-client">0</output></span>
      <span class="chip" data-reason="done" title="Ended after a response, as HTTP asked" style="--c:var(--r-done)"><span class="sw" style="background:var(--c)"></span>done <output id="closed-done">0</output></span>
      <span class="chip" data-reason="error" title="Protocol or I/O error" style="--c:var(--r-error)"><span class="sw" style="background:var(--c)"></span>error <output id="closed-error">0</output></span>
    </div>
  </section>
</div>

<section class="panel" aria-labelledby="h-chart">
  <h2 id="h-chart">Closes per second by reason <span class="aside" id="chart-peak"></span></h2>
  <canvas id="chart" role="img" aria-label="Closes per second over the last minute, stacked by reason"></canvas>
  <div class="axis"><span>−60 s</span><span>−30 s</span><span>now</span></div>
</section>

<section class="panel" aria-labelledby="h-conns">
  <h2 id="h-conns">Open connections <span class="aside">soonest deadline first</span></h2>
  <ul id="conns"></ul>
  <p class="empty" id="conns-empty">No open connections.</p>
  <p class="more" id="conns-more" hidden></p>
</section>
<footer>Each bar is the share left of the timer that will close the connection first. Grey: no timer applies.</footer>
</div>
<noscript><p style="text-align:center">The dashboard needs JavaScript. The raw data is at <a href="stats">stats</a>.</p></noscript>
<script>
(function () {
  "use strict";
  var REASONS = ["idle", "headerTimeout", "requestTimeout", "maxConnections", "maxConnectionsPerClient", "evicted", "shutdown", "client", "done", "error"];
  var STATES = ["new", "reading", "active", "writing", "idle"];
  var TIMER_NAMES = { idle: "idle timeout", headerTimeout: "header timeout", requestTimeout: "request timeout" };
  var BUCKET_MS = 1000;
  var BUCKETS = 60;
  var $ = function (id) { return document.getElementById(id); };
  var list = $("conns");
  var rows = new Map();
  var last = null;
  var primed = false;
  var receivedAt = 0;
  var prevClosed = null;
  var buckets = [];
  var cssVars = getComputedStyle(document.documentElement);

  function fmtMs(ms) {
    ms = Math.max(0, ms);
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 10000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 60000) return Math.floor(ms / 1000) + " s";
    if (ms < 3600000) return Math.floor(ms / 60000) + " m " + Math.floor((ms % 60000) / 1000) + " s";
    return Math.floor(ms / 3600000) + " h " + Math.floor((ms % 3600000) / 60000) + " m";
  }
  function fmtAddr(a) {
    if (!a) return "?";
    if (a.transport === "unix") return String(a.path);
    return a.hostname.indexOf(":") >= 0 ? "[" + a.hostname + "]:" + a.port : a.hostname + ":" + a.port;
  }
  function setText(el, text) {
    text = String(text);
    if (el.textContent !== text) el.textContent = text;
  }
  function setCount(id, n) {
    var el = $(id);
    var old = el.textContent;
    var text = Number(n || 0).toLocaleString("en-US");
    var chip = el.closest(".chip");
    if (chip) chip.classList.toggle("zero", !n);
    if (old === text) return;
    el.textContent = text;
    if (chip) {
      if (primed) {
        chip.classList.remove("bump");
        void chip.offsetWidth;
        chip.classList.add("bump");
      }
    }
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function makeRow(c) {
    var li = el("li", "conn");
    li.dataset.connId = String(c.id);
    li.dataset.remote = fmtAddr(c.remoteAddr);
    var head = el("div", "conn-head");
    var state = el("span", "pill");
    var meta = el("span", "conn-meta");
    var age = el("b"), idle = el("b"), reqs = el("b");
    meta.append("age ", age, " · idle ", idle, " · ", reqs);
    head.append(el("span", "conn-id", "#" + c.id), el("span", "conn-addr", fmtAddr(c.remoteAddr)), state, meta);
    var track = el("div", "track");
    var fill = el("div", "fill");
    var left = el("span", "left");
    track.append(fill, left);
    li.append(head, track);
    return { el: li, state: state, age: age, idle: idle, reqs: reqs, fill: fill, left: left, track: track, c: c };
  }

  function paint(r, dt) {
    var c = r.c;
    setText(r.age, fmtMs(c.ageMs + dt));
    // Between snapshots a quiet connection stays quiet; a busy one may not.
    var quiet = c.state === "idle" || c.state === "new" || c.state === "reading";
    setText(r.idle, fmtMs(c.idleMs + (quiet ? dt : 0)));
    if (c.remainingMs == null || c.timer == null) {
      r.el.dataset.timer = "none";
      r.fill.style.width = "100%";
      r.el.classList.remove("urgent");
      setText(r.left, "no timer");
      if (r.track.title !== "") r.track.title = "";
      return;
    }
    // The share of the timer in force that is left: exact, from the data.
    r.el.dataset.timer = c.timer;
    var left = Math.max(0, c.remainingMs - dt);
    var frac = c.timeoutMs > 0 ? Math.min(1, left / c.timeoutMs) : 0;
    r.fill.style.width = (frac * 100).toFixed(2) + "%";
    r.el.classList.toggle("urgent", frac < 0.2);
    var timer = TIMER_NAMES[c.timer] || c.timer;
    setText(r.left, (left <= 0 ? "expiring" : fmtMs(left) + " left") + " · " + timer);
    var title = timer + " of " + fmtMs(c.timeoutMs);
    if (r.track.title !== title) r.track.title = title;
  }

  var REASON_TEXT = {
    idle: "idle timeout", headerTimeout: "header timeout", requestTimeout: "request timeout",
    maxConnections: "max connections", shutdown: "shutdown", client: "client closed",
    done: "done", error: "error"
  };

  // A row leaves with the reason it was closed for, when the counters tell:
  // every close since the last snapshot had the same reason.
  function retire(r, reason) {
    var li = r.el;
    delete li.dataset.connId;
    li.dataset.goneId = String(r.c.id);
    if (reason) li.dataset.reason = reason;
    setText(r.state, reason ? "closed · " + REASON_TEXT[reason] : "closed");
    li.classList.add("leaving");
    setTimeout(function () { li.classList.add("gone"); }, 900);
    setTimeout(function () { li.remove(); }, 1600);
  }

  function renderConns(conns, total, reason) {
    var seen = new Set();
    conns.forEach(function (c) { seen.add(c.id); });
    rows.forEach(function (r, id) {
      if (!seen.has(id)) { rows.delete(id); retire(r, reason); }
    });
    var prevEl = null;
    for (var i = 0; i < conns.length; i++) {
      var c = conns[i];
      var r = rows.get(c.id);
      if (!r) {
        r = makeRow(c);
        rows.set(c.id, r);
        if (primed) r.el.classList.add("entering");
      }
      r.c = c;
      r.el.dataset.state = c.state;
      setText(r.state, c.state);
      setText(r.reqs, c.requests + (c.requests === 1 ? " request" : " requests") + (c.streams > 1 ? " · " + c.streams + " streams" : ""));
      // Rows on their way out keep their place; the others follow the data.
      var want = prevEl ? prevEl.nextSibling : list.firstChild;
      while (want && !want.dataset.connId) want = want.nextSibling;
      if (want !== r.el) list.insertBefore(r.el, want);
      prevEl = r.el;
    }
    $("conns-empty").hidden = conns.length > 0;
    var more = $("conns-more");
    more.hidden = total <= conns.length;
    setText(more, "+ " + (total - conns.length) + " more not listed");
  }

  function recordCloses(closed, now) {
    var t = Math.floor(now / BUCKET_MS);
    var b = buckets[buckets.length - 1];
    if (!b || b.t !== t) { b = { t: t, counts: {} }; buckets.push(b); }
    if (prevClosed) {
      REASONS.forEach(function (r) {
        var d = (closed[r] || 0) - (prevClosed[r] || 0);
        if (d > 0) b.counts[r] = (b.counts[r] || 0) + d;
      });
    }
    prevClosed = closed;
    while (buckets.length && buckets[0].t <= t - BUCKETS) buckets.shift();
    drawChart(t);
  }

  var chartT = 0;
  function drawChart(t) {
    if (t != null) chartT = t;
    var canvas = $("chart");
    var w = canvas.clientWidth, h = canvas.clientHeight;
    var dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var byT = new Map();
    var peak = 0;
    buckets.forEach(function (b) {
      byT.set(b.t, b);
      var sum = 0;
      for (var k in b.counts) sum += b.counts[k];
      if (sum > peak) peak = sum;
    });
    var top = 8, bottom = h - 1;
    var plotH = bottom - top;
    ctx.strokeStyle = cssVars.getPropertyValue("--line").trim() || "#ddd";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, bottom + 0.5); ctx.lineTo(w, bottom + 0.5);
    ctx.moveTo(0, top + 0.5); ctx.lineTo(w, top + 0.5);
    ctx.stroke();
    var slot = w / BUCKETS;
    var bar = Math.max(1, slot - Math.max(1, slot * 0.2));
    var scale = peak > 0 ? plotH / peak : 0;
    for (var i = 0; i < BUCKETS; i++) {
      var b = byT.get(chartT - (BUCKETS - 1) + i);
      if (!b) continue;
      var y = bottom;
      for (var j = 0; j < REASONS.length; j++) {
        var n = b.counts[REASONS[j]];
        if (!n) continue;
        var bh = n * scale;
        ctx.fillStyle = cssVars.getPropertyValue("--r-" + REASONS[j]).trim();
        ctx.fillRect(i * slot + (slot - bar) / 2, y - bh, bar, bh);
        y -= bh;
      }
    }
    if (peak === 0) {
      ctx.fillStyle = cssVars.getPropertyValue("--muted").trim();
      ctx.font = "12px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText("No closes in the last minute", w / 2, h / 2 + 4);
    }
    setText($("chart-peak"), peak > 0 ? "peak " + peak + "/s" : "");
  }

  function apply(snap) {
    var s = snap.stats;
    last = snap;
    receivedAt = performance.now();
    setText($("engine"), s.engine);
    $("shutting").hidden = !s.shuttingDown;
    setText($("updated"), new Date(snap.now).toLocaleTimeString());
    setCount("accepted", s.accepted);
    setCount("requests", s.requests);
    setCount("open-total", s.open.total);
    setCount("streams", s.streams || 0);
    setCount("websockets", s.webSockets || 0);
    if (s.effective) {
      setText($("effective"), "idle " + fmtMs(s.effective.idleTimeout) + " · header " + fmtMs(s.effective.headerTimeout));
    }
    STATES.forEach(function (st) { setCount("open-" + st, s.open[st]); });
    var total = 0;
    var reasons = [];
    REASONS.forEach(function (r) {
      total += s.closed[r] || 0;
      if (prevClosed && (s.closed[r] || 0) > (prevClosed[r] || 0)) reasons.push(r);
      setCount("closed-" + r, s.closed[r]);
    });
    setCount("closed-total", total);
    recordCloses(s.closed, snap.now);
    renderConns(snap.connections, s.open.total, reasons.length === 1 ? reasons[0] : null);
    primed = true;
  }

  // Bars move every frame; with many rows, ten times a second is enough.
  var paintedAt = 0;
  function frame(t) {
    if (last && (rows.size <= 200 || t - paintedAt >= 100)) {
      paintedAt = t;
      var dt = performance.now() - receivedAt;
      rows.forEach(function (r) { paint(r, dt); });
    }
    requestAnimationFrame(frame);
  }

  var source = null;
  var retryMs = 500;
  var retryTimer = 0;
  function setLive(live) {
    var badge = $("live");
    badge.dataset.live = String(live);
    setText($("live-text"), live ? "live" : "reconnecting…");
    document.body.classList.toggle("stale", !live);
  }
  function connect() {
    source = new EventSource("events");
    source.onopen = function () { retryMs = 500; };
    source.onmessage = function (e) {
      var snap;
      try { snap = JSON.parse(e.data); } catch (err) { console.error(err); return; }
      apply(snap);
      setLive(true);
    };
    source.onerror = function () {
      setLive(false);
      source.close();
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 8000);
    };
  }

  window.addEventListener("resize", function () { drawChart(); });
  drawChart(Math.floor(Date.now() / BUCKET_MS));
  connect();
  requestAnimationFrame(frame);
})();
</script>
</body>
</html>
`;
