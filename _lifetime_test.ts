// Copyright 2026 the Reaper authors. MIT license.
// The lifetime rules, driven with a fake clock and fake engine connections:
// no sockets, no waiting.
import { assertEquals, assertThrows } from "@std/assert";
import { ConnectionTable } from "./_lifetime.ts";
import type { ConnectionStateEvent } from "./types.ts";
import { type LifetimeOptions, resolveLifetime } from "./_options.ts";
import type { ConnectionHooks, EngineConnection } from "./_engine.ts";
import type { CloseReason } from "./types.ts";

const ADDR: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };

class FakeEngineConnection implements EngineConnection {
  readonly finished: Promise<void> = Promise.resolve();
  closedWith: CloseReason | undefined;
  idleCloses = 0;
  constructor(readonly hooks: ConnectionHooks) {}
  close(reason: CloseReason): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    this.hooks.closed(reason);
  }
  closeIdle(): void {
    this.idleCloses++;
    this.close("shutdown");
  }
}

function setup(options: LifetimeOptions = {}) {
  // `reads` counts the table's clock reads.
  const clock = { t: 1_000, reads: 0 };
  const events: ConnectionStateEvent[] = [];
  let empty = 0;
  const table = new ConnectionTable(resolveLifetime(options), {
    now: () => (clock.reads++, clock.t),
    onState: (e) => events.push(e),
    onEmpty: () => empty++,
  });
  const open = (tracksBytes = true) => {
    let fake!: FakeEngineConnection;
    const hooks = table.open(
      ADDR,
      (h) => fake = new FakeEngineConnection(h),
      tracksBytes,
    );
    return { hooks, fake };
  };
  /** Moves the clock to `t` and runs a tick there; how many it closed. */
  const tickAt = (t: number): number => {
    clock.t = t;
    return table.tick(t);
  };
  return { clock, table, events, open, tickAt, empties: () => empty };
}

Deno.test("ConnectionTable closes an idle keep-alive connection at its deadline, not before", () => {
  const { table, open, tickAt } = setup({ idleTimeout: 100, headerTimeout: 0 });
  const { hooks, fake } = open();
  hooks.headStart();
  hooks.requestStart();
  hooks.responseStart();
  hooks.requestEnd(); // idle from t=1000
  assertEquals(tickAt(1_099), 0);
  assertEquals(fake.closedWith, undefined);
  assertEquals(tickAt(1_100), 1);
  assertEquals(fake.closedWith, "idle");
  assertEquals(table.size, 0);
  assertEquals(table.stats("portable").closed.idle, 1);
});

Deno.test("ConnectionTable pushes the idle deadline back on touch without closing early", () => {
  const { clock, table, open, tickAt } = setup({
    idleTimeout: 100,
    headerTimeout: 0,
  });
  const { hooks, fake } = open();
  clock.t = 1_060;
  hooks.touch();
  clock.t = 1_100; // the node's scheduled deadline: re-queued, not closed
  assertEquals(table.tick(clock.t), 0);
  assertEquals(fake.closedWith, undefined);
  tickAt(1_159);
  assertEquals(fake.closedWith, undefined);
  tickAt(1_160);
  assertEquals(fake.closedWith, "idle");
});

Deno.test("ConnectionTable closes a silent connection and a header trickle by headerTimeout", () => {
  const { clock, table, open, tickAt } = setup({
    idleTimeout: 100,
    headerTimeout: 300,
  });
  const silent = open();
  const trickle = open();
  trickle.hooks.headStart();
  for (let t = 1_000; t < 1_300; t += 50) {
    clock.t = t;
    trickle.hooks.touch(); // never idle
    table.tick(clock.t);
  }
  assertEquals(silent.fake.closedWith, "idle"); // idle (100) came first
  assertEquals(trickle.fake.closedWith, undefined);
  tickAt(1_300);
  assertEquals(trickle.fake.closedWith, "headerTimeout");
  assertEquals(table.stats("portable").closed.headerTimeout, 1);
});

