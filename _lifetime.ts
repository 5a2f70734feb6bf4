// Copyright 2026 the Reaper authors. MIT license.
/**
 * The lifetime policy: every open connection, its state, its timers, and
 * the rules that decide when it must go. Pure: no I/O, no timers of its own;
 * the clock is passed in, so tests drive it with a fake one.
 *
 * Every connection has up to three timer nodes, one in each of three timer
 * lists: one list per timeout (`headerTimeout`, `idleTimeout`,
 * `requestTimeout`). Within a list every deadline is "event time + the same
 * duration", so adding a node is an O(1) append at the tail. Bytes in or out
 * only record a timestamp on the connection (`touch()`); the idle list holds
 * a lower bound of each connection's true deadline, and the expiry pass
 * re-queues a node whose connection was touched instead of closing it.
 *
 * One function, {@linkcode timerInForce}, decides which timer is in force
 * for a connection, from its state, a per-request override
 * (`info.setTimeout()`) and whether its engine sees bytes; the expiry pass
 * ({@linkcode ConnectionTable.tick}) and the listing
 * ({@linkcode ConnectionTable.connections}) both use it:
 *
 * | state                 | stall timer (`idleTimeout`, or the override)     | other timers                     |
 * | --------------------- | ------------------------------------------------ | -------------------------------- |
 * | `new`                 | runs                                             | `headerTimeout` from accept      |
 * | `reading`             | runs                                             | `headerTimeout` (first request: from accept; later: from the first byte) |
 * | `active`              | only while the engine waits on the peer (1) and sees bytes | `requestTimeout` (or the override) |
 * | `writing`             | only while the engine waits on the peer (1) and sees bytes | `requestTimeout` (or the override) |
 * | `idle`                | runs (never the override)                        | none                             |
 *
 * 1. `peerWait(true)`: for request body bytes, or for a write of the
 *    response that the peer has not drained. A handler computing, or a
 *    response stream slow to produce its next chunk, is never idle.
 *
 * An override of `0` stops the stall and request timers of that request.
 *
 * A connection may carry several requests at once (HTTP/2 streams). It is
 * `active` while any handler runs, `writing` while every open request has
 * its response and some are still being sent, and `idle` only once no
 * request is open. Each request has its own request timer and override;
 * the connection's own fields serve the first open request, and a
 * {@linkcode Stream} record each further one.
 *
 * The table has one shutdown phase: `"serving"`, possibly `"delaying"`
 * (`shutdownDelay`: still accepting, but every response says `Connection:
 * close`), then `"draining"` (the same; idle connections go after the
 * grace), then possibly `"closing"` (everything goes at once).
 *
 * @module
 */

import { TimerList, TimerNode } from "./timer_list.ts";
import type {
  ConnectionHooks,
  EngineConnection,
  RequestHooks,
} from "./_engine.ts";
import type { ResolvedLifetime } from "./_options.ts";
import type {
  CloseReason,
  ConnectionInfo,
  ConnectionState,
  ConnectionStateEvent,
  ServerStats,
} from "./types.ts";

/** What a {@linkcode ConnectionTable} needs from the outside world. */
export interface TableEnvironment {
  /** The clock, in milliseconds. */
  now(): number;
  /** Called on every change of a connection's state; must not throw. */
  onState?(event: ConnectionStateEvent): void;
  /** Called when the last connection of a shutting-down table is gone. */
  onEmpty?(): void;
}

/** Where the table is in the server's life. */
export type TablePhase = "serving" | "delaying" | "draining" | "closing";

/** Which timeout a timer enforces. */
export type TimerKind = "idle" | "headerTimeout" | "requestTimeout";

/** The timer that will close a connection first. */
export interface ActiveTimer {
  /** Which timeout it enforces. */
  readonly kind: TimerKind;
  /** When it runs out, on the table's clock. */
  readonly deadline: number;
  /** How long it runs in all, in milliseconds. */
  readonly duration: number;
}

/** What the policy reads of a connection. */
export interface PolicyInput {
  /** The connection's state. */
  readonly state: ConnectionState;
  /** The per-request override of `info.setTimeout()`, or `-1`. */
  readonly override: number;
  /** Whether the engine waits on the peer (`peerWait()`). */
  readonly peerWaiting: boolean;
  /** Whether the engine reports every byte. */
  readonly tracksBytes: boolean;
  /** When the last byte (or event) was seen. */
  readonly lastActivity: number;
}

