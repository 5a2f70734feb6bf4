// Copyright 2026 the Reaper authors. MIT license.
/**
 * The lifetime layer: the accept loop, the connection table, the event
 * channel and the main loop.
 *
 * Every connection has up to three timer nodes, one in each of three timer
 * lists: one list per timeout (`headerTimeout`, `idleTimeout`,
 * `requestTimeout`). Within a list every deadline is "event time + the same
 * duration", so adding a node is an O(1) append at the tail. Bytes in or out
 * only record a timestamp on the connection (`touch()`); the idle list holds a
 * lower bound of each connection's true deadline, and the expiry pass
 * re-queues a node whose connection was touched instead of closing it.
 *
 * A periodic tick and the process's signals post events to one channel; a
 * single async main loop consumes them: a tick expires the timers that ran
 * out and closes their connections, a signal starts the graceful shutdown.
 *
 * This file does not know which engine serves a connection: it speaks to
 * engines only through `_engine.ts`.
 *
 * @module
 */

import { TimerList, TimerNode } from "./timer_list.ts";
import { onSignals, shutdownSignals } from "./signals.ts";
import { registerMetrics } from "./_metrics.ts";
import {
  type ConnectionHooks,
  defaultOnError,
  type Engine,
  type EngineConnection,
  type ErrorHandler,
  formatHost,
} from "./_engine.ts";
import { createPortableEngine } from "./_portable.ts";
import { createNativeEngine, probeNativeEngine } from "./_native.ts";
import type {
  CloseReason,
  ConnectionInfo,
  ConnectionState,
  ServeHandler,
  ServerStats,
} from "./types.ts";

/** A change of a connection's state, passed to `onConnectionState`. */
export interface ConnectionStateEvent {
  /** The connection's number, unique within the server. */
  readonly id: number;
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** The state the connection entered. */
  readonly state: ConnectionState;
  /** Why it closed; set only when `state` is `"closed"`. */
  readonly reason?: CloseReason;
  /**
   * For a `"closed"` event, milliseconds since the last byte in either
   * direction (the native engine: since the last request event); `0` for
   * the other states.
   */
  readonly idleMs: number;
}

/**
 * The timeouts and limits that govern connections. All durations are in
 * milliseconds; `0` disables a timeout or limit.
 */
export interface LifetimeOptions {
  /**
   * How long a connection may go without a byte in either direction while it
   * waits for its next request, while a request body is being read, or while
   * a response is being written. It resets on every byte read or written
   * (the native engine sees only request starts and response ends). A
   * handler that is still computing a response is not idle: this timeout
   * does not run then. `0` means no idle timeout.
   *
   * @default {65000}
   */
  idleTimeout?: number;
  /**
   * How long a client may take to send a complete request head, counted
   * from accept for the first request and from the first byte of each later
   * request. Exceeded: the portable engine answers `408 Request Timeout` and
   * closes the connection. This stops a slowloris client, which an idle
   * timeout never does (a trickle of one byte a second is never idle).
   * The native engine cannot see a later request's first byte: it applies
   * this timeout to the first request only. `0` means no header timeout.
   *
   * @default {20000}
   */
  headerTimeout?: number;
  /**
   * How long one request may take, from its complete head until its
   * response has been sent, whatever the handler and the client do in the
   * meantime. A handler may override it for its own request with
   * `info.setTimeout()`. `0` means no request timeout.
   *
   * @default {0}
   */
  requestTimeout?: number;
  /**
   * How often the timers are checked: the precision of every timeout. A
   * connection closes within one tick after its deadline, never before it.
   *
   * @default {1000}
   */
  tickInterval?: number;
  /**
   * How long a graceful shutdown may take before every connection left is
   * closed. `0` means wait for as long as it takes.
   *
   * @default {10000}
   */
  shutdownTimeout?: number;
  /**
   * How long a connection must have stayed idle, after a graceful shutdown
   * began, before it is closed, so that a request already on its way on it is
   * still answered (with `Connection: close`).
   *
   * @default {1000}
   */
  shutdownGrace?: number;
  /**
   * How many connections may be open at once. Beyond it a new connection is
   * answered `503 Service Unavailable` and closed at once; open connections
   * are not affected. `0` means no limit.
   *
   * @default {0}
   */
  maxConnections?: number;
  /**
   * How many requests one connection may carry; the response to the last
   * one says `Connection: close`. `0` means no limit.
   *
   * @default {0}
   */
  maxRequestsPerConnection?: number;
  /**
   * Called on every change of a connection's state (new, reading, active,
   * writing, idle, closed), like Go's `Server.ConnState`. It runs on the hot
   * path: keep it cheap. Errors it throws are logged and ignored.
   */
  onConnectionState?: (event: ConnectionStateEvent) => void;
}