Deno.test("ConnectionTable runs headerTimeout from the first byte of a later request", () => {
  const { clock, table, open, tickAt } = setup({
    idleTimeout: 0,
    headerTimeout: 200,
  });
  const { hooks, fake } = open();
  hooks.headStart();
  hooks.requestStart();
  hooks.responseStart();
  hooks.requestEnd();
  clock.t = 5_000; // long idle: no idle timeout configured
  table.tick(clock.t);
  assertEquals(fake.closedWith, undefined);
  hooks.headStart();
  tickAt(5_199);
  assertEquals(fake.closedWith, undefined);
  tickAt(5_200);
  assertEquals(fake.closedWith, "headerTimeout");
});

Deno.test("ConnectionTable never counts a computing handler as idle, but a stalled body read is", () => {
  const { open, tickAt } = setup({ idleTimeout: 100, headerTimeout: 0 });
  const computing = open();
  const reading = open();
  for (const { hooks } of [computing, reading]) {
    hooks.headStart();
    hooks.requestStart();
  }
  reading.hooks.peerWait(true);
  tickAt(1_100);
  assertEquals(reading.fake.closedWith, "idle");
  tickAt(10_000);
  assertEquals(computing.fake.closedWith, undefined);
  // Once a write waits on the client, the stall timeout runs from then.
  computing.hooks.responseStart();
  computing.hooks.peerWait(true);
  tickAt(10_099);
  assertEquals(computing.fake.closedWith, undefined);
  tickAt(10_250);
  assertEquals(computing.fake.closedWith, "idle");
});

Deno.test("ConnectionTable never counts a response stream slow to produce as idle", () => {
  const { clock, table, open, tickAt } = setup({
    idleTimeout: 100,
    headerTimeout: 0,
    requestTimeout: 0,
  });
  const { hooks, fake } = open();
  hooks.headStart();
  hooks.requestStart();
  hooks.responseStart();
  // The head is written at once, then the stream pauses far past the idle
  // timeout: the engine waits on the handler, not on the client.
  hooks.peerWait(true);
  clock.t = 1_010;
  hooks.peerWait(false);
  for (const t of [1_200, 5_000, 70_000]) {
    clock.t = t;
    table.tick(t);
    assertEquals(fake.closedWith, undefined);
    assertEquals(table.connections(t)[0].timer, null);
  }
  // The next chunk is written and drained: still open, and idle again.
  hooks.peerWait(true);
  clock.t = 70_050;
  hooks.peerWait(false);
  hooks.requestEnd();
  tickAt(70_149);
  assertEquals(fake.closedWith, undefined);
  assertEquals(table.connections(clock.t)[0].state, "idle");
});

Deno.test("ConnectionTable closes a connection whose client does not drain a write", () => {
  const { clock, table, open, tickAt } = setup({
    idleTimeout: 100,
    headerTimeout: 0,
    requestTimeout: 0,
  });
  const { hooks, fake } = open();
  hooks.headStart();
  hooks.requestStart();
  hooks.responseStart();
  clock.t = 5_000; // the handler's stream took its time
  hooks.peerWait(true); // a write the client does not read
  const [listed] = table.connections(clock.t);
  assertEquals([listed.state, listed.timer, listed.remainingMs], [
    "writing",
    "idle",
    100,
  ]);
  tickAt(5_099);
  assertEquals(fake.closedWith, undefined);
  tickAt(5_100);
  assertEquals(fake.closedWith, "idle");
});

Deno.test("ConnectionTable keeps a slow but steady response stream open", () => {
  const { clock, table, open } = setup({ idleTimeout: 100, headerTimeout: 0 });
  const { hooks, fake } = open();
  hooks.headStart();
  hooks.requestStart();
  hooks.responseStart();
  for (let t = 1_000; t <= 3_000; t += 90) {
    clock.t = t;
    hooks.touch();
    table.tick(t);
  }
  assertEquals(fake.closedWith, undefined);
});