/**
 * The stall timer of a connection: its duration (`0`: none) and whether it
 * runs in the connection's state (during a request only while the engine
 * waits on the peer, for body bytes or for a write to drain, and never when
 * the engine cannot see bytes).
 *
 * @param conn The connection.
 * @param idleTimeout The server's `idleTimeout`.
 * @returns The duration and whether it runs now.
 */
function stallTimer(
  conn: PolicyInput,
  idleTimeout: number,
): { duration: number; running: boolean } {
  const duration = conn.override !== -1 && conn.state !== "idle"
    ? conn.override
    : idleTimeout;
  const running = conn.state === "active" || conn.state === "writing"
    ? conn.peerWaiting && conn.tracksBytes
    : true;
  return { duration, running };
}

/**
 * The timer in force for a connection: the one of its running timers that
 * runs out first, or `undefined` when none runs.
 *
 * @param conn The connection.
 * @param options The resolved timeouts.
 * @param header The deadline of its header timer, or `undefined`.
 * @param request The soonest request timer of its open requests (deadline
 * and duration), or `undefined`.
 * @returns Which timer, its deadline and its duration.
 */
function timerInForce(
  conn: PolicyInput,
  options: ResolvedLifetime,
  header: number | undefined,
  request: { deadline: number; duration: number } | undefined,
): ActiveTimer | undefined {
  let first: ActiveTimer | undefined;
  const consider = (kind: TimerKind, deadline: number, duration: number) => {
    if (!first || deadline < first.deadline) {
      first = { kind, deadline, duration };
    }
  };
  if (header !== undefined) {
    consider("headerTimeout", header, options.headerTimeout);
  }
  if (request !== undefined) {
    consider("requestTimeout", request.deadline, request.duration);
  }
  const stall = stallTimer(conn, options.idleTimeout);
  if (stall.duration > 0 && stall.running) {
    consider("idle", conn.lastActivity + stall.duration, stall.duration);
  }
  return first;
}

/** One client (address group) under `maxConnectionsPerClient`. */
interface ClientEntry {
  /** Its address group ({@linkcode clientGroup}). */
  readonly key: string;
  /** Its open connections. */
  count: number;
  /** Its connections waiting without a request, oldest first. */
  readonly waiting: TimerList<Connection>;
}

/**
 * The group a client counts in for `maxConnectionsPerClient`: an IPv4
 * address as it is (also when written as an IPv4-mapped IPv6 address), the
 * /64 network of an IPv6 address (its first four groups), and `null` for a
 * Unix socket, whose clients are not counted.
 *
 * @param addr The client's address.
 * @returns The group's key, or `null`.
 */
export function clientGroup(
  addr: Deno.NetAddr | Deno.UnixAddr,
): string | null {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return null;
  const host = (addr as Deno.NetAddr).hostname.toLowerCase();
  if (!host.includes(":")) return host;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  if (mapped !== null) return mapped[1];
  // Expand "::" so that the first four groups can be read.
  const zone = host.indexOf("%");
  const bare = zone === -1 ? host : host.slice(0, zone);
  const [head, tail] = bare.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined
    ? left
    : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":") +
    "::/64";
}

/** What owns a request timer: a connection's first request, or a stream. */
type RequestSlot = Connection | Stream;

/**
 * A request that opened while another was open on the same connection (an
 * HTTP/2 stream): its own start, override and request timer.
 */
class Stream implements RequestHooks {
  readonly conn: Connection;
  readonly startedAt: number;
  /** `info.setTimeout()` of this request; -1: none. */
  override = -1;
  responded = false;
  ended = false;
  readonly requestNode: TimerNode<RequestSlot>;

  constructor(conn: Connection, startedAt: number) {
    this.conn = conn;
    this.startedAt = startedAt;
    this.requestNode = new TimerNode<RequestSlot>(this);
  }

  responseStart(): void {
    if (this.responded || this.ended) return;
    this.responded = true;
    this.conn.handling--;
    this.conn.settleState();
  }

  requestEnd(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.responded) this.conn.handling--;
    this.conn.endStream(this);
  }

  setRequestTimeout(ms: number): void {
    if (!this.ended) this.conn.table.overrideStream(this, ms);
  }
}

/**
 * One connection: its state, its timers and its hooks for the engine.
 * Implements {@linkcode ConnectionHooks}; every hook is a few field writes.
 */
