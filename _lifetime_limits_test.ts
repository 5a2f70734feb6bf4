// Copyright 2026 the Reaper authors. MIT license.
// Connection limits: which connection makes room at maxConnections and
// maxConnectionsPerClient, and how clients are grouped. A fake clock and
// fake engine connections: no sockets, no waiting.
import { assertEquals } from "@std/assert";
import { clientGroup, ConnectionTable } from "./_lifetime.ts";
import type { ConnectionHooks, EngineConnection } from "./_engine.ts";
import { type LifetimeOptions, resolveLifetime } from "./_options.ts";
import type { CloseReason } from "./types.ts";

class FakeEngineConnection implements EngineConnection {
  readonly finished: Promise<void> = Promise.resolve();
  closedWith: CloseReason | undefined;
  constructor(readonly hooks: ConnectionHooks) {}
  close(reason: CloseReason): void {
    this.closedWith ??= reason;
    this.hooks.closed(reason);
  }
  closeIdle(): void {
    this.close("shutdown");
  }
}

function tcp(hostname: string, port = 40000): Deno.NetAddr {
  return { transport: "tcp", hostname, port };
}

function setup(options: LifetimeOptions) {
  const clock = { t: 1_000 };
  const table = new ConnectionTable(resolveLifetime(options), {
    now: () => clock.t,
  });
  /** Admits and opens a connection from `addr`, or says why not. */
  const connect = (addr: Deno.NetAddr | Deno.UnixAddr = tcp("10.0.0.1")) => {
    const refusal = table.admit(addr);
    if (refusal !== null) {
      table.refused(refusal);
      return refusal;
    }
    let fake!: FakeEngineConnection;
    const hooks = table.open(
      addr,
      (h) => fake = new FakeEngineConnection(h),
      true,
    );
    return { hooks, fake };
  };
  /** One whole request: the connection is idle after it. */
  const serveOne = (hooks: ConnectionHooks) => {
    hooks.headStart();
    hooks.requestStart();
    hooks.responseStart();
    hooks.requestEnd();
  };
  return { clock, table, connect, serveOne };
}

type Opened = { hooks: ConnectionHooks; fake: FakeEngineConnection };

Deno.test("ConnectionTable at maxConnections evicts the connection idle longest, never a busy one", () => {
  const { clock, table, connect, serveOne } = setup({
    maxConnections: 3,
    idleTimeout: 0,
    headerTimeout: 0,
  });
  const a = connect() as Opened;
  const b = connect() as Opened;
  const c = connect() as Opened;
  serveOne(b.hooks); // b idle since 1000
  clock.t = 1_100;
  serveOne(a.hooks); // a idle since 1100
  c.hooks.headStart();
  c.hooks.requestStart(); // c busy
  clock.t = 1_200;
  const d = connect() as Opened;
  assertEquals(b.fake.closedWith, "evicted");
  assertEquals(a.fake.closedWith, undefined);
  assertEquals(table.size, 3);
  clock.t = 1_300;
  const e = connect() as Opened;
  // d (new since 1200) waited longer than nothing else: a (idle since 1100)
  // goes first.
  assertEquals(a.fake.closedWith, "evicted");
  assertEquals(d.fake.closedWith, undefined);
  // A connection that starts a request leaves the queue.
  d.hooks.headStart();
  e.hooks.headStart();
  assertEquals(connect(), "maxConnections");
  assertEquals(c.fake.closedWith, undefined);
  const stats = table.stats("portable");
  assertEquals(stats.closed.evicted, 2);
  assertEquals(stats.closed.maxConnections, 1);
  assertEquals(stats.accepted, 6);
});

Deno.test("ConnectionTable counts a silent connection as waiting since accept", () => {
  const { clock, table, connect, serveOne } = setup({
    maxConnections: 2,
    idleTimeout: 0,
    headerTimeout: 0,
  });
  const silent = connect() as Opened; // new since 1000
  clock.t = 1_050;
  const kept = connect() as Opened;
  serveOne(kept.hooks); // idle since 1050
  clock.t = 1_060;
  connect();
  assertEquals(silent.fake.closedWith, "evicted");
  assertEquals(kept.fake.closedWith, undefined);
  assertEquals(table.size, 2);
});

Deno.test("ConnectionTable at maxConnectionsPerClient evicts that client's own longest-idle connection", () => {
  const { clock, table, connect, serveOne } = setup({
    maxConnectionsPerClient: 2,
    idleTimeout: 0,
    headerTimeout: 0,
  });
  const other = connect(tcp("10.0.0.9")) as Opened;
  serveOne(other.hooks); // idle longest of all, but another client's
  clock.t = 1_100;
  const first = connect(tcp("10.0.0.1", 1)) as Opened;
  serveOne(first.hooks);
  clock.t = 1_200;
  const second = connect(tcp("10.0.0.1", 2)) as Opened;
  serveOne(second.hooks);
  clock.t = 1_300;
  const third = connect(tcp("10.0.0.1", 3)) as Opened;
  assertEquals(first.fake.closedWith, "evicted");
  assertEquals(second.fake.closedWith, undefined);
  assertEquals(other.fake.closedWith, undefined);
  // With one of its two busy, the client's waiting one makes room.
  second.hooks.headStart();
  clock.t = 1_400;
  connect(tcp("10.0.0.1", 4));
  assertEquals(third.fake.closedWith, "evicted");
  assertEquals(second.fake.closedWith, undefined);
  assertEquals(table.size, 3);
  assertEquals(table.stats("portable").closed.evicted, 2);
});