Deno.test("ConnectionTable enforces requestTimeout on a hanging handler", () => {
  const { clock, open, tickAt } = setup({
    idleTimeout: 100,
    headerTimeout: 0,
    requestTimeout: 500,
  });
  const { hooks, fake } = open();
  hooks.headStart();
  clock.t = 1_010;
  hooks.requestStart();
  tickAt(1_509);
  assertEquals(fake.closedWith, undefined);
  tickAt(1_510);
  assertEquals(fake.closedWith, "requestTimeout");
});

Deno.test("ConnectionTable lets info.setTimeout(0) exempt one request, then restores the idle timeout", () => {
  const { clock, table, open, tickAt } = setup({
    idleTimeout: 100,
    headerTimeout: 0,
    requestTimeout: 200,
  });
  const { hooks, fake } = open();
  hooks.headStart();
  hooks.requestStart();
  hooks.setRequestTimeout(0);
  hooks.responseStart();
  clock.t = 60_000; // an SSE stream that stalls for a minute
  table.tick(clock.t);
  assertEquals(fake.closedWith, undefined);
  hooks.requestEnd();
  tickAt(60_099);
  assertEquals(fake.closedWith, undefined);
  tickAt(60_100);
  assertEquals(fake.closedWith, "idle");
});

Deno.test("ConnectionTable applies a shorter per-request timeout early", () => {
  const { open, tickAt } = setup({
    idleTimeout: 10_000,
    headerTimeout: 0,
  });
  const { hooks, fake } = open();
  hooks.headStart();
  hooks.requestStart();
  hooks.setRequestTimeout(50);
  tickAt(1_050);
  assertEquals(fake.closedWith, "requestTimeout");
});

Deno.test("ConnectionTable asks for Connection: close after maxRequestsPerConnection", () => {
  const { table, open } = setup({ maxRequestsPerConnection: 2 });
  const { hooks } = open();
  hooks.requestStart();
  assertEquals(hooks.mustClose, false);
  hooks.requestEnd();
  hooks.requestStart();
  assertEquals(hooks.mustClose, true);
  assertEquals(table.stats("native").requests, 2);
});

Deno.test("ConnectionTable advertises Keep-Alive a second below the idle timeout", () => {
  assertEquals(setup({ idleTimeout: 65_000 }).table.keepAlive, "timeout=64");
  assertEquals(setup({ idleTimeout: 1_500 }).table.keepAlive, "");
  assertEquals(setup({ idleTimeout: 0 }).table.keepAlive, "");
  // Only the first response of a connection carries it.
  const { open } = setup({ idleTimeout: 10_000 });
  const { hooks } = open();
  hooks.requestStart();
  assertEquals(hooks.keepAlive, "timeout=9");
  hooks.requestEnd();
  hooks.requestStart();
  assertEquals(hooks.keepAlive, "");
});

Deno.test("ConnectionTable drain closes idle connections only after the grace, never busy ones", () => {
  const { clock, table, open, empties, tickAt } = setup({
    idleTimeout: 0,
    headerTimeout: 0,
    shutdownGrace: 100,
  });
  const idle = open();
  idle.hooks.requestStart();
  idle.hooks.requestEnd();
  const busy = open();
  busy.hooks.headStart();
  busy.hooks.requestStart();
  const partial = open();
  partial.hooks.headStart();
  clock.t = 2_000;
  table.drain(clock.t);
  assertEquals(busy.hooks.mustClose, true);
  tickAt(2_099);
  assertEquals(idle.fake.idleCloses, 0);
  tickAt(2_100);
  assertEquals(idle.fake.idleCloses, 1);
  assertEquals(busy.fake.closedWith, undefined);
  assertEquals(partial.fake.closedWith, undefined);
  // A request that arrived during the grace makes the connection busy again;
  // once answered it stays open only for another grace.
  busy.hooks.responseStart();
  busy.hooks.requestEnd();
  tickAt(2_150);
  assertEquals(busy.fake.idleCloses, 0);
  tickAt(2_200);
  assertEquals(busy.fake.idleCloses, 1);
  assertEquals(empties(), 0);
  table.closeAll("shutdown");
  assertEquals(partial.fake.closedWith, "shutdown");
  assertEquals(empties(), 1);
});

