#!/usr/bin/env -S deno run -A
// Copyright 2026 the Reaper authors. MIT license.
/**
 * Proof (a): an idle flood at `maxConnections` cannot lock out a
 * legitimate client.
 *
 * For each Reaper engine: a server with `maxConnections` (default 1,000),
 * `idleTimeout` 60 s and `headerTimeout` 20 s (so nothing expires during the
 * run). One "attacker" opens `maxConnections` keep-alive connections one
 * after another, sends one request on each, reads the answer and then leaves
 * them idle. Then a legitimate client opens `--requests` (default 20) fresh
 * connections one after another, sends one request on each and keeps it
 * open, so that every one of them needs a slot.
 *
 * It prints how many of the legitimate requests got `200` and how many
 * `503` (or no answer), and which connections the server closed with the
 * reason `"evicted"` (from `onConnectionState`, printed by `_server.ts`, and
 * `stats().closed.evicted`). Pass: every legitimate request got `200`, and
 * the connections closed to make room are exactly the attacker's oldest (its
 * first N, in opening order). Until Reaper evicts idle connections at the
 * limit, the legitimate client gets `503`s and this script prints FAIL.
 *
 * Usage:
 * `deno run -A bench/proof/idle_flood.ts [--max 1000] [--requests 20] [--engines portable,native]`
 *
 * `-A` because Deno reads `/proc/self/limits` and `/proc/loadavg` only with
 * it. Bounded: at most `max + requests` connections, each step with a timeout,
 * about 10 s a server; the servers are stopped at the end (and on error).
 *
 * @module
 */

import {
  closes,
  countBy,
  flag,
  loadAverage,
  openFileLimit,
  proofServer,
  type ProofServerKind,
  readResponse,
  reaperStats,
  requestBytes,
  SERVER_NAMES,
  sleep,
  startServer,
  verdict,
} from "./_proof.ts";

const max = Number(flag("max") ?? "1000");
const requests = Number(flag("requests") ?? "20");
const engines = (flag("engines") ?? "portable,native").split(",");
const STEP_TIMEOUT_MS = 3_000;

/** One connection of the attacker or the client. */
interface Held {
  conn: Deno.TcpConn;
  port: number;
  status: number | null;
  closed: boolean;
}

/** Opens a connection, sends one keep-alive GET and reads the answer. */
async function openOne(port: number): Promise<Held> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const held: Held = {
    conn,
    port: conn.localAddr.port,
    status: null,
    closed: false,
  };
  const timer = setTimeout(() => {
    held.closed = true;
    conn.close();
  }, STEP_TIMEOUT_MS);
  try {
    await conn.write(requestBytes(false));
    held.status = (await readResponse(conn)).status;
  } catch {
    // Closed without an answer (or by the timer).
  } finally {
    clearTimeout(timer);
  }
  if (!held.closed) watchClose(held);
  return held;
}

/** Marks the connection closed once the server closes it. */
function watchClose(held: Held): void {
  (async () => {
    const buffer = new Uint8Array(1_024);
    try {
      while (await held.conn.read(buffer) !== null) { /* discard */ }
    } catch { /* reset, or closed by us */ }
    held.closed = true;
  })();
}

function closeAll(list: readonly Held[]): void {
  for (const held of list) {
    try {
      held.conn.close();
    } catch { /* closed already */ }
  }
}

async function run(kind: ProofServerKind): Promise<boolean> {
  const options = {
    maxConnections: max,
    idleTimeout: 60_000,
    headerTimeout: 20_000,
    requestTimeout: 0,
    tickInterval: 250,
  };
  console.log(
    `\n== ${SERVER_NAMES[kind]}: ${
      JSON.stringify(options)
    }, load ${await loadAverage()}`,
  );
  await using server = await startServer(proofServer(kind, options));
  // The readiness probe of startServer used one connection; let it close.
  await sleep(300);
  const attacker: Held[] = [];
  const legit: Held[] = [];
  try {
    for (let i = 0; i < max; i++) attacker.push(await openOne(server.port));
    const refused = attacker.filter((h) => h.status !== 200).length;
    console.log(
      `attacker: ${max} connections opened, ${
        max - refused
      } got 200, ${refused} did not`,
    );
    for (let i = 0; i < requests; i++) legit.push(await openOne(server.port));
    await sleep(500);
    const ok = legit.filter((h) => h.status === 200).length;
    const busy = legit.filter((h) => h.status === 503).length;
    const none = legit.filter((h) => h.status === null).length;
    console.log(
      `legitimate client: ${requests} requests on fresh connections: ${ok} got 200, ${busy} got 503, ${
        requests - ok - busy - none
      } other, ${none} no answer`,
    );
    const stats = await reaperStats(server);
    const closed = (stats?.closed ?? {}) as Record<string, number>;
    const log = closes(server.output());
    const evicted = log.filter((c) => c.reason === "evicted");
    const attackerPorts = attacker.map((h) => h.port);
    const expected = new Set(attackerPorts.slice(0, evicted.length));
    const oldest = evicted.length > 0 &&
      evicted.every((c) => expected.has(c.port));
    const attackerClosed = attacker.filter((h) => h.closed).length;
    console.log(`server close reasons: ${countBy(log, (c) => c.reason)}`);
    console.log(
      `stats().closed.evicted: ${
        closed.evicted ?? "(no such counter)"
      }; stats().closed.maxConnections: ${
        closed.maxConnections ?? "?"
      }; open now: ${(stats?.open as { total?: number })?.total ?? "?"}`,
    );
    console.log(
      `evicted: ${evicted.length} connections; they are the attacker's ${evicted.length} oldest: ${
        evicted.length === 0 ? "n/a" : oldest ? "yes" : "no"
      }; attacker connections closed: ${attackerClosed}`,
    );
    const pass = ok === requests && oldest;
    console.log(
      `${SERVER_NAMES[kind]}: ${
        pass ? "pass" : "fail"
      } (${ok}/${requests} got 200, ${evicted.length} evicted${
        oldest ? ", the oldest" : ""
      })`,
    );
    return pass;
  } finally {
    closeAll(legit);
    closeAll(attacker);
  }
}

const limit = await openFileLimit();
if (limit < max + requests + 200) {
  console.log(
    `The open-file limit is ${limit}; this needs about ${
      max + requests + 200
    }: run \`ulimit -n ${max + requests + 1000}\` first`,
  );
  Deno.exit(1);
}
console.log(
  `idle_flood: ${max} idle keep-alive connections from one attacker, then ${requests} requests from a legitimate client`,
);
let allPass = true;
for (const engine of engines) {
  allPass = await run(`reaper-${engine}` as ProofServerKind) && allPass;
}
verdict(
  "idle_flood",
  allPass,
  `rule: all ${requests} legitimate requests get 200 and the connections evicted to make room are the attacker's oldest, on ${
    engines.join(" and ")
  }`,
);