class Connection implements ConnectionHooks, PolicyInput {
  readonly id: number;
  readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  readonly openedAt: number;
  state: ConnectionState = "new";
  lastActivity: number;
  requestStartedAt = 0;
  requests = 0;
  /** Open requests (HTTP/2: streams). */
  streams = 0;
  /** Open requests whose handler has not returned yet. */
  handling = 0;
  /** Whether the connection's own request slot is taken. */
  firstOpen = false;
  /** Whether the request in the connection's own slot has responded. */
  firstResponded = false;
  /** The further open requests, made when the first is taken. */
  more: Set<Stream> | null = null;
  /**
   * Its place among the connections waiting without a request (new or
   * idle), oldest first; made only when a connection limit is set.
   */
  waitNode: TimerNode<Connection> | null = null;
  /** Its place among its client's waiting connections; the same. */
  clientNode: TimerNode<Connection> | null = null;
  /** Its client's entry, when `maxConnectionsPerClient` counts it. */
  client: ClientEntry | null = null;
  peerWaiting = false;
  /** Whether the engine reported an upgrade (`upgraded()`). */
  isUpgraded = false;
  /** Whether the engine reports bytes; else only request-level events. */
  readonly tracksBytes: boolean;
  /** Per-request stall/request timeout from `info.setTimeout()`; -1: none. */
  override = -1;
  engine: EngineConnection | undefined;
  readonly idleNode: TimerNode<Connection>;
  readonly headerNode: TimerNode<Connection>;
  readonly requestNode: TimerNode<RequestSlot>;
  readonly table: ConnectionTable;

  constructor(
    table: ConnectionTable,
    id: number,
    remoteAddr: Deno.NetAddr | Deno.UnixAddr,
    tracksBytes: boolean,
  ) {
    this.table = table;
    this.id = id;
    this.remoteAddr = remoteAddr;
    this.tracksBytes = tracksBytes;
    this.openedAt = this.lastActivity = table.now();
    this.idleNode = new TimerNode(this);
    this.headerNode = new TimerNode(this);
    this.requestNode = new TimerNode<RequestSlot>(this);
  }

  get mustClose(): boolean {
    const max = this.table.options.maxRequestsPerConnection;
    return this.table.phase !== "serving" || (max > 0 && this.requests >= max);
  }

  get keepAlive(): string {
    // Advertised on a connection's first response only: a client learns the
    // timeout from it, and the runtime's header path is not cheap (the
    // native engine measured 12-13 µs per request with it on every
    // response against 9.4 µs without).
    return this.requests <= 1 ? this.table.keepAlive : "";
  }

  touch(): void {
    this.lastActivity = this.table.now();
  }

  headStart(): void {
    this.lastActivity = this.table.now();
    if (this.state === "reading") return;
    if (this.state === "idle") this.table.startHeaderTimer(this);
    this.table.setState(this, "reading");
  }

  requestStart(immediate = false): RequestHooks {
    // An engine may still report a request of a connection the table has
    // let go: it counts nothing.
    if (this.state === "closed") return this;
    const now = immediate
      ? this.lastActivity
      : this.lastActivity = this.table.now();
    this.requests++;
    this.streams++;
    this.table.streams++;
    this.handling++;
    if (!this.firstOpen) {
      this.firstOpen = true;
      this.firstResponded = false;
      this.requestStartedAt = now;
      this.table.requestStarted(this);
      this.table.setState(this, "active");
      return this;
    }
    const stream = new Stream(this, now);
    (this.more ??= new Set()).add(stream);
    this.table.streamStarted(stream);
    this.table.setState(this, "active");
    return stream;
  }

  peerWait(waiting: boolean): void {
    this.lastActivity = this.table.now();
    this.peerWaiting = waiting;
  }

  responseStart(): void {
    if (!this.firstOpen || this.firstResponded) return;
    this.firstResponded = true;
    this.handling--;
    // No clock read: while writing, the stall timer runs only once the
    // engine waits on the peer, and `peerWait(true)` stamps the time.
    this.peerWaiting = false;
    this.settleState();
  }

  requestEnd(): void {
    if (!this.firstOpen) return;
    this.firstOpen = false;
    if (!this.firstResponded) this.handling--;
    this.lastActivity = this.table.now();
    this.peerWaiting = false;
    this.streams--;
    this.table.streams--;
    this.table.requestEnded(this);
    this.settleState();
  }