Deno.test("ConnectionTable refuses a client at its limit when none of its connections waits", () => {
  const { table, connect } = setup({
    maxConnectionsPerClient: 1,
    idleTimeout: 0,
    headerTimeout: 0,
  });
  const busy = connect(tcp("2001:db8:1:2::5")) as Opened;
  busy.hooks.headStart();
  // The same /64, another host in it.
  assertEquals(connect(tcp("2001:db8:1:2:ffff::9")), "maxConnectionsPerClient");
  // Another /64 is another client.
  assertEquals(typeof connect(tcp("2001:db8:1:3::5")), "object");
  // Unix-socket clients are not counted.
  const unix: Deno.UnixAddr = { transport: "unix", path: "/tmp/reaper.sock" };
  assertEquals(typeof connect(unix), "object");
  assertEquals(typeof connect(unix), "object");
  assertEquals(table.stats("portable").closed.maxConnectionsPerClient, 1);
  // When the busy one closes, its client may connect again.
  busy.fake.close("client");
  assertEquals(typeof connect(tcp("2001:db8:1:2::7")), "object");
});

Deno.test("clientGroup() groups IPv6 by /64 and keeps IPv4 as it is", () => {
  assertEquals(clientGroup(tcp("192.0.2.7")), "192.0.2.7");
  assertEquals(clientGroup(tcp("::ffff:192.0.2.7")), "192.0.2.7");
  assertEquals(clientGroup(tcp("2001:db8::1")), "2001:db8:0:0::/64");
  assertEquals(
    clientGroup(tcp("2001:0db8:0000:0000:1111:2222:3333:4444")),
    "2001:db8:0:0::/64",
  );
  assertEquals(clientGroup(tcp("2001:DB8:0:0:aaaa::1")), "2001:db8:0:0::/64");
  assertEquals(clientGroup(tcp("::1")), "0:0:0:0::/64");
  assertEquals(clientGroup(tcp("fe80::1%eth0")), "fe80:0:0:0::/64");
  assertEquals(
    clientGroup({ transport: "unix", path: "/run/app.sock" }),
    null,
  );
});

Deno.test("ConnectionTable under pressure shrinks the idle and header timeouts linearly, and grows them back", () => {
  const { clock, table, connect, serveOne } = setup({
    maxConnections: 10,
    pressure: { from: 5, floor: 2_000 },
    idleTimeout: 65_000,
    headerTimeout: 20_000,
  });
  const opened: Opened[] = [];
  const effective = () => {
    table.tick(clock.t); // re-evaluated at each tick
    return table.stats("portable").effective;
  };
  for (let i = 0; i < 5; i++) opened.push(connect() as Opened);
  assertEquals(effective(), { idleTimeout: 65_000, headerTimeout: 20_000 });
  for (let i = 0; i < 3; i++) opened.push(connect() as Opened); // 8 open
  // 3/5 of the way from 5 to 10.
  assertEquals(effective(), { idleTimeout: 27_200, headerTimeout: 9_200 });
  for (let i = 0; i < 2; i++) opened.push(connect() as Opened); // 10 open
  assertEquals(effective(), { idleTimeout: 2_000, headerTimeout: 2_000 });
  for (const { fake } of opened.splice(3)) fake.close("client"); // 3 open
  assertEquals(effective(), { idleTimeout: 65_000, headerTimeout: 20_000 });
  for (const { hooks } of opened) serveOne(hooks);
});

Deno.test("ConnectionTable under pressure closes an idle connection once the shrunk timeout has passed", () => {
  const { clock, table, connect, serveOne } = setup({
    maxConnections: 10,
    pressure: { from: 5, floor: 2_000 },
    idleTimeout: 65_000,
    headerTimeout: 0,
  });
  const idle = connect() as Opened;
  serveOne(idle.hooks); // idle since 1000
  const busy: Opened[] = [];
  for (let i = 0; i < 5; i++) {
    const c = connect() as Opened;
    c.hooks.headStart();
    c.hooks.requestStart();
    busy.push(c);
  }
  // 6 open: idle timeout 65000 - 63000 * 1/5 = 52400.
  clock.t = 41_000; // idle for 40 s
  assertEquals(table.tick(clock.t), 0);
  assertEquals(idle.fake.closedWith, undefined);
  assertEquals(table.connections(clock.t)[0].timeoutMs, 52_400);
  // 7 open: 39800 ms; 40 s idle is over it.
  const seventh = connect() as Opened;
  seventh.hooks.headStart();
  assertEquals(table.tick(clock.t), 1);
  assertEquals(idle.fake.closedWith, "idle");
  // Never before its time: another idle one, 30 s idle at 7 open (39.8 s).
  const later = connect() as Opened;
  serveOne(later.hooks); // idle since 41000
  clock.t = 71_000;
  assertEquals(table.tick(clock.t), 0);
  assertEquals(later.fake.closedWith, undefined);
});

Deno.test("ConnectionTable counts no request twice when its connection closed first", () => {
  const { clock, table, connect } = setup({
    idleTimeout: 0,
    headerTimeout: 0,
    requestTimeout: 100,
  });
  const { hooks, fake } = connect() as Opened;
  const first = hooks.requestStart();
  const second = hooks.requestStart();
  assertEquals(table.stats("native").streams, 2);
  clock.t = 1_100;
  table.tick(clock.t); // closed by requestTimeout, both requests open
  assertEquals(fake.closedWith, "requestTimeout");
  // The engine reports the requests' ends afterwards.
  first.responseStart();
  first.requestEnd();
  second.requestEnd();
  hooks.requestStart();
  assertEquals(table.stats("native").streams, 0);
  assertEquals(table.stats("native").open.total, 0);
});
