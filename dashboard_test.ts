// Copyright 2026 the Reaper authors. MIT license.
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { createDashboard, type DashboardSource } from "./dashboard.ts";
import type { ConnectionInfo, ServeHandlerInfo, ServerStats } from "./types.ts";

function fakeStats(overrides: Partial<ServerStats> = {}): ServerStats {
  return {
    engine: "portable",
    open: { total: 2, new: 0, reading: 0, active: 1, writing: 0, idle: 1 },
    accepted: 7,
    requests: 11,
    streams: 1,
    webSockets: 0,
    effective: { idleTimeout: 65_000, headerTimeout: 20_000 },
    closed: {
      idle: 3,
      headerTimeout: 1,
      requestTimeout: 0,
      maxConnections: 0,
      maxConnectionsPerClient: 0,
      evicted: 0,
      shutdown: 0,
      client: 1,
      done: 0,
      error: 0,
    },
    shuttingDown: false,
    ...overrides,
  };
}

const CONNECTIONS: ConnectionInfo[] = [
  {
    id: 4,
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50004 },
    state: "idle",
    ageMs: 1200,
    idleMs: 900,
    remainingMs: 2100,
    timeoutMs: 3000,
    timer: "idle",
    requests: 1,
    streams: 0,
  },
  {
    id: 5,
    remoteAddr: { transport: "tcp", hostname: "::1", port: 50005 },
    state: "active",
    ageMs: 300,
    idleMs: 10,
    remainingMs: null,
    timeoutMs: null,
    timer: null,
    requests: 1,
    streams: 0,
  },
  {
    id: 6,
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50006 },
    state: "reading",
    ageMs: 700,
    idleMs: 200,
    remainingMs: 9300,
    timeoutMs: 10000,
    timer: "headerTimeout",
    requests: 0,
    streams: 0,
  },
];

class FakeSource implements DashboardSource {
  statsCalls = 0;
  accepted = 7;
  stats(): ServerStats {
    this.statsCalls++;
    return fakeStats({ accepted: this.accepted });
  }
  connections(): ConnectionInfo[] {
    return CONNECTIONS;
  }
}

interface FakeInfo extends ServeHandlerInfo {
  timeouts: number[];
}

function fakeInfo(hostname = "127.0.0.1"): FakeInfo {
  const timeouts: number[] = [];
  return {
    remoteAddr: { transport: "tcp", hostname, port: 40000 },
    completed: Promise.resolve(),
    setTimeout(ms: number): void {
      timeouts.push(ms);
    },
    timeouts,
  };
}

function must<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error("Missing value");
  return value;
}

/**
 * Tracks the intervals set and cleared while it is installed (Deno's test
 * sanitizers do not report a leaked interval).
 */
function trackIntervals(): { active: Set<unknown>; [Symbol.dispose](): void } {
  const originalSet = globalThis.setInterval;
  const originalClear = globalThis.clearInterval;
  const active = new Set<unknown>();
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const id = originalSet(...args);
    active.add(id);
    return id;
  }) as typeof setInterval;
  globalThis.clearInterval = ((id?: Parameters<typeof clearInterval>[0]) => {
    active.delete(id);
    originalClear(id);
  }) as typeof clearInterval;
  return {
    active,
    [Symbol.dispose](): void {
      for (const id of active) {
        originalClear(id as Parameters<typeof clearInterval>[0]);
      }
      globalThis.setInterval = originalSet;
      globalThis.clearInterval = originalClear;
    },
  };
}

function get(path: string, init?: RequestInit): Request {
  return new Request(`http://localhost:8000${path}`, init);
}

/** Reads `count` SSE events (their `data:` payloads) from a stream. */
async function readEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  count: number,
): Promise<string[]> {
  const decoder = new TextDecoder();
  let buffer = "";
  const events: string[] = [];
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Stream ended early");
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1 && events.length < count) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6)).join("\n");
      events.push(data);
    }
  }
  return events;
}