  /** A further request ended. */
  endStream(stream: Stream): void {
    this.more?.delete(stream);
    this.lastActivity = this.table.now();
    this.streams--;
    this.table.streams--;
    this.table.streamEnded(stream);
    this.settleState();
  }

  /** The state its open requests put the connection in. */
  settleState(): void {
    this.table.setState(
      this,
      this.streams === 0 ? "idle" : this.handling > 0 ? "active" : "writing",
    );
  }

  setRequestTimeout(ms: number): void {
    if (this.firstOpen) this.table.overrideRequest(this, ms);
  }

  upgraded(): void {
    if (this.isUpgraded || this.state === "closed") return;
    this.isUpgraded = true;
    this.table.webSockets++;
  }

  closed(reason: CloseReason): void {
    this.table.remove(this, reason);
  }
}

type OpenState = Exclude<ConnectionState, "closed">;

function zeroReasons(): Record<CloseReason, number> {
  return {
    idle: 0,
    headerTimeout: 0,
    requestTimeout: 0,
    maxConnections: 0,
    maxConnectionsPerClient: 0,
    evicted: 0,
    shutdown: 0,
    client: 0,
    done: 0,
    error: 0,
  };
}

/**
 * The connection table and its timers: everything the main loop does on a
 * tick, apart from I/O. Tests drive it with a fake clock and fake engine
 * connections; not part of the public API.
 */
export class ConnectionTable {
  /** The resolved timeouts and limits. */
  readonly options: ResolvedLifetime;
  /** The clock. */
  readonly now: () => number;
  /** The `Keep-Alive` value of a connection's first response, or `""`. */
  readonly keepAlive: string;
  /** Where the table is in the server's life. */
  phase: TablePhase = "serving";
  /** When the drain began, on the table's clock. */
  drainStartedAt = 0;
  readonly #env: TableEnvironment;
  readonly #conns = new Set<Connection>();
  /** `finished` of closed connections whose engine still holds something. */
  readonly #finishing = new Set<Promise<void>>();
  readonly #idle = new TimerList<Connection>();
  readonly #header = new TimerList<Connection>();
  readonly #request = new TimerList<RequestSlot>();
  #nextId = 1;
  #accepted = 0;
  #requests = 0;
  /** Open requests over every connection. */
  streams = 0;
  /** Open connections upgraded to WebSockets. */
  webSockets = 0;
  readonly #closed = zeroReasons();
  readonly #open = { new: 0, reading: 0, active: 0, writing: 0, idle: 0 };
  readonly #refreshIdle = (node: TimerNode<Connection>, now: number) =>
    this.#idleDeadline(node.value, now);
  /**
   * The idle and header timeouts in force now: the options' values, or
   * less under `pressure`; re-evaluated at each tick.
   */
  #effective: ResolvedLifetime;
  /**
   * How much earlier than their stored deadlines idle timers run out now
   * (`idleTimeout` minus the idle timeout in force), for the re-queue.
   */
  #idleOffset = 0;
  /** Whether a connection limit needs the waiting queues below. */
  readonly #evictable: boolean;
  /** Connections waiting without a request (new or idle), oldest first. */
  readonly #waiting = new TimerList<Connection>();
  /** The clients under `maxConnectionsPerClient`, by address group. */
  readonly #clients = new Map<string, ClientEntry>();

  /**
   * @param options The resolved timeouts and limits (`resolveLifetime()`).
   * @param env The clock and the callbacks.
   */
  constructor(options: ResolvedLifetime, env: TableEnvironment) {
    this.options = options;
    this.#env = env;
    this.now = env.now;
    this.#effective = options;
    this.#evictable = options.maxConnections > 0 ||
      options.maxConnectionsPerClient > 0;
    const seconds = Math.floor(options.idleTimeout / 1000) - 1;
    this.keepAlive = options.idleTimeout > 0 && seconds >= 1
      ? `timeout=${seconds}`
      : "";
  }

  /** Whether the server is past accepting: draining or closing. */
  get stopping(): boolean {
    return this.phase === "draining" || this.phase === "closing";
  }

  /**
   * Starts the shutdown delay: the server still accepts and serves, but
   * every response says `Connection: close`.
   */
  delay(): void {
    if (this.phase === "serving") this.phase = "delaying";
  }

  /** Open connections. */
  get size(): number {
    return this.#conns.size;
  }