/** Options of {@linkcode serve}. */
export interface ServeOptions extends LifetimeOptions {
  /**
   * The port to listen on; `0` picks a free port (read it from `addr`).
   *
   * @default {8000}
   */
  port?: number;
  /**
   * The address to listen on.
   *
   * @default {"0.0.0.0"}
   */
  hostname?: string;
  /**
   * Lets several processes listen on the same port (`SO_REUSEPORT`), so the
   * kernel balances connections between them. Deno 2.9 requires the
   * `--unstable-net` flag for it.
   *
   * @default {false}
   */
  reusePort?: boolean;
  /** A PEM certificate chain: with `key`, serves HTTPS. */
  cert?: string;
  /** The PEM private key of `cert`. */
  key?: string;
  /**
   * Called once the server listens. By default it logs
   * `Listening on http://HOST:PORT/`.
   */
  onListen?: (addr: Deno.NetAddr) => void;
  /**
   * Turns an error thrown by the handler (or a value that is not a
   * `Response`) into a response. By default it logs the error and answers
   * `500 Internal Server Error`.
   */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Aborting it closes the server and every connection at once. */
  signal?: AbortSignal;
  /**
   * Which HTTP engine serves connections: `"portable"` (Reaper's own
   * HTTP/1.1, public APIs only, sees every byte), `"native"` (the runtime's
   * own HTTP code; throws a `TypeError` if the runtime lacks it), or
   * `"auto"`: native if it passes a self-check at start-up, else portable.
   *
   * @default {"auto"}
   */
  engine?: "auto" | "portable" | "native";
  /**
   * The largest request head (request line and headers) accepted, in bytes;
   * a larger one is answered `431`. Applies to the portable engine.
   *
   * @default {16384}
   */
  maxHeaderSize?: number;
  /**
   * Whether SIGTERM and SIGINT (SIGINT and SIGBREAK on Windows) start a
   * graceful shutdown, and a second one closes everything at once. Turn it
   * off when the embedding program handles signals itself.
   *
   * @default {true}
   */
  signals?: boolean;
  /** The handler, when not passed as a separate argument. */
  handler?: ServeHandler;
}

/** A running server, returned by {@linkcode serve}. */
export interface Server extends AsyncDisposable {
  /** The address the server listens on. */
  readonly addr: Deno.NetAddr;
  /**
   * Settles once the server has stopped: no connection is left, the signal
   * listeners are removed and nothing of the server keeps the process alive.
   */
  readonly finished: Promise<void>;
  /** The engine that serves connections, once chosen. */
  readonly engine: Promise<"portable" | "native">;
  /**
   * Why that engine serves connections, for example `"the runtime's HTTP
   * entry point passed the self-check"`, or the reason `"auto"` fell back to
   * the portable engine.
   */
  readonly engineReason: Promise<string>;
  /**
   * Shuts the server down gracefully and resolves when it has stopped (the
   * same as `finished`). Idempotent. The steps, in order:
   *
   * 1. Stop accepting: the listener is closed, so new connections are
   *    refused by the operating system at once.
   * 2. Every response from now on carries `Connection: close`, so a client
   *    with a request in flight closes its connection itself after the
   *    answer instead of racing a close by the server.
   * 3. A connection that is idle (between requests) is closed only once it
   *    has stayed idle for `shutdownGrace` after the shutdown began: a
   *    request that a client or proxy sent just before it learnt of the
   *    shutdown is still answered. A connection with a request in flight or
   *    partly read is never closed in this step.
   * 4. After `shutdownTimeout`, or on a second signal, whatever is left is
   *    closed at once.
   */
  shutdown(): Promise<void>;
  /**
   * Closes the listener and every connection at once, aborting requests in
   * flight, and resolves when the server has stopped. Idempotent.
   */
  close(): Promise<void>;
  /** Makes the listener keep the process alive (the default). */
  ref(): void;
  /** Lets the process exit while the server listens. */
  unref(): void;
  /** Counters and gauges: open connections by state, closes by reason. */
  stats(): ServerStats;
  /** The open connections, soonest timer first. */
  connections(): ConnectionInfo[];
}