Deno.test("createDashboard() serves a self-contained HTML page at the prefix", async () => {
  const dashboard = createDashboard(new FakeSource());
  const res = must(dashboard(get("/_reaper/"), fakeInfo()));
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "text/html; charset=utf-8");
  assertEquals(res.headers.get("cache-control"), "no-store");
  assertStringIncludes(
    res.headers.get("content-security-policy") ?? "",
    "default-src 'none'",
  );
  const html = await res.text();
  assert(html.startsWith("<!doctype html>"));
  assertStringIncludes(html, 'id="conns"');
  assertStringIncludes(html, 'id="closed-idle"');
  assertStringIncludes(html, 'new EventSource("events")');
  // No external resource: no src or href pointing at another origin.
  assertEquals(html.match(/(src|href)="(https?:)?\/\//g), null);
  assertEquals(html.match(/<script[^>]+src=/g), null);
});

Deno.test("createDashboard() redirects the bare prefix to the page", () => {
  const dashboard = createDashboard(new FakeSource());
  const res = dashboard(get("/_reaper"), fakeInfo());
  assertEquals(res?.status, 301);
  assertEquals(res?.headers.get("location"), "/_reaper/");
  const withQuery = dashboard(get("/_reaper?x=1"), fakeInfo());
  assertEquals(withQuery?.headers.get("location"), "/_reaper/?x=1");
});

Deno.test("createDashboard() answers 404 under the prefix and undefined outside it", async () => {
  const dashboard = createDashboard(new FakeSource());
  for (const path of ["/_reaper/nope", "/_reaper/stats/", "/_reaper//"]) {
    const res = dashboard(get(path), fakeInfo());
    assertEquals(res?.status, 404, path);
    await res?.body?.cancel();
  }
  for (const path of ["/", "/_reaperx", "/x/_reaper/", "/_Reaper/", "/stats"]) {
    assertEquals(dashboard(get(path), fakeInfo()), undefined, path);
  }
});

Deno.test("createDashboard() answers 405 to methods other than GET and HEAD", async () => {
  const dashboard = createDashboard(new FakeSource());
  const res = dashboard(get("/_reaper/stats", { method: "POST" }), fakeInfo());
  assertEquals(res?.status, 405);
  assertEquals(res?.headers.get("allow"), "GET, HEAD");
  await res?.body?.cancel();
  const head = dashboard(get("/_reaper/stats", { method: "HEAD" }), fakeInfo());
  assertEquals(head?.status, 200);
  assertEquals(head?.body, null);
});

Deno.test("createDashboard() honours a custom prefix", async () => {
  const dashboard = createDashboard(new FakeSource(), { prefix: "/ops/live/" });
  assertEquals(dashboard(get("/_reaper/"), fakeInfo()), undefined);
  assertEquals(dashboard(get("/ops/live"), fakeInfo())?.status, 301);
  const res = dashboard(get("/ops/live/stats"), fakeInfo());
  assertEquals(res?.status, 200);
  await res?.body?.cancel();
});

Deno.test("createDashboard() shows loopback clients only, by default", async () => {
  const dashboard = createDashboard(new FakeSource());
  const loopback = [
    "127.0.0.1",
    "127.1.2.3",
    "::1",
    "0:0:0:0:0:0:0:1",
    "[::1]",
    "::ffff:127.0.0.1",
    "::FFFF:127.9.8.7",
    "::ffff:7f00:1",
  ];
  for (const hostname of loopback) {
    const res = dashboard(get("/_reaper/stats"), fakeInfo(hostname));
    assertEquals(res?.status, 200, hostname);
    await res?.body?.cancel();
  }
  const others = [
    "10.0.0.1",
    "128.0.0.1",
    "1.127.0.0",
    "127.0.0",
    "127.0.0.256",
    "::2",
    "::",
    "fe80::1",
    "1::1",
    "::ffff:10.0.0.1",
    "::ffff:128.0.0.1",
    "64:ff9b::127.0.0.1",
    "::127.0.0.1",
    "localhost",
    "",
  ];
  for (const hostname of others) {
    for (const path of ["/_reaper", "/_reaper/", "/_reaper/stats"]) {
      const res = dashboard(get(path), fakeInfo(hostname));
      assertEquals(res?.status, 404, `${hostname} ${path}`);
      await res?.body?.cancel();
    }
  }
  const open = createDashboard(new FakeSource(), { allow: "all" });
  const res = open(get("/_reaper/stats"), fakeInfo("203.0.113.9"));
  assertEquals(res?.status, 200);
  await res?.body?.cancel();
});

Deno.test("createDashboard() serves stats and connections as JSON", async () => {
  const dashboard = createDashboard(new FakeSource());
  const before = Date.now();
  const res = dashboard(get("/_reaper/stats"), fakeInfo());
  assertEquals(res?.status, 200);
  assertEquals(
    res?.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  assertEquals(res?.headers.get("cache-control"), "no-store");
  const body = await res?.json();
  assertEquals(Object.keys(body).sort(), ["connections", "now", "stats"]);
  assertEquals(body.stats, fakeStats());
  assertEquals(body.connections, CONNECTIONS);
  assert(body.now >= before && body.now <= Date.now());
});

Deno.test("createDashboard() JSON carries each connection's timer and its full duration", async () => {
  const dashboard = createDashboard(new FakeSource());
  const body = await dashboard(get("/_reaper/stats"), fakeInfo())?.json();
  const timers = body.connections.map((
    c: ConnectionInfo,
  ) => [c.id, c.timer, c.remainingMs, c.timeoutMs]);
  assertEquals(timers, [
    [4, "idle", 2100, 3000],
    [5, null, null, null],
    [6, "headerTimeout", 9300, 10000],
  ]);
  // The same fields reach the event stream.
  const res = dashboard(get("/_reaper/events"), fakeInfo());
  const reader = must(res?.body).getReader();
  const [event] = await readEvents(reader, 1);
  await reader.cancel();
  const streamed = JSON.parse(event).connections[0];
  assertEquals(streamed.timer, "idle");
  assertEquals(streamed.timeoutMs, 3000);
});

Deno.test("createDashboard() lists at most 1000 connections in a snapshot", async () => {
  const many: ConnectionInfo[] = Array.from({ length: 1500 }, (_, i) => ({
    ...CONNECTIONS[0],
    id: i,
  }));
  const dashboard = createDashboard({
    stats: () => fakeStats(),
    connections: () => many,
  });
  const body = await dashboard(get("/_reaper/stats"), fakeInfo())?.json();
  assertEquals(body.connections.length, 1000);
  assertEquals(body.connections[999].id, 999);
});

Deno.test("createDashboard() streams snapshots as server-sent events", async () => {
  using intervals = trackIntervals();
  const source = new FakeSource();
  const dashboard = createDashboard(source, { interval: 10 });
  const info = fakeInfo();
  const res = dashboard(get("/_reaper/events"), info);
  const body = must(res?.body);
  assertEquals(res?.headers.get("content-type"), "text/event-stream");
  assertEquals(res?.headers.get("cache-control"), "no-store");
  assertEquals(info.timeouts, [0]);
  const reader = body.getReader();
  const first = await readEvents(reader, 1);
  source.accepted = 8;
  const [second] = await readEvents(reader, 1);
  const a = JSON.parse(first[0]);
  const b = JSON.parse(second);
  assertEquals(Object.keys(a).sort(), ["connections", "now", "stats"]);
  assertEquals(a.stats.accepted, 7);
  assertEquals(b.stats.accepted, 8);
  assertEquals(b.connections, CONNECTIONS);
  assertEquals(intervals.active.size, 1);
  await reader.cancel();
  assertEquals(intervals.active.size, 0);
});

Deno.test("createDashboard() ends the event stream when the request is aborted", async () => {
  using intervals = trackIntervals();
  const source = new FakeSource();
  const dashboard = createDashboard(source, { interval: 10 });
  const controller = new AbortController();
  const res = dashboard(
    get("/_reaper/events", { signal: controller.signal }),
    fakeInfo(),
  );
  const reader = must(res?.body).getReader();
  await readEvents(reader, 1);
  assertEquals(intervals.active.size, 1);
  controller.abort();
  assertEquals(intervals.active.size, 0);
  // Whatever was queued before the abort may still arrive; then it ends.
  let result = await reader.read();
  while (!result.done) result = await reader.read();
});

Deno.test("createDashboard() ends the event stream at once for an aborted request", async () => {
  using intervals = trackIntervals();
  const source = new FakeSource();
  const dashboard = createDashboard(source, { interval: 10 });
  const res = dashboard(
    get("/_reaper/events", { signal: AbortSignal.abort() }),
    fakeInfo(),
  );
  const result = await must(res?.body).getReader().read();
  assertEquals(result.done, true);
  assertEquals(source.statsCalls, 0);
  assertEquals(intervals.active.size, 0);
});

Deno.test("createDashboard() ends the event stream with the snapshot that shows a shutdown", async () => {
  using intervals = trackIntervals();
  let shuttingDown = false;
  const dashboard = createDashboard({
    stats: () => fakeStats({ shuttingDown }),
    connections: () => CONNECTIONS,
  }, { interval: 10 });
  const res = dashboard(get("/_reaper/events"), fakeInfo());
  const reader = must(res?.body).getReader();
  const [first] = await readEvents(reader, 1);
  assertEquals(JSON.parse(first).stats.shuttingDown, false);
  shuttingDown = true;
  const [last] = await readEvents(reader, 1);
  assertEquals(JSON.parse(last).stats.shuttingDown, true);
  assertEquals((await reader.read()).done, true);
  assertEquals(intervals.active.size, 0);
});

Deno.test("createDashboard() answers HEAD for the event stream without streaming", () => {
  const info = fakeInfo();
  const dashboard = createDashboard(new FakeSource());
  const res = dashboard(get("/_reaper/events", { method: "HEAD" }), info);
  assertEquals(res?.status, 200);
  assertEquals(res?.headers.get("content-type"), "text/event-stream");
  assertEquals(res?.body, null);
  assertEquals(info.timeouts, []);
});

Deno.test("createDashboard() rejects bad options", () => {
  const source = new FakeSource();
  assertThrows(
    () => createDashboard(source, { prefix: "_reaper" }),
    RangeError,
    'prefix must be a path such as "/_reaper", received "_reaper"',
  );
  assertThrows(
    () => createDashboard(source, { prefix: "/" }),
    RangeError,
    'received "/"',
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => createDashboard(source, { prefix: 1 as any }),
    TypeError,
    "prefix must be a string, received 1",
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => createDashboard(source, { allow: "everyone" as any }),
    TypeError,
    'allow must be "loopback" or "all", received "everyone"',
  );
  for (const interval of [0, -5, NaN, Infinity]) {
    assertThrows(
      () => createDashboard(source, { interval }),
      RangeError,
      `interval must be a positive finite number, received ${interval}`,
    );
  }
});

Deno.test("createDashboard() page script parses", async () => {
  const dashboard = createDashboard(new FakeSource());
  const html = await dashboard(get("/_reaper/"), fakeInfo())!.text();
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)];
  assertEquals(scripts.length, 1);
  // Compiling without running catches a syntax error in the inline script.
  new Function(scripts[0][1]);
  assertMatch(html, /id="closed-headerTimeout"/);
});
