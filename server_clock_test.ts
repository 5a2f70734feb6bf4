// Copyright 2026 the Reaper authors. MIT license.
// The server object's own rules (the tick and its re-period during a drain,
// the grace, shutdownTimeout, a second signal, abort, `finished`) on a fake
// clock, with a fake listener and a fake engine: no sockets, no waiting on
// real time.
import { assert, assertEquals } from "@std/assert";
import {
  createFakeClock,
  type FakeClock,
  fakeTimers,
} from "./testdata/fake_clock.ts";
import { createServer, type Server, type ServerEnvironment } from "./server.ts";
import type {
  ConnectionHooks,
  Engine,
  EngineConnection,
  ErrorHandler,
} from "./_engine.ts";
import type { ServeOptions } from "./_options.ts";
import type { CloseReason, ServeHandler } from "./types.ts";

const ADDR: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };

/** An engine connection whose `finished` the test settles. */
class FakeConnection implements EngineConnection {
  readonly finished: Promise<void>;
  /** The reason of `close()`, once called. */
  closedWith: CloseReason | undefined;
  idleCloses = 0;
  #finish!: () => void;
  constructor(readonly hooks: ConnectionHooks, readonly autoFinish: boolean) {
    this.finished = new Promise((resolve) => this.#finish = resolve);
  }
  /** The engine is done with the connection. */
  finish(): void {
    this.#finish();
  }
  close(reason: CloseReason): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    this.hooks.closed(reason);
    if (this.autoFinish) this.finish();
  }
  closeIdle(): void {
    this.idleCloses++;
    this.close("shutdown");
  }
  /** A complete request and response: the connection is idle after it. */
  exchange(): void {
    this.hooks.headStart();
    this.hooks.requestStart();
    this.hooks.responseStart();
    this.hooks.requestEnd();
  }
}

/** A listener whose connections the test hands in. */
class FakeListener {
  readonly addr = { transport: "tcp", hostname: "127.0.0.1", port: 4242 };
  closed = false;
  #waiting: PromiseWithResolvers<Deno.Conn> | undefined;
  connect(): void {
    const conn = { remoteAddr: ADDR, close() {} } as unknown as Deno.Conn;
    this.#waiting?.resolve(conn);
    this.#waiting = undefined;
  }
  accept(): Promise<Deno.Conn> {
    this.#waiting = Promise.withResolvers();
    return this.#waiting.promise;
  }
  close(): void {
    this.closed = true;
    this.#waiting?.reject(new Deno.errors.BadResource("closed"));
  }
  ref(): void {}
  unref(): void {}
}

/** Lets every pending promise job run (one real macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

interface Rig {
  clock: FakeClock;
  server: Server;
  listener: FakeListener;
  /** Connects a client; resolves its fake engine connection. */
  connect(): Promise<FakeConnection>;
  /** Delivers a shutdown signal. */
  signal(): void;
  /** Clock reads by the server's ticks (no connection reads the clock). */
  ticks(): number;
  /** The exit codes the server ended the process with. */
  exits: number[];
}

async function rig(
  options: ServeOptions = {},
  autoFinish = true,
): Promise<Rig> {
  const clock = createFakeClock();
  const listener = new FakeListener();
  const served: FakeConnection[] = [];
  let onServe: (() => void) | undefined;
  const engine: Engine = {
    name: "portable",
    tracksBytes: true,
    serve(_conn, hooks: ConnectionHooks, _h: ServeHandler, _e: ErrorHandler) {
      const fake = new FakeConnection(hooks, autoFinish);
      served.push(fake);
      onServe?.();
      return fake;
    },
  };
  let signalListener: ((signal: Deno.Signal) => void) | undefined;
  let reads = 0;
  const exits: number[] = [];
  const env: Partial<ServerEnvironment> = {
    ...fakeTimers(clock, () => reads++),
    listen: () => listener as unknown as Deno.Listener,
    selectEngine: () => Promise.resolve({ engine, why: "a test" }),
    onSignals(fn) {
      signalListener = fn;
      return () => signalListener = undefined;
    },
    registerMetrics: () => () => {},
    exit: (code) => exits.push(code),
  };
  const server = createServer(
    { onListen() {}, ...options },
    () => new Response("never called"),
    env,
  );
  await server.engine;
  await settle();
  return {
    clock,
    server,
    listener,
    async connect() {
      const before = served.length;
      const seen = new Promise<void>((resolve) => onServe = resolve);
      listener.connect();
      await seen;
      reads = 0;
      return served[before];
    },
    signal() {
      signalListener?.("SIGTERM");
    },
    ticks: () => reads,
    exits,
  };
}