const DEFAULTS = {
  idleTimeout: 65_000,
  headerTimeout: 20_000,
  requestTimeout: 0,
  tickInterval: 1_000,
  shutdownTimeout: 10_000,
  shutdownGrace: 1_000,
  maxConnections: 0,
  maxRequestsPerConnection: 0,
  maxHeaderSize: 16_384,
} as const;

type Resolved = Required<Omit<LifetimeOptions, "onConnectionState">>;

function checkNumber(
  name: string,
  value: number | undefined,
  fallback: number,
  min = 0,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    const kind = typeof value === "number" ? RangeError : TypeError;
    throw new kind(
      `Cannot set ${name}: value must be a finite number >= ${min}, received ${
        typeof value === "string" ? JSON.stringify(value) : String(value)
      }`,
    );
  }
  return value;
}

function resolveLifetime(options: LifetimeOptions): Resolved {
  const count = (name: keyof typeof DEFAULTS, value: number | undefined) => {
    const n = checkNumber(name, value, DEFAULTS[name]);
    if (!Number.isInteger(n)) {
      throw new RangeError(
        `Cannot set ${name}: value must be an integer, received ${n}`,
      );
    }
    return n;
  };
  return {
    idleTimeout: checkNumber(
      "idleTimeout",
      options.idleTimeout,
      DEFAULTS.idleTimeout,
    ),
    headerTimeout: checkNumber(
      "headerTimeout",
      options.headerTimeout,
      DEFAULTS.headerTimeout,
    ),
    requestTimeout: checkNumber(
      "requestTimeout",
      options.requestTimeout,
      DEFAULTS.requestTimeout,
    ),
    tickInterval: checkNumber(
      "tickInterval",
      options.tickInterval,
      DEFAULTS.tickInterval,
      1,
    ),
    shutdownTimeout: checkNumber(
      "shutdownTimeout",
      options.shutdownTimeout,
      DEFAULTS.shutdownTimeout,
    ),
    shutdownGrace: checkNumber(
      "shutdownGrace",
      options.shutdownGrace,
      DEFAULTS.shutdownGrace,
    ),
    maxConnections: count("maxConnections", options.maxConnections),
    maxRequestsPerConnection: count(
      "maxRequestsPerConnection",
      options.maxRequestsPerConnection,
    ),
  };
}

/** What a {@linkcode ConnectionTable} needs from the outside world. */
export interface TableEnvironment {
  /** The clock, in milliseconds. */
  now(): number;
  /** Called when the last connection of a draining table is gone. */
  onEmpty?(): void;
}

/**
 * One connection: its state, its timers and its hooks for the engine.
 * Implements {@linkcode ConnectionHooks}; every hook is a few field writes.
 */
class Connection implements ConnectionHooks {
  readonly id: number;
  readonly remoteAddr: Deno.NetAddr;
  readonly openedAt: number;
  state: ConnectionState = "new";
  lastActivity: number;
  requestStartedAt = 0;
  requests = 0;
  bodyWaiting = false;
  /** Whether the engine reports bytes; else only request-level events. */
  tracksBytes = true;
  /** Per-request stall/request timeout from `info.setTimeout()`; -1: none. */
  override = -1;
  engine: EngineConnection | undefined;
  readonly idleNode: TimerNode<Connection>;
  readonly headerNode: TimerNode<Connection>;
  readonly requestNode: TimerNode<Connection>;
  readonly #table: ConnectionTable;

  constructor(table: ConnectionTable, id: number, remoteAddr: Deno.NetAddr) {
    this.#table = table;
    this.id = id;
    this.remoteAddr = remoteAddr;
    this.openedAt = this.lastActivity = table.now();
    this.idleNode = new TimerNode(this);
    this.headerNode = new TimerNode(this);
    this.requestNode = new TimerNode(this);
  }

  get mustClose(): boolean {
    const max = this.#table.options.maxRequestsPerConnection;
    return this.#table.draining || (max > 0 && this.requests >= max);
  }

  get keepAlive(): string {
    // Advertised on a connection's first response only: a client learns the
    // timeout from it, and the runtime's header path is not cheap (the
    // native engine measured 12-13 µs per request with it on every
    // response against 9.4 µs without).
    return this.requests <= 1 ? this.#table.keepAlive : "";
  }

  touch(): void {
    this.lastActivity = this.#table.now();
  }

  headStart(): void {
    this.lastActivity = this.#table.now();
    if (this.state === "reading") return;
    if (this.state === "idle") this.#table.startHeaderTimer(this);
    this.#table.setState(this, "reading");
  }