  /** Whether a new connection must be refused (`maxConnections`). */
  get full(): boolean {
    const max = this.options.maxConnections;
    return max > 0 && this.#conns.size >= max;
  }

  /**
   * Registers a new connection and hands it to `start`, which returns the
   * engine's handle on it.
   *
   * @param remoteAddr The client's address.
   * @param start Starts the engine on the connection's hooks.
   * @param tracksBytes Whether the engine reports every byte.
   * @returns The connection's hooks.
   */
  open(
    remoteAddr: Deno.NetAddr | Deno.UnixAddr,
    start: (hooks: ConnectionHooks) => EngineConnection,
    tracksBytes: boolean,
  ): ConnectionHooks {
    const conn = new Connection(this, this.#nextId++, remoteAddr, tracksBytes);
    this.#accepted++;
    this.#conns.add(conn);
    this.#open.new++;
    const { idleTimeout, headerTimeout } = this.options;
    if (idleTimeout > 0) {
      this.#idle.add(conn.idleNode, conn.openedAt + idleTimeout);
    }
    if (headerTimeout > 0) {
      this.#header.add(conn.headerNode, conn.openedAt + headerTimeout);
    }
    if (this.#evictable) this.#enlist(conn);
    this.#emit(conn, "new");
    let engine: EngineConnection;
    try {
      engine = start(conn);
    } catch (error) {
      this.remove(conn, "error");
      throw error;
    }
    if (this.#conns.has(conn)) conn.engine = engine;
    else this.#track(engine); // The engine closed it synchronously.
    return conn;
  }

  /**
   * Counts a connection refused at a limit.
   *
   * @param reason Which limit: `"maxConnections"` by default.
   */
  refused(
    reason: "maxConnections" | "maxConnectionsPerClient" = "maxConnections",
  ): void {
    this.#accepted++;
    this.#closed[reason]++;
  }

  /**
   * Makes room for a new connection from `remoteAddr`: at
   * `maxConnectionsPerClient` for its client, then at `maxConnections`,
   * closes the connection that has waited longest without a request
   * (reason `"evicted"`). O(1) a limit.
   *
   * @param remoteAddr The new connection's client.
   * @returns `null` when the connection may be opened, else the limit that
   * refuses it (no connection was waiting to make room).
   */
  admit(
    remoteAddr: Deno.NetAddr | Deno.UnixAddr,
  ): "maxConnections" | "maxConnectionsPerClient" | null {
    const perClient = this.options.maxConnectionsPerClient;
    if (perClient > 0) {
      const key = clientGroup(remoteAddr);
      const entry = key === null ? undefined : this.#clients.get(key);
      if (
        entry !== undefined && entry.count >= perClient &&
        !this.#evictFirst(entry.waiting)
      ) return "maxConnectionsPerClient";
    }
    if (this.full && !this.#evictFirst(this.#waiting)) return "maxConnections";
    return null;
  }

  /**
   * Closes the connection that has waited longest without a request, when
   * a connection limit is set (used when accepting fails for lack of file
   * descriptors).
   *
   * @returns Whether one was closed.
   */
  evictOne(): boolean {
    return this.#evictFirst(this.#waiting);
  }

  #evictFirst(list: TimerList<Connection>): boolean {
    const node = list.peek();
    return node !== undefined && this.#kill(node.value, "evicted");
  }

  /** Registers a new connection in the waiting queues and its client. */
  #enlist(conn: Connection): void {
    conn.waitNode = new TimerNode(conn);
    this.#waiting.add(conn.waitNode, conn.openedAt);
    if (this.options.maxConnectionsPerClient === 0) return;
    const key = clientGroup(conn.remoteAddr);
    if (key === null) return;
    let entry = this.#clients.get(key);
    if (entry === undefined) {
      entry = { key, count: 0, waiting: new TimerList() };
      this.#clients.set(key, entry);
    }
    entry.count++;
    conn.client = entry;
    conn.clientNode = new TimerNode(conn);
    entry.waiting.add(conn.clientNode, conn.openedAt);
  }

  /**
   * Keeps a connection's place in the waiting queues in step with its
   * state: in them while new or idle (from the time it became so), out of
   * them otherwise.
   */
  #requeue(conn: Connection): void {
    const waiting = conn.state === "idle" || conn.state === "new";
    const node = conn.waitNode!;
    const clientNode = conn.clientNode;
    if (waiting === node.linked) return;
    if (waiting) {
      // Times only grow, so this appends at the tail: O(1).
      this.#waiting.add(node, conn.lastActivity);
      if (clientNode !== null) {
        conn.client!.waiting.add(clientNode, conn.lastActivity);
      }
    } else {
      this.#waiting.remove(node);
      if (clientNode !== null) conn.client!.waiting.remove(clientNode);
    }
  }

  /** Moves a connection to `state` and reports it. */
  setState(conn: Connection, state: ConnectionState): void {
    if (conn.state === state || conn.state === "closed") return;
    this.#open[conn.state as OpenState]--;
    this.#open[state as OpenState]++;
    conn.state = state;
    if (this.#evictable) this.#requeue(conn);
    this.#emit(conn, state);
  }

  /** Starts the header timer of a later request. */
  startHeaderTimer(conn: Connection): void {
    const { headerTimeout } = this.options;
    if (headerTimeout > 0 && !conn.headerNode.linked) {
      this.#header.add(conn.headerNode, conn.lastActivity + headerTimeout);
    }
  }

  /** A request head is complete: header timer off, request timer on. */
  requestStarted(conn: Connection): void {
    this.#requests++;
    this.#header.remove(conn.headerNode);
    const { requestTimeout } = this.options;
    if (requestTimeout > 0) {
      this.#request.add(
        conn.requestNode,
        conn.requestStartedAt + requestTimeout,
      );
    }
  }

  /** A response was sent: the request's timers and override end. */
  requestEnded(conn: Connection): void {
    this.#request.remove(conn.requestNode);
    if (conn.override !== -1) {
      conn.override = -1;
      // The override may have scheduled the idle timer later than the idle
      // timeout allows from now on: put it back where it belongs.
      const { idleTimeout } = this.options;
      if (idleTimeout > 0) {
        this.#place(this.#idle, conn.idleNode, conn.lastActivity + idleTimeout);
      } else {
        this.#idle.remove(conn.idleNode);
      }
    }
  }

  /** `info.setTimeout(ms)` of the connection's first open request. */
  overrideRequest(conn: Connection, ms: number): void {
    // Only a request in flight can be given other timeouts: a late call
    // (after the response was sent) must not touch the idle timers.
    if (conn.state !== "active" && conn.state !== "writing") return;
    conn.override = ms;
    if (ms === 0) {
      this.#request.remove(conn.requestNode);
      return;
    }
    this.#place(this.#request, conn.requestNode, conn.requestStartedAt + ms);
    this.#place(this.#idle, conn.idleNode, conn.lastActivity + ms);
  }

  /** A further request opened: its own request timer. */
  streamStarted(stream: Stream): void {
    this.#requests++;
    const { requestTimeout } = this.options;
    if (requestTimeout > 0) {
      this.#request.add(stream.requestNode, stream.startedAt + requestTimeout);
    }
  }

  /** A further request ended. */
  streamEnded(stream: Stream): void {
    this.#request.remove(stream.requestNode);
  }

  /** `info.setTimeout(ms)` of a further request: its request timer only. */
  overrideStream(stream: Stream, ms: number): void {
    stream.override = ms;
    if (ms === 0) this.#request.remove(stream.requestNode);
    else this.#place(this.#request, stream.requestNode, stream.startedAt + ms);
  }

  #place<T>(list: TimerList<T>, node: TimerNode<T>, at: number) {
    if (node.linked) list.adjust(node, at);
    else list.add(node, at);
  }