Deno.test("ConnectionTable reports every state transition and the close reason", () => {
  const { events, open, tickAt } = setup({
    idleTimeout: 100,
    headerTimeout: 0,
  });
  const { hooks } = open();
  hooks.headStart();
  hooks.requestStart();
  hooks.responseStart();
  hooks.requestEnd();
  tickAt(1_200);
  assertEquals(events.map((e) => e.state), [
    "new",
    "reading",
    "active",
    "writing",
    "idle",
    "closed",
  ]);
  assertEquals(events.at(-1)?.reason, "idle");
  assertEquals(events.at(-1)?.idleMs, 200);
});

Deno.test("ConnectionTable lists connections soonest timer first with the time left", () => {
  const { clock, table, open } = setup({
    idleTimeout: 1_000,
    headerTimeout: 300,
  });
  const a = open(); // header timer: 300 left
  a.hooks.headStart();
  clock.t = 1_100;
  const b = open(); // header timer from 1100
  b.hooks.requestStart(); // active, no timers run
  const c = open();
  c.hooks.requestStart();
  c.hooks.requestEnd(); // idle: 1000 left
  const list = table.connections(clock.t);
  assertEquals(list.map((x) => x.remainingMs), [200, 1_000, null]);
  assertEquals(list.map((x) => x.state), ["reading", "idle", "active"]);
  assertEquals(list.map((x) => x.timer), ["headerTimeout", "idle", null]);
  assertEquals(list.map((x) => x.timeoutMs), [300, 1_000, null]);
  const stats = table.stats("portable");
  assertEquals(stats.open, {
    total: 3,
    new: 0,
    reading: 1,
    active: 1,
    writing: 0,
    idle: 1,
  });
  assertEquals(stats.accepted, 3);
});

Deno.test("ConnectionTable ignores info.setTimeout() once the response was sent", () => {
  const { open, tickAt } = setup({
    idleTimeout: 5_000,
    headerTimeout: 0,
    requestTimeout: 1_000,
  });
  const { hooks, fake } = open();
  hooks.headStart();
  hooks.requestStart();
  hooks.responseStart();
  hooks.requestEnd();
  hooks.setRequestTimeout(100); // too late: the connection is idle
  tickAt(1_200);
  assertEquals(fake.closedWith, undefined);
  // The next request starts with the configured timeouts and no leftover.
  hooks.headStart();
  hooks.requestStart();
  tickAt(2_199);
  assertEquals(fake.closedWith, undefined);
  tickAt(2_200);
  assertEquals(fake.closedWith, "requestTimeout");
});

Deno.test("ConnectionTable unregisters a connection whose engine throws on start", () => {
  const { table } = setup();
  assertThrows(
    () =>
      table.open(ADDR, () => {
        throw new Error("engine bug");
      }, true),
    Error,
    "engine bug",
  );
  assertEquals(table.size, 0);
  assertEquals(table.stats("portable").closed.error, 1);
});

Deno.test("ConnectionTable lets an engine reuse headStart()'s time with requestStart(true)", () => {
  const { clock, table, open } = setup({
    idleTimeout: 0,
    headerTimeout: 0,
    requestTimeout: 50,
  });
  const start = (immediate: boolean) => {
    const { hooks, fake } = open();
    clock.t = 1_000;
    hooks.headStart();
    clock.t = 1_010;
    const before = clock.reads;
    hooks.requestStart(immediate);
    return { fake, reads: clock.reads - before };
  };
  const reused = start(true);
  const read = start(false);
  assertEquals(reused.reads, 0);
  assertEquals(read.reads, 1);
  // The request timer runs from the reused time (1000), or from 1010.
  table.tick(1_049);
  assertEquals(reused.fake.closedWith, undefined);
  table.tick(1_050);
  assertEquals(reused.fake.closedWith, "requestTimeout");
  assertEquals(read.fake.closedWith, undefined);
  table.tick(1_060);
  assertEquals(read.fake.closedWith, "requestTimeout");
});