  requestStart(immediate = false): void {
    const now = immediate
      ? this.lastActivity
      : this.lastActivity = this.#table.now();
    this.requests++;
    this.requestStartedAt = now;
    this.#table.requestStarted(this);
    this.#table.setState(this, "active");
  }

  bodyWait(waiting: boolean): void {
    this.lastActivity = this.#table.now();
    this.bodyWaiting = waiting;
  }

  responseStart(): void {
    // Only an engine that reports bytes runs a stall timer while writing.
    // (The clock is read: a handler may have computed for a long time.)
    if (this.tracksBytes) this.lastActivity = this.#table.now();
    this.bodyWaiting = false;
    this.#table.setState(this, "writing");
  }

  requestEnd(): void {
    this.lastActivity = this.#table.now();
    this.bodyWaiting = false;
    this.#table.requestEnded(this);
    this.#table.setState(this, "idle");
  }

  setRequestTimeout(ms: number): void {
    this.#table.overrideRequest(this, ms);
  }

  closed(reason: CloseReason): void {
    this.#table.remove(this, reason);
  }
}

type OpenState = Exclude<ConnectionState, "closed">;
type TimerKind = "idle" | "headerTimeout" | "requestTimeout";
interface ActiveTimer {
  kind: TimerKind;
  deadline: number;
  duration: number;
}

function zeroReasons(): Record<CloseReason, number> {
  return {
    idle: 0,
    headerTimeout: 0,
    requestTimeout: 0,
    maxConnections: 0,
    shutdown: 0,
    client: 0,
    done: 0,
    error: 0,
  };
}

/**
 * The connection table and its timers: everything the main loop does on a
 * tick, apart from I/O. Exported for tests, which drive it with a fake clock
 * and fake engine connections; not part of the public API.
 */
export class ConnectionTable {
  readonly options: Resolved;
  readonly now: () => number;
  readonly keepAlive: string;
  draining = false;
  drainStartedAt = 0;
  readonly #env: TableEnvironment;
  readonly #onState: ((event: ConnectionStateEvent) => void) | undefined;
  readonly #conns = new Set<Connection>();
  readonly #idle = new TimerList<Connection>();
  readonly #header = new TimerList<Connection>();
  readonly #request = new TimerList<Connection>();
  #nextId = 1;
  #accepted = 0;
  #requests = 0;
  readonly #closed = zeroReasons();
  readonly #open = { new: 0, reading: 0, active: 0, writing: 0, idle: 0 };
  readonly #refreshIdle = (node: TimerNode<Connection>, now: number) =>
    this.#idleDeadline(node.value, now);

  /**
   * @param options The timeouts and limits.
   * @param env The clock and the drain callback.
   */
  constructor(options: LifetimeOptions, env: TableEnvironment) {
    this.options = resolveLifetime(options);
    this.#onState = options.onConnectionState;
    this.#env = env;
    this.now = env.now;
    const seconds = Math.floor(this.options.idleTimeout / 1000) - 1;
    this.keepAlive = this.options.idleTimeout > 0 && seconds >= 1
      ? `timeout=${seconds}`
      : "";
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
   */
  open(
    remoteAddr: Deno.NetAddr,
    start: (hooks: ConnectionHooks) => EngineConnection,
    tracksBytes = true,
  ): ConnectionHooks {
    const conn = new Connection(this, this.#nextId++, remoteAddr);
    conn.tracksBytes = tracksBytes;
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
    this.#emit(conn, "new");
    try {
      conn.engine = start(conn);
    } catch (error) {
      this.remove(conn, "error");
      throw error;
    }
    // The engine may have closed it synchronously.
    if (!this.#conns.has(conn)) conn.engine = undefined;
    return conn;
  }

  /** Counts a connection refused because the table was full. */
  refused(): void {
    this.#accepted++;
    this.#closed.maxConnections++;
  }

  setState(conn: Connection, state: ConnectionState): void {
    if (conn.state === state || conn.state === "closed") return;
    this.#open[conn.state as OpenState]--;
    this.#open[state as OpenState]++;
    conn.state = state;
    this.#emit(conn, state);
  }

  startHeaderTimer(conn: Connection): void {
    const { headerTimeout } = this.options;
    if (headerTimeout > 0 && !conn.headerNode.linked) {
      this.#header.add(conn.headerNode, conn.lastActivity + headerTimeout);
    }
  }

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

  #place(list: TimerList<Connection>, node: TimerNode<Connection>, at: number) {
    if (node.linked) list.adjust(node, at);
    else list.add(node, at);
  }

  /** The stall timeout in force for a connection, or 0 when none runs. */
  #stallTimeout(conn: Connection): number {
    if (conn.override !== -1 && conn.state !== "idle") return conn.override;
    return this.options.idleTimeout;
  }

  /**
   * Whether the stall timer runs in the connection's state: not while a
   * handler computes without waiting for body bytes, and not during a
   * request at all when the engine cannot see bytes.
   */
  #stalling(conn: Connection): boolean {
    if (conn.state === "active") return conn.bodyWaiting && conn.tracksBytes;
    return conn.state !== "writing" || conn.tracksBytes;
  }