  /**
   * The idle timer's true deadline, for the lazy re-queue: the last
   * activity plus the stall timeout, or a re-check one full timeout later
   * while no stall timeout runs (a handler computing is never idle; a
   * transition out of that state records a new activity time, so the
   * re-check is never later than the true deadline).
   */
  #idleDeadline(conn: Connection, now: number): number {
    const { idleTimeout } = this.options;
    const stall = stallTimer(conn, idleTimeout);
    if (stall.duration === 0) return now + (idleTimeout || 60_000);
    if (!stall.running) return now + stall.duration;
    // Deadlines are stored as if `idleTimeout` were in force and expired
    // `#idleOffset` early; a per-request override is not shortened.
    const overridden = conn.override !== -1 && conn.state !== "idle";
    return conn.lastActivity + stall.duration +
      (overridden ? this.#idleOffset : 0);
  }

  /**
   * The timeouts in force under `pressure`, for `open` connections: the
   * idle and header timeouts shrink linearly from their full values at
   * `pressure.from` open connections to `pressure.floor` at
   * `maxConnections`.
   */
  #underPressure(open: number): ResolvedLifetime {
    const options = this.options;
    const pressure = options.pressure;
    if (pressure === false || open <= pressure.from) return options;
    const share = Math.min(
      1,
      (open - pressure.from) / (options.maxConnections - pressure.from),
    );
    const shrink = (full: number) =>
      full === 0 ? 0 : full - (full - Math.min(pressure.floor, full)) * share;
    return {
      ...options,
      idleTimeout: shrink(options.idleTimeout),
      headerTimeout: shrink(options.headerTimeout),
    };
  }

  /**
   * The timer that will close a connection first (see
   * {@linkcode timerInForce}); `undefined` when no timer runs.
   */
  timer(conn: Connection): ActiveTimer | undefined {
    let request: { deadline: number; duration: number } | undefined;
    const { requestTimeout } = this.options;
    if (conn.requestNode.linked) {
      request = {
        deadline: conn.requestNode.deadline,
        duration: conn.override > 0 ? conn.override : requestTimeout,
      };
    }
    if (conn.more !== null) {
      for (const stream of conn.more) {
        const node = stream.requestNode;
        if (node.linked && (!request || node.deadline < request.deadline)) {
          request = {
            deadline: node.deadline,
            duration: stream.override > 0 ? stream.override : requestTimeout,
          };
        }
      }
    }
    const effective = this.#effective;
    return timerInForce(
      conn,
      effective,
      conn.headerNode.linked
        ? conn.headerNode.deadline -
          (this.options.headerTimeout - effective.headerTimeout)
        : undefined,
      request,
    );
  }

  /**
   * Expires the timers that ran out at `now` and closes their connections.
   * While draining, also closes the connections that stayed idle for the
   * grace period. Connections closed during the pass are unregistered by
   * the pass itself: an engine's `closed()` report comes back to a table
   * that has already let the connection go.
   *
   * @param now The time.
   * @returns How many connections it closed.
   */
  tick(now: number): number {
    let closed = 0;
    // Header and idle deadlines are stored for the full timeouts: under
    // pressure, the lists run out as much earlier as the timeouts shrank.
    const effective = this.#effective = this.#underPressure(this.#conns.size);
    const headerOffset = this.options.headerTimeout - effective.headerTimeout;
    this.#idleOffset = this.options.idleTimeout - effective.idleTimeout;
    for (const node of this.#header.expire(now + headerOffset)) {
      if (this.#kill(node.value, "headerTimeout")) closed++;
    }
    for (const node of this.#request.expire(now)) {
      // A stream over its time takes its connection with it: an engine
      // cannot end one stream on the lifetime layer's word.
      const slot = node.value;
      const conn = slot instanceof Stream ? slot.conn : slot;
      if (this.#kill(conn, "requestTimeout")) closed++;
    }
    for (
      const node of this.#idle.expire(now + this.#idleOffset, this.#refreshIdle)
    ) {
      if (this.#kill(node.value, "idle")) closed++;
    }
    if (this.phase === "draining") {
      const grace = this.options.shutdownGrace;
      const graceEnd = this.drainStartedAt + grace;
      const due: Connection[] = [];
      for (const conn of this.#conns) {
        if (
          conn.isUpgraded ||
          ((conn.state === "idle" || conn.state === "new") &&
            now >= Math.max(graceEnd, conn.lastActivity + grace))
        ) due.push(conn);
      }
      for (const conn of due) {
        conn.engine?.closeIdle();
        if ((conn.state as ConnectionState) === "closed") closed++;
      }
    }
    return closed;
  }

  /** Unregisters a connection, then tells its engine to close it. */
  #kill(conn: Connection, reason: CloseReason): boolean {
    if (conn.state === "closed") return false;
    const engine = conn.engine;
    this.remove(conn, reason);
    if (engine !== undefined) {
      try {
        engine.close(reason);
      } catch (error) {
        console.error("The HTTP engine failed to close a connection:", error);
      }
    }
    return true;
  }

  /**
   * Starts the graceful shutdown: responses say `Connection: close` from now
   * on, and idle connections go after the grace.
   *
   * @param now The time.
   */
  drain(now: number): void {
    if (this.stopping) return;
    this.phase = "draining";
    this.drainStartedAt = now;
    if (this.#conns.size === 0) this.#env.onEmpty?.();
  }

  /**
   * Closes every connection at once.
   *
   * @param reason The reason reported for each.
   */
  closeAll(reason: CloseReason): void {
    this.phase = "closing";
    for (const conn of [...this.#conns]) this.#kill(conn, reason);
  }

  /**
   * Unregisters a connection: the engine reports it closed, or the table
   * closes it. Idempotent.
   *
   * @param conn The connection.
   * @param reason Why it closed.
   */
  remove(conn: Connection, reason: CloseReason): void {
    if (conn.state === "closed") return;
    this.#header.remove(conn.headerNode);
    this.#request.remove(conn.requestNode);
    this.#idle.remove(conn.idleNode);
    if (conn.more !== null) {
      for (const stream of conn.more) {
        this.#request.remove(stream.requestNode);
        stream.ended = true;
      }
      conn.more = null;
    }
    // Its open requests end with it: a late report of one changes nothing.
    conn.firstOpen = false;
    conn.handling = 0;
    if (conn.waitNode !== null) this.#waiting.remove(conn.waitNode);
    const client = conn.client;
    if (client !== null) {
      client.waiting.remove(conn.clientNode!);
      if (--client.count === 0) {
        this.#clients.delete(client.key);
      }
      conn.client = null;
    }
    if (conn.isUpgraded) this.webSockets--;
    this.#open[conn.state as OpenState]--;
    this.streams -= conn.streams;
    conn.streams = 0;
    conn.state = "closed";
    this.#conns.delete(conn);
    this.#closed[reason]++;
    if (conn.engine !== undefined) {
      this.#track(conn.engine);
      conn.engine = undefined;
    }
    this.#emit(conn, "closed", reason);
    if (this.stopping && this.#conns.size === 0) this.#env.onEmpty?.();
  }

  /** Remembers a closed connection's `finished` until it settles. */
  #track(engine: EngineConnection): void {
    const finished = engine.finished;
    this.#finishing.add(finished);
    finished.then(() => this.#finishing.delete(finished));
  }

  /**
   * Settles once the engine of every closed connection holds nothing of it
   * any more (every `finished` settled).
   *
   * @returns A promise that never rejects.
   */
  async settled(): Promise<void> {
    while (this.#finishing.size > 0) {
      await Promise.all(this.#finishing);
    }
  }

  #emit(conn: Connection, state: ConnectionState, reason?: CloseReason) {
    const onState = this.#env.onState;
    if (onState === undefined) return;
    try {
      onState({
        id: conn.id,
        remoteAddr: conn.remoteAddr,
        state,
        reason,
        // A clock read only where it is reported: closes are rare.
        idleMs: state === "closed"
          ? Math.max(0, this.now() - conn.lastActivity)
          : 0,
      });
    } catch (error) {
      console.error("onConnectionState threw:", error);
    }
  }

  /**
   * Counters and gauges.
   *
   * @param engine The engine's name.
   * @returns The server's stats.
   */
  stats(engine: "portable" | "native"): ServerStats {
    return {
      engine,
      open: { total: this.#conns.size, ...this.#open },
      accepted: this.#accepted,
      requests: this.#requests,
      streams: this.streams,
      webSockets: this.webSockets,
      effective: {
        idleTimeout: this.#effective.idleTimeout,
        headerTimeout: this.#effective.headerTimeout,
      },
      closed: { ...this.#closed },
      shuttingDown: this.phase !== "serving",
    };
  }

  /**
   * The open connections, soonest timer first.
   *
   * @param now The time.
   * @returns One record a connection.
   */
  connections(now: number): ConnectionInfo[] {
    const list: ConnectionInfo[] = [];
    for (const conn of this.#conns) {
      const timer = this.timer(conn);
      list.push({
        id: conn.id,
        remoteAddr: conn.remoteAddr,
        state: conn.state,
        ageMs: Math.max(0, now - conn.openedAt),
        idleMs: Math.max(0, now - conn.lastActivity),
        remainingMs: timer ? Math.max(0, timer.deadline - now) : null,
        timeoutMs: timer?.duration ?? null,
        timer: timer?.kind ?? null,
        requests: conn.requests,
        streams: conn.streams,
      });
    }
    return list.sort((a, b) =>
      (a.remainingMs ?? Infinity) - (b.remainingMs ?? Infinity) || a.id - b.id
    );
  }
}