/** Moves the fake clock to `ms` after its start and lets the server run. */
async function at(r: Rig, ms: number): Promise<void> {
  r.clock.tick(ms - r.clock.now);
  await settle();
}

Deno.test("server closes an idle connection at the first tick after its deadline, never before", async () => {
  const r = await rig({
    tickInterval: 100,
    idleTimeout: 250,
    headerTimeout: 0,
  });
  const conn = await r.connect();
  await at(r, 200);
  assertEquals(conn.closedWith, undefined);
  await at(r, 299);
  assertEquals(conn.closedWith, undefined);
  await at(r, 300);
  assertEquals(conn.closedWith, "idle");
  assertEquals(r.server.stats().closed.idle, 1);
  await r.server.close();
});

Deno.test("server coalesces ticks: one waiting in the channel is enough", async () => {
  const r = await rig({ tickInterval: 100, idleTimeout: 0, headerTimeout: 0 });
  await r.connect(); // resets the count of clock reads
  // Ten interval callbacks in one go, before the main loop runs once.
  r.clock.tick(1_000);
  await settle();
  assertEquals(r.ticks(), 1);
  // The next one is taken again.
  await at(r, 1_100);
  assertEquals(r.ticks(), 2);
  await r.server.close();
});

Deno.test("server checks the grace a quarter as often during a drain, not once a tick", async () => {
  const r = await rig({
    tickInterval: 1_000,
    shutdownGrace: 200,
    idleTimeout: 0,
    headerTimeout: 0,
  });
  const conn = await r.connect();
  conn.exchange();
  await at(r, 1_000); // one normal tick
  const finished = r.server.shutdown();
  await settle();
  assert(r.listener.closed, "the listener closes at once");
  // Drain from t=1000; the grace ends at 1200; drain ticks every 50 ms.
  await at(r, 1_150);
  assertEquals(conn.idleCloses, 0);
  await at(r, 1_199);
  assertEquals(conn.idleCloses, 0);
  await at(r, 1_200);
  assertEquals(conn.idleCloses, 1);
  assertEquals(conn.closedWith, "shutdown");
  await finished;
});

Deno.test("server closes what is left after shutdownTimeout", async () => {
  const r = await rig({
    tickInterval: 100,
    shutdownTimeout: 500,
    idleTimeout: 0,
    headerTimeout: 0,
  });
  const busy = await r.connect();
  busy.hooks.headStart();
  busy.hooks.requestStart(); // a handler that never returns
  r.signal();
  await settle();
  assert(r.server.stats().shuttingDown);
  assertEquals(busy.hooks.mustClose, true);
  await at(r, 499);
  assertEquals(busy.closedWith, undefined);
  await at(r, 500);
  assertEquals(busy.closedWith, "shutdown");
  await r.server.finished;
});

Deno.test("server closes everything at once on a second signal", async () => {
  const r = await rig({ shutdownTimeout: 0, idleTimeout: 0, headerTimeout: 0 });
  const busy = await r.connect();
  busy.hooks.headStart();
  busy.hooks.requestStart();
  r.signal();
  await at(r, 60_000); // no timeout: a drain waits for as long as it takes
  assertEquals(busy.closedWith, undefined);
  r.signal();
  await settle();
  assertEquals(busy.closedWith, "shutdown");
  await r.server.finished;
});