  /**
   * The idle timer's true deadline, for the lazy re-queue: the last
   * activity plus the stall timeout, or a re-check one full timeout later
   * while no stall timeout runs (a handler computing is never idle; a
   * transition out of that state records a new activity time, so the
   * re-check is never later than the true deadline).
   */
  #idleDeadline(conn: Connection, now: number): number {
    const stall = this.#stallTimeout(conn);
    if (stall === 0) return now + (this.options.idleTimeout || 60_000);
    if (!this.#stalling(conn)) return now + stall;
    return conn.lastActivity + stall;
  }

  /**
   * The timer that will close a connection first: which one, its deadline
   * and the duration it runs for; `undefined` when no timer runs.
   */
  timer(conn: Connection): ActiveTimer | undefined {
    let first: ActiveTimer | undefined;
    const consider = (kind: TimerKind, deadline: number, duration: number) => {
      if (!first || deadline < first.deadline) {
        first = { kind, deadline, duration };
      }
    };
    const { headerTimeout, requestTimeout } = this.options;
    if (conn.headerNode.linked) {
      consider("headerTimeout", conn.headerNode.deadline, headerTimeout);
    }
    if (conn.requestNode.linked) {
      const duration = conn.override > 0 ? conn.override : requestTimeout;
      consider("requestTimeout", conn.requestNode.deadline, duration);
    }
    const stall = this.#stallTimeout(conn);
    if (conn.idleNode.linked && stall > 0 && this.#stalling(conn)) {
      consider("idle", conn.lastActivity + stall, stall);
    }
    return first;
  }