Deno.test("ConnectionTable reads the clock at peerWait(): a long synchronous handler is not a stall", () => {
  const { clock, table, open } = setup({ idleTimeout: 100, headerTimeout: 0 });
  const { hooks, fake } = open();
  hooks.headStart();
  hooks.requestStart(true);
  clock.t = 1_500; // the handler computed for 500 ms, blocking the loop
  hooks.responseStart();
  table.tick(1_500);
  assertEquals(fake.closedWith, undefined);
  hooks.peerWait(true); // its response's first write
  table.tick(1_510);
  assertEquals(fake.closedWith, undefined);
  table.tick(1_600);
  assertEquals(fake.closedWith, "idle");
});

Deno.test("ConnectionTable never counts a connection with an open stream as idle", () => {
  // An HTTP/2 connection on an engine that sees requests, not bytes.
  const { clock, table, open, tickAt } = setup({
    idleTimeout: 1_500,
    headerTimeout: 0,
  });
  const { hooks, fake } = open(false);
  const a = hooks.requestStart(); // t=1000
  const b = hooks.requestStart();
  assertEquals(table.stats("native").streams, 2);
  clock.t = 1_500;
  a.responseStart();
  a.requestEnd();
  assertEquals(table.connections(clock.t)[0].state, "active");
  assertEquals(table.connections(clock.t)[0].streams, 1);
  clock.t = 3_900; // 2.4 s after the first stream ended
  assertEquals(table.tick(clock.t), 0);
  assertEquals(fake.closedWith, undefined);
  clock.t = 5_000;
  b.responseStart();
  assertEquals(table.connections(clock.t)[0].state, "writing");
  b.requestEnd();
  assertEquals(table.connections(clock.t)[0].state, "idle");
  assertEquals(table.stats("native").streams, 0);
  assertEquals(tickAt(6_499), 0);
  assertEquals(tickAt(6_500), 1);
  assertEquals(fake.closedWith, "idle");
});

Deno.test("ConnectionTable runs requestTimeout per stream, from each stream's start", () => {
  const { clock, table, open, tickAt } = setup({
    idleTimeout: 0,
    headerTimeout: 0,
    requestTimeout: 1_000,
  });
  const { hooks, fake } = open(false);
  const a = hooks.requestStart(); // t=1000, due 2000
  clock.t = 1_600;
  hooks.requestStart(); // due 2600
  clock.t = 1_900;
  a.responseStart();
  a.requestEnd();
  const [info] = table.connections(clock.t);
  assertEquals(info.timer, "requestTimeout");
  assertEquals(info.remainingMs, 700);
  assertEquals(info.timeoutMs, 1_000);
  assertEquals(tickAt(2_599), 0);
  assertEquals(tickAt(2_600), 1);
  assertEquals(fake.closedWith, "requestTimeout");
  assertEquals(table.stats("native").streams, 0);
});

Deno.test("ConnectionTable applies info.setTimeout() to its own stream only", () => {
  const { clock, table, open, tickAt } = setup({
    idleTimeout: 0,
    headerTimeout: 0,
    requestTimeout: 1_000,
  });
  const { hooks, fake } = open(false);
  const first = hooks.requestStart();
  const sse = hooks.requestStart();
  sse.setRequestTimeout(0); // an event stream: no request timeout
  first.setRequestTimeout(300);
  assertEquals(tickAt(1_299), 0);
  first.responseStart();
  first.requestEnd(); // its override goes with it
  assertEquals(tickAt(60_000), 0);
  assertEquals(fake.closedWith, undefined);
  assertEquals(table.connections(clock.t)[0].timer, null);
  const third = hooks.requestStart(); // the first slot again, due 61000
  third.setRequestTimeout(100); // due 60100
  assertEquals(tickAt(60_100), 1);
  assertEquals(fake.closedWith, "requestTimeout");
});