Deno.test("server closes everything at once when its signal aborts", async () => {
  const controller = new AbortController();
  const r = await rig({
    signal: controller.signal,
    idleTimeout: 0,
    headerTimeout: 0,
  });
  const busy = await r.connect();
  busy.hooks.headStart();
  busy.hooks.requestStart();
  controller.abort();
  await settle();
  assertEquals(busy.closedWith, "shutdown");
  assert(r.listener.closed);
  await r.server.finished;
});

Deno.test("server.finished waits until every engine connection has finished", async () => {
  const r = await rig({ idleTimeout: 0, headerTimeout: 0 }, false);
  const first = await r.connect();
  const second = await r.connect();
  let done = false;
  r.server.close().then(() => done = true);
  await settle();
  assertEquals(first.closedWith, "shutdown");
  assertEquals(second.closedWith, "shutdown");
  assertEquals(r.server.stats().open.total, 0);
  assertEquals(done, false, "finished settled before the engines were done");
  first.finish();
  await settle();
  assertEquals(done, false);
  second.finish();
  await settle();
  assertEquals(done, true);
});

Deno.test("server unregisters a connection closed during an expiry pass before the engine reports it", async () => {
  const r = await rig({
    tickInterval: 100,
    idleTimeout: 100,
    headerTimeout: 0,
  });
  const conn = await r.connect();
  let openWhenClosed = -1;
  const close = conn.close.bind(conn);
  conn.close = (reason) => {
    // The table has let the connection go before it asks the engine.
    openWhenClosed = r.server.stats().open.total;
    close(reason);
  };
  await at(r, 100);
  assertEquals(conn.closedWith, "idle");
  assertEquals(openWhenClosed, 0);
  assertEquals(r.server.stats().closed.idle, 1);
  await r.server.close();
});

Deno.test("server ends the process with code 0 once a drain that a signal started is done", async () => {
  const r = await rig({ idleTimeout: 0, headerTimeout: 0, shutdownGrace: 0 });
  const conn = await r.connect();
  conn.hooks.headStart();
  conn.hooks.requestStart();
  r.signal();
  await settle();
  assertEquals(r.exits, [], "not while a request is in flight");
  conn.hooks.responseStart();
  conn.hooks.requestEnd();
  conn.close("done");
  let seen = -1;
  // What awaits `finished` runs before the exit.
  await r.server.finished.then(() => seen = r.exits.length);
  await settle();
  assertEquals(seen, 0);
  assertEquals(r.exits, [0]);
});

Deno.test("server does not end the process after shutdown(), or with exitAfterSignal off", async () => {
  const a = await rig({});
  await a.server.shutdown();
  await settle();
  assertEquals(a.exits, []);
  const b = await rig({ exitAfterSignal: false });
  b.signal();
  await b.server.finished;
  await settle();
  assertEquals(b.exits, []);
});

Deno.test("server keeps accepting for shutdownDelay, with Connection: close, then drains", async () => {
  const r = await rig({
    shutdownDelay: 500,
    shutdownGrace: 0,
    idleTimeout: 0,
    headerTimeout: 0,
  });
  const before = await r.connect();
  before.exchange();
  await at(r, 1_000);
  r.signal();
  await settle();
  assert(r.server.stats().shuttingDown);
  assert(!r.listener.closed, "still accepting during the delay");
  assertEquals(before.hooks.mustClose, true);
  await at(r, 1_499);
  const during = await r.connect(); // accepted during the delay
  assertEquals(during.hooks.mustClose, true);
  assertEquals(before.closedWith, undefined, "no drain yet");
  await at(r, 1_500);
  assert(r.listener.closed, "the listener closes when the delay ends");
  await at(r, 1_600);
  assertEquals(before.closedWith, "shutdown");
  assertEquals(during.closedWith, "shutdown");
  await r.server.finished;
});

Deno.test("server ends the shutdown delay at once on a second signal", async () => {
  const r = await rig({
    shutdownDelay: 60_000,
    idleTimeout: 0,
    headerTimeout: 0,
  });
  const conn = await r.connect();
  r.signal();
  await settle();
  assert(!r.listener.closed);
  r.signal();
  await settle();
  assert(r.listener.closed);
  assertEquals(conn.closedWith, "shutdown");
  await r.server.finished;
});