  /**
   * Expires the timers that ran out at `now` and closes their connections.
   * During a drain, also closes the connections that stayed idle for the
   * grace period.
   *
   * @returns How many connections it closed.
   */
  tick(now: number): number {
    let closed = 0;
    for (const node of this.#header.expire(now)) {
      if (this.#kill(node.value, "headerTimeout")) closed++;
    }
    for (const node of this.#request.expire(now)) {
      if (this.#kill(node.value, "requestTimeout")) closed++;
    }
    for (const node of this.#idle.expire(now, this.#refreshIdle)) {
      if (this.#kill(node.value, "idle")) closed++;
    }
    if (this.draining) {
      const graceEnd = this.drainStartedAt + this.options.shutdownGrace;
      for (const conn of this.#conns) {
        if (
          (conn.state === "idle" || conn.state === "new") &&
          now >=
            Math.max(graceEnd, conn.lastActivity + this.options.shutdownGrace)
        ) {
          conn.engine?.closeIdle();
          if ((conn.state as ConnectionState) === "closed") closed++;
        }
      }
    }
    return closed;
  }

  #kill(conn: Connection, reason: CloseReason): boolean {
    if (conn.state === "closed") return false;
    // Unlink every timer now, so a slow close cannot fire another one.
    this.#header.remove(conn.headerNode);
    this.#request.remove(conn.requestNode);
    this.#idle.remove(conn.idleNode);
    if (conn.engine) conn.engine.close(reason);
    else this.remove(conn, reason);
    return true;
  }

  /** Starts a drain: responses say `Connection: close` from now on. */
  drain(now: number): void {
    if (this.draining) return;
    this.draining = true;
    this.drainStartedAt = now;
    if (this.#conns.size === 0) this.#env.onEmpty?.();
  }

  /** Closes every connection at once. */
  closeAll(reason: CloseReason): void {
    for (const conn of [...this.#conns]) this.#kill(conn, reason);
  }

  /** Unregisters a connection that the engine reports closed. */
  remove(conn: Connection, reason: CloseReason): void {
    if (conn.state === "closed") return;
    this.#header.remove(conn.headerNode);
    this.#request.remove(conn.requestNode);
    this.#idle.remove(conn.idleNode);
    this.#open[conn.state as OpenState]--;
    conn.state = "closed";
    this.#conns.delete(conn);
    this.#closed[reason]++;
    this.#emit(conn, "closed", reason);
    if (this.draining && this.#conns.size === 0) this.#env.onEmpty?.();
  }

  #emit(conn: Connection, state: ConnectionState, reason?: CloseReason) {
    if (!this.#onState) return;
    try {
      this.#onState({
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

  /** Counters and gauges. */
  stats(engine: "portable" | "native"): ServerStats {
    return {
      engine,
      open: { total: this.#conns.size, ...this.#open },
      accepted: this.#accepted,
      requests: this.#requests,
      closed: { ...this.#closed },
      shuttingDown: this.draining,
    };
  }

  /** The open connections, soonest timer first. */
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
      });
    }
    return list.sort((a, b) =>
      (a.remainingMs ?? Infinity) - (b.remainingMs ?? Infinity) || a.id - b.id
    );
  }
}

type ChannelEvent =
  | { type: "tick" }
  | { type: "signal"; signal: Deno.Signal }
  | { type: "shutdown" }
  | { type: "close" }
  | { type: "empty" };

/**
 * An unbounded single-consumer queue: producers `send()` without waiting;
 * the main loop awaits `receive()`.
 */
class Channel<T> {
  #queue: T[] = [];
  #waiter: ((value: T) => void) | undefined;

  send(value: T): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(value);
    } else {
      this.#queue.push(value);
    }
  }

  receive(): Promise<T> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift()!);
    return new Promise((resolve) => this.#waiter = resolve);
  }
}

function formatAddr(addr: Deno.NetAddr, tls: boolean): string {
  return `${tls ? "https" : "http"}://${
    formatHost(addr.hostname)
  }:${addr.port}/`;
}

async function chooseEngine(
  choice: "auto" | "portable" | "native",
  maxHeaderSize: number,
): Promise<{ engine: Engine; why: string }> {
  const portable = () => createPortableEngine({ maxHeaderSize });
  if (choice === "portable") {
    return { engine: portable(), why: "chosen by the engine option" };
  }
  if (choice === "native") {
    return { engine: createNativeEngine(), why: "chosen by the engine option" };
  }
  const probe = await probeNativeEngine();
  if (probe.ok) {
    return {
      engine: createNativeEngine(),
      why: "the runtime's HTTP entry point passed the self-check",
    };
  }
  return {
    engine: portable(),
    why: `the native engine is unavailable: ${probe.reason}`,
  };
}

class ReaperServer implements Server {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  readonly engine: Promise<"portable" | "native">;
  readonly engineReason: Promise<string>;
  readonly #listener: Deno.Listener;
  readonly #table: ConnectionTable;
  readonly #channel = new Channel<ChannelEvent>();
  readonly #handler: ServeHandler;
  readonly #onError: ErrorHandler;
  readonly #engineChoice: Promise<{ engine: Engine; why: string }>;
  #engineName: "portable" | "native" = "portable";
  #interval: ReturnType<typeof setInterval> | undefined;
  #shutdownTimer: ReturnType<typeof setTimeout> | undefined;
  #removeSignals: (() => void) | undefined;
  readonly #removeMetrics: () => void;
  #listening = true;
  #stopping: "no" | "drain" | "close" = "no";
  #signalsSeen = 0;
  #resolveFinished!: () => void;
  readonly #acceptDone: Promise<void>;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.#channel.send({ type: "close" });

  constructor(options: ServeOptions, handler: ServeHandler) {
    this.#handler = handler;
    this.#onError = options.onError ?? defaultOnError;
    this.#table = new ConnectionTable(options, {
      now: () => performance.now(),
      onEmpty: () => this.#channel.send({ type: "empty" }),
    });
    const engineChoice = options.engine ?? "auto";
    if (!["auto", "portable", "native"].includes(engineChoice)) {
      throw new TypeError(
        `Cannot set engine: value must be "auto", "portable" or "native", received ${
          JSON.stringify(engineChoice)
        }`,
      );
    }
    const maxHeaderSize = checkNumber(
      "maxHeaderSize",
      options.maxHeaderSize,
      DEFAULTS.maxHeaderSize,
      256,
    );
    // Fail at once, not in the accept loop, when native is asked for but
    // missing.
    if (engineChoice === "native") createNativeEngine();
    const port = options.port ?? 8000;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(
        `Cannot set port: value must be an integer from 0 to 65535, received ${
          JSON.stringify(port)
        }`,
      );
    }
    const hostname = options.hostname ?? "0.0.0.0";
    const tls = options.cert !== undefined || options.key !== undefined;
    if (tls && (!options.cert || !options.key)) {
      throw new TypeError("Cannot serve HTTPS: both cert and key are required");
    }
    this.#listener = tls
      ? Deno.listenTls(
        {
          port,
          hostname,
          cert: options.cert!,
          key: options.key!,
          reusePort: options.reusePort,
        } as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
      )
      : Deno.listen({ port, hostname, reusePort: options.reusePort });
    this.addr = this.#listener.addr as Deno.NetAddr;

    this.finished = new Promise((resolve) => this.#resolveFinished = resolve);
    this.#engineChoice = chooseEngine(engineChoice, maxHeaderSize);
    this.engine = this.#engineChoice.then(({ engine }) =>
      this.#engineName = engine.name
    );
    this.engineReason = this.#engineChoice.then(({ why }) => why);
    // A failed choice surfaces through the accept loop's log.
    this.engine.catch(() => {});
    this.engineReason.catch(() => {});

    try {
      if (options.signals ?? true) {
        this.#removeSignals = onSignals(
          shutdownSignals(),
          (signal) => this.#channel.send({ type: "signal", signal }),
        );
      }
      if (options.onListen) options.onListen(this.addr);
      else console.log(`Listening on ${formatAddr(this.addr, tls)}`);
    } catch (error) {
      // Leave nothing behind: serve() failed as a whole.
      this.#removeSignals?.();
      this.#listener.close();
      throw error;
    }
    // One line says which engine runs and why: always when "auto" fell
    // back, otherwise with the default logging only.
    const quiet = options.onListen !== undefined;
    this.#engineChoice.then(({ engine, why }) => {
      const line = `Reaper engine: ${engine.name} (${why})`;
      if (engineChoice === "auto" && engine.name === "portable") {
        console.warn(line);
      } else if (!quiet) console.log(line);
    }, () => {});

    this.#signal = options.signal;
    if (this.#signal) {
      if (this.#signal.aborted) queueMicrotask(this.#onAbort);
      else {this.#signal.addEventListener("abort", this.#onAbort, {
          once: true,
        });}
    }
    this.#removeMetrics = registerMetrics(() => this.stats(), this.addr.port);
    this.#startTicking(this.#table.options.tickInterval);
    this.#acceptDone = this.#acceptLoop();
    this.#mainLoop();
  }

  #startTicking(ms: number): void {
    if (this.#interval !== undefined) clearInterval(this.#interval);
    let queued = false;
    this.#interval = setInterval(() => {
      // Coalesce: one pending tick is enough.
      if (queued) return;
      queued = true;
      this.#channel.send({ type: "tick" });
      queueMicrotask(() => queued = false);
    }, ms);
    Deno.unrefTimer(this.#interval);
  }

  async #acceptLoop(): Promise<void> {
    let engine: Engine;
    try {
      const choice = await this.#engineChoice;
      engine = choice.engine;
    } catch (error) {
      console.error("Cannot start an HTTP engine:", error);
      this.#channel.send({ type: "close" });
      return;
    }
    let backoff = 0;
    while (this.#listening) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
        backoff = 0;
      } catch (error) {
        if (!this.#listening || error instanceof Deno.errors.BadResource) {
          break;
        }
        // A transient failure such as running out of file descriptors:
        // back off a little, as Go's Server.Serve does.
        backoff = Math.min(backoff ? backoff * 2 : 5, 1000);
        console.error(`Accept failed, retrying in ${backoff} ms:`, error);
        await new Promise((resolve) => setTimeout(resolve, backoff));
        continue;
      }
      if (!this.#listening) {
        conn.close();
        break;
      }
      if (this.#table.full) {
        this.#table.refused();
        refuse(conn);
        continue;
      }
      try {
        this.#table.open(
          conn.remoteAddr as Deno.NetAddr,
          (hooks) => engine.serve(conn, hooks, this.#handler, this.#onError),
          engine.tracksBytes,
        );
      } catch (error) {
        // An engine must not throw; if one does, the connection goes and
        // the server keeps accepting.
        console.error("The HTTP engine failed to take a connection:", error);
        try {
          conn.close();
        } catch {
          // Already closed by the engine.
        }
      }
    }
  }

  async #mainLoop(): Promise<void> {
    while (true) {
      const event = await this.#channel.receive();
      try {
        this.#handle(event);
      } catch (error) {
        // The loop must survive a failing engine call: log and go on.
        console.error("Reaper main loop:", error);
      }
      if (this.#stopping !== "no" && this.#table.size === 0) break;
    }
    await this.#stopAccepting();
    clearInterval(this.#interval);
    clearTimeout(this.#shutdownTimer);
    this.#removeSignals?.();
    this.#removeMetrics();
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#resolveFinished();
  }

  #handle(event: ChannelEvent): void {
    switch (event.type) {
      case "tick":
        this.#table.tick(this.#table.now());
        break;
      case "signal":
        this.#signalsSeen++;
        if (this.#signalsSeen === 1) this.#beginShutdown();
        else this.#closeEverything();
        break;
      case "shutdown":
        this.#beginShutdown();
        break;
      case "close":
        this.#closeEverything();
        break;
      case "empty":
        break;
    }
  }

  async #stopAccepting(): Promise<void> {
    if (this.#listening) {
      this.#listening = false;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
    }
    await this.#acceptDone;
  }

  #beginShutdown(): void {
    if (this.#stopping !== "no") return;
    this.#stopping = "drain";
    this.#stopAccepting();
    const { shutdownTimeout, shutdownGrace, tickInterval } =
      this.#table.options;
    this.#table.drain(this.#table.now());
    // Check the grace often enough to honour it within a quarter, but no
    // more often than every 25 ms: the drain tick walks every connection.
    this.#startTicking(
      Math.max(25, Math.min(tickInterval, Math.ceil(shutdownGrace / 4))),
    );
    if (shutdownTimeout > 0) {
      this.#shutdownTimer = setTimeout(
        () => this.#channel.send({ type: "close" }),
        shutdownTimeout,
      );
      Deno.unrefTimer(this.#shutdownTimer);
    }
  }

  #closeEverything(): void {
    this.#stopping = "close";
    this.#stopAccepting();
    this.#table.drain(this.#table.now());
    this.#table.closeAll("shutdown");
  }

  shutdown(): Promise<void> {
    this.#channel.send({ type: "shutdown" });
    return this.finished;
  }

  close(): Promise<void> {
    this.#channel.send({ type: "close" });
    return this.finished;
  }

  ref(): void {
    this.#listener.ref();
  }

  unref(): void {
    this.#listener.unref();
  }

  stats(): ServerStats {
    return this.#table.stats(this.#engineName);
  }

  connections(): ConnectionInfo[] {
    return this.#table.connections(this.#table.now());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

const REFUSAL = new TextEncoder().encode(
  "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n" +
    "content-type: text/plain; charset=utf-8\r\ncontent-length: 20\r\n\r\n" +
    "Too many connections",
);

function refuse(conn: Deno.Conn): void {
  conn.write(REFUSAL).catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch {
      // Already closed by the peer.
    }
  });
}

/**
 * Serves HTTP with connection lifetime control: idle, header and request
 * timeouts enforced per connection, connection limits, and a graceful
 * shutdown on SIGTERM/SIGINT.
 *
 * Takes the same handler as `Deno.serve`; `info.setTimeout(ms)` adjusts the
 * timeouts of one request.
 *
 * @param handler The request handler.
 * @returns The running server.
 * @throws {TypeError} If an option has the wrong type, or the native engine
 * is asked for and the runtime lacks it.
 * @throws {RangeError} If an option is out of range.
 *
 * @example Serve with a 5 s idle timeout
 * ```ts ignore
 * import { serve } from "./server.ts";
 *
 * const server = serve({ port: 0, idleTimeout: 5_000 }, () => new Response("Hi"));
 * await server.shutdown();
 * ```
 */
export function serve(handler: ServeHandler): Server;
/**
 * Serves HTTP with the given options and handler.
 *
 * @param options The options.
 * @param handler The request handler.
 * @returns The running server.
 */
export function serve(options: ServeOptions, handler: ServeHandler): Server;
/**
 * Serves HTTP with the handler given in the options.
 *
 * @param options The options, with `handler`.
 * @returns The running server.
 */
export function serve(
  options: ServeOptions & { handler: ServeHandler },
): Server;
export function serve(
  first: ServeHandler | ServeOptions,
  second?: ServeHandler,
): Server {
  let options: ServeOptions;
  let handler: ServeHandler | undefined;
  if (typeof first === "function") {
    options = {};
    handler = first;
  } else if (first !== null && typeof first === "object") {
    options = first;
    handler = second ?? first.handler;
  } else {
    throw new TypeError(
      `Cannot serve: expected a handler or an options object, received ${
        String(first)
      }`,
    );
  }
  if (typeof handler !== "function") {
    throw new TypeError(
      `Cannot serve: handler must be a function, received ${String(handler)}`,
    );
  }
  return new ReaperServer(options, handler);
}
