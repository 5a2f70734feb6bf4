// Copyright 2026 the Reaper authors. MIT license.
/**
 * The server: the accept loop, the event channel, the main loop and
 * {@linkcode serve}.
 *
 * A periodic tick, the process's signals, `shutdown()`, `close()` and the
 * `signal` option post events to one channel; a single async main loop
 * consumes them: a tick expires the timers that ran out and closes their
 * connections (the rules are in `_lifetime.ts`), a signal starts the
 * graceful shutdown. At most one tick waits in the channel at a time: a
 * tick that comes while one is still queued is skipped.
 *
 * This file does not know which engine serves a connection: it speaks to
 * engines only through `_engine.ts`, and `_engines.ts` chooses one.
 *
 * @module
 */

import { onSignals, shutdownSignals } from "./signals.ts";
import { registerMetrics } from "./_metrics.ts";
import { type Engine, type ErrorHandler, listeningAt } from "./_engine.ts";
import {
  alpnProtocols,
  type EngineChoice,
  type EngineOptions,
  likelyEngine,
  selectEngine,
} from "./_engines.ts";
import { ConnectionTable } from "./_lifetime.ts";
import {
  type ResolvedOptions,
  resolveOptions,
  type ServeOptions,
  type ServeUnixOptions,
} from "./_options.ts";
import type { ConnectionInfo, ServeHandler, ServerStats } from "./types.ts";

export type {
  LifetimeOptions,
  PressureOptions,
  ServeOptions,
  ServeUnixOptions,
} from "./_options.ts";

/**
 * A running server, returned by {@linkcode serve}.
 *
 * @typeParam Addr The kind of address it listens on: `Deno.NetAddr` for
 * TCP, `Deno.UnixAddr` for a Unix domain socket.
 */
export interface Server<
  Addr extends Deno.NetAddr | Deno.UnixAddr = Deno.NetAddr,
> extends AsyncDisposable {
  /**
   * The address the server listens on: on TCP with the real port (`port: 0`
   * picks one), on a Unix domain socket `{ transport: "unix", path }`.
   */
  readonly addr: Addr;
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
   * 0. With `shutdownDelay`, the server first goes on accepting and serving
   *    for that long, every response carrying `Connection: close`.
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
   * 5. When the last connection is gone and the engines hold nothing of
   *    any, `finished` settles. If a signal started the shutdown, the
   *    process then exits with code 0 (`exitAfterSignal`).
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

/** A timer of a {@linkcode ServerEnvironment}: opaque. */
export type TimerHandle = unknown;

/**
 * What a server takes from the world: its clock and timers, its listener,
 * its engine, its signals and its metrics. {@linkcode serve} uses the real
 * ones; tests pass fakes to {@linkcode createServer} (a fake clock, a fake
 * listener and engine), so that no test of the server's own rules needs a
 * socket or waits. Not part of the public API.
 */
export interface ServerEnvironment {
  /** The clock, in milliseconds. */
  now(): number;
  /** Calls `fn` every `ms` milliseconds, without keeping the process alive. */
  every(fn: () => void, ms: number): TimerHandle;
  /** Calls `fn` once after `ms`, without keeping the process alive. */
  after(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer of `every()` or `after()`; `undefined` is ignored. */
  cancel(timer: TimerHandle): void;
  /**
   * Opens the listener: a Unix domain socket, or TCP with `tcpBacklog`; a
   * TLS listener offers `alpn` (the protocols of the engine).
   */
  listen(options: ResolvedOptions["listen"], alpn: string[]): Deno.Listener;
  /** Chooses the engine (`_engines.ts`). */
  selectEngine(
    choice: ResolvedOptions["engine"],
    options: EngineOptions,
  ): Promise<EngineChoice>;
  /** Listens for the shutdown signals; returns the remover. */
  onSignals(listener: (signal: Deno.Signal) => void): () => void;
  /** Registers the metrics; returns the remover. */
  registerMetrics(
    stats: () => ServerStats,
    addr: Deno.NetAddr | Deno.UnixAddr,
  ): () => void;
  /** Ends the process (`exitAfterSignal`). */
  exit(code: number): void;
}

/** The real world. */
const REAL: ServerEnvironment = {
  now: () => performance.now(),
  every(fn, ms) {
    const id = setInterval(fn, ms);
    Deno.unrefTimer(id);
    return id;
  },
  after(fn, ms) {
    const id = setTimeout(fn, ms);
    Deno.unrefTimer(id);
    return id;
  },
  cancel(timer) {
    if (timer !== undefined) clearTimeout(timer as number);
  },
  listen(options, alpn) {
    if (options.transport === "unix") {
      return Deno.listen({ transport: "unix", path: options.path });
    }
    const { port, hostname, reusePort, tcpBacklog, tls } = options;
    return tls === undefined
      ? Deno.listen({ port, hostname, reusePort, tcpBacklog })
      : Deno.listenTls(
        {
          port,
          hostname,
          reusePort,
          tcpBacklog,
          cert: tls.cert,
          key: tls.key,
          alpnProtocols: alpn,
        } as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
      );
  },
  selectEngine,
  onSignals: (listener) => onSignals(shutdownSignals(), listener),
  registerMetrics,
  exit: (code) => Deno.exit(code),
};

type ChannelEvent =
  | { type: "tick" }
  | { type: "signal"; signal: Deno.Signal }
  | { type: "shutdown" }
  | { type: "drain" }
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

class ReaperServer<Addr extends Deno.NetAddr | Deno.UnixAddr>
  implements Server<Addr> {
  readonly addr: Addr;
  readonly finished: Promise<void>;
  readonly engine: Promise<"portable" | "native">;
  readonly engineReason: Promise<string>;
  readonly #env: ServerEnvironment;
  #listener: Deno.Listener;
  /** The engine whose protocols the listener offers (ALPN, TLS only). */
  #offered: Engine["name"];
  readonly #listen: ResolvedOptions["listen"];
  /**
   * The listener's path on a Unix domain socket: every connection's
   * `remoteAddr` (a Unix client has no address of its own).
   */
  readonly #unixPath: string | undefined;
  readonly #table: ConnectionTable;
  readonly #channel = new Channel<ChannelEvent>();
  readonly #handler: ServeHandler;
  readonly #onError: ErrorHandler;
  readonly #engineChoice: Promise<EngineChoice>;
  #engineName: "portable" | "native" = "portable";
  #interval: TimerHandle;
  /** A tick waits in the channel: the next one is skipped. */
  #tickQueued = false;
  #shutdownTimer: TimerHandle;
  /** The end of `shutdownDelay`. */
  #delayTimer: TimerHandle;
  #removeSignals: (() => void) | undefined;
  readonly #removeMetrics: () => void;
  #listening = true;
  /** Whether the listener keeps the process alive (`ref()`/`unref()`). */
  #refed = true;
  #signalsSeen = 0;
  #resolveFinished!: () => void;
  readonly #acceptDone: Promise<void>;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.#channel.send({ type: "close" });
  readonly #exitAfterSignal: boolean;

  /**
   * @param options The resolved options.
   * @param handler The handler, of the kind of address that the options
   * chose (`serve()`'s overloads pair them).
   * @param env The world.
   */
  constructor(
    options: ResolvedOptions,
    handler: ServeHandler<Addr>,
    env: ServerEnvironment,
  ) {
    this.#env = env;
    this.#exitAfterSignal = options.exitAfterSignal;
    // The engines take any handler as a `ServeHandler`; it gets the
    // addresses of this listener, the kind it declares (see callHandler).
    this.#handler = handler as ServeHandler;
    this.#onError = options.onError;
    this.#table = new ConnectionTable(options.lifetime, {
      now: env.now,
      onState: options.onConnectionState,
      onEmpty: () => this.#channel.send({ type: "empty" }),
    });
    // Throws at once, before listening, when native is asked for but missing.
    this.#engineChoice = env.selectEngine(options.engine, {
      maxHeaderSize: options.maxHeaderSize,
      automaticCompression: options.automaticCompression,
    });
    this.#listen = options.listen;
    this.#offered = likelyEngine(options.engine);
    this.#listener = env.listen(options.listen, alpnProtocols(this.#offered));
    this.addr = this.#listener.addr as Addr;
    const addr: Deno.NetAddr | Deno.UnixAddr = this.addr;
    this.#unixPath = "path" in addr ? addr.path : undefined;

    this.finished = new Promise((resolve) => this.#resolveFinished = resolve);
    this.engine = this.#engineChoice.then(({ engine }) =>
      this.#engineName = engine.name
    );
    this.engineReason = this.#engineChoice.then(({ why }) => why);
    // A failed choice surfaces through the accept loop's log.
    this.engine.catch(() => {});
    this.engineReason.catch(() => {});

    const tls = options.listen.transport === "tcp" &&
      options.listen.tls !== undefined;
    try {
      if (options.signals) {
        this.#removeSignals = env.onSignals(
          (signal) => this.#channel.send({ type: "signal", signal }),
        );
      }
      if (options.onListen) options.onListen(this.addr);
      else console.log(`Listening on ${listeningAt(this.addr, tls)}`);
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
      if (options.engine === "auto" && engine.name === "portable") {
        console.warn(line);
      } else if (!quiet) console.log(line);
    }, () => {});

    this.#signal = options.signal;
    if (this.#signal) {
      if (this.#signal.aborted) queueMicrotask(this.#onAbort);
      else {
        this.#signal.addEventListener("abort", this.#onAbort, { once: true });
      }
    }
    this.#removeMetrics = env.registerMetrics(() => this.stats(), addr);
    this.#startTicking(this.#table.options.tickInterval);
    this.#acceptDone = this.#acceptLoop();
    this.#mainLoop();
  }

  #startTicking(ms: number): void {
    this.#env.cancel(this.#interval);
    this.#interval = this.#env.every(() => {
      // Coalesce: while a tick still waits in the channel, one is enough.
      if (this.#tickQueued) return;
      this.#tickQueued = true;
      this.#channel.send({ type: "tick" });
    }, ms);
  }

  async #acceptLoop(): Promise<void> {
    let engine: Engine;
    try {
      engine = (await this.#engineChoice).engine;
    } catch (error) {
      console.error("Cannot start an HTTP engine:", error);
      this.#channel.send({ type: "close" });
      return;
    }
    if (!this.#listening) return;
    const listen = this.#listen;
    const tls = listen.transport === "tcp" && listen.tls !== undefined;
    if (tls && engine.name !== this.#offered) {
      // "auto" fell back to an engine that speaks less than the listener
      // offers: offer only what it speaks, on the same port. Nothing was
      // accepted yet.
      this.#listener.close();
      this.#offered = engine.name;
      this.#listener = this.#env.listen(
        { ...listen, port: (this.addr as Deno.NetAddr).port },
        alpnProtocols(engine.name),
      );
      if (!this.#refed) this.#listener.unref();
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
        // Out of file descriptors: a connection waiting without a request
        // makes room, and the accept is tried again at once.
        if (outOfFiles(error) && this.#table.evictOne()) continue;
        // Any other transient failure (or no connection to evict): back
        // off a little, as Go's Server.Serve does.
        backoff = Math.min(backoff ? backoff * 2 : 5, 1000);
        console.error(`Accept failed, retrying in ${backoff} ms:`, error);
        await new Promise((resolve) => setTimeout(resolve, backoff));
        continue;
      }
      if (!this.#listening) {
        conn.close();
        break;
      }
      const unixPath = this.#unixPath;
      const remoteAddr: Deno.NetAddr | Deno.UnixAddr = unixPath === undefined
        ? conn.remoteAddr as Deno.NetAddr
        : { transport: "unix", path: unixPath };
      // At a connection limit, the longest-waiting connection makes room.
      const refusal = this.#table.admit(remoteAddr);
      if (refusal !== null) {
        this.#table.refused(refusal);
        refuse(conn);
        continue;
      }
      try {
        this.#table.open(
          remoteAddr,
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
    const table = this.#table;
    while (true) {
      const event = await this.#channel.receive();
      try {
        this.#handle(event);
      } catch (error) {
        // The loop must survive a failing engine call: log and go on.
        console.error("Reaper main loop:", error);
      }
      if (table.stopping && table.size === 0) break;
    }
    await this.#stopAccepting();
    this.#env.cancel(this.#interval);
    this.#env.cancel(this.#shutdownTimer);
    this.#env.cancel(this.#delayTimer);
    this.#removeSignals?.();
    this.#removeMetrics();
    this.#signal?.removeEventListener("abort", this.#onAbort);
    // Nothing of a connection may be left running once `finished` settles.
    await table.settled();
    this.#resolveFinished();
    if (this.#signalsSeen > 0 && this.#exitAfterSignal) {
      // A macrotask later: what awaits `finished` runs first.
      setTimeout(() => this.#env.exit(0), 0);
    }
  }

  #handle(event: ChannelEvent): void {
    switch (event.type) {
      case "tick":
        this.#tickQueued = false;
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
      case "drain":
        this.#drain();
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
    const table = this.#table;
    if (table.phase !== "serving") return;
    const { shutdownDelay } = table.options;
    if (shutdownDelay > 0) {
      // Go on accepting for a while, as load balancers keep sending to an
      // instance for a few seconds after they were told it is going.
      table.delay();
      this.#delayTimer = this.#env.after(
        () => this.#channel.send({ type: "drain" }),
        shutdownDelay,
      );
      return;
    }
    this.#drain();
  }

  /** Stops accepting and drains (after the delay, if any). */
  #drain(): void {
    if (this.#table.stopping) return;
    // At once: a drain that first went on accepting what the kernel had
    // queued (until an event-loop turn brought none) had more connections
    // reset behind nginx with SO_REUSEPORT, not fewer: 5 to 12 in 10
    // restarts on portable, against 1 (bench/proof/README.md, proof (c)).
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
      this.#shutdownTimer = this.#env.after(
        () => this.#channel.send({ type: "close" }),
        shutdownTimeout,
      );
    }
  }

  #closeEverything(): void {
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
    this.#refed = true;
    this.#listener.ref();
  }

  unref(): void {
    this.#refed = false;
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

/** Whether an accept failed for lack of file descriptors (EMFILE, ENFILE). */
function outOfFiles(error: unknown): boolean {
  return /os error (23|24)\b|too many open files/i.test(String(error));
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
 * timeouts of one request. Listens on TCP, or with the option `path` on a
 * Unix domain socket (see {@linkcode ServeUnixOptions}).
 *
 * @param handler The request handler.
 * @returns The running server.
 * @throws {TypeError} If an option has the wrong type, is not supported or
 * does not apply to the transport chosen, or the native engine is asked
 * for and the runtime lacks it.
 * @throws {RangeError} If an option is out of range.
 *
 * @example Serve with a 5 s idle timeout
 * ```ts ignore
 * import { serve } from "./server.ts";
 *
 * const server = serve({ port: 0, idleTimeout: 5_000 }, () => new Response("Hi"));
 * await server.shutdown();
 * ```
 *
 * @example Serve on a Unix domain socket
 * ```ts ignore
 * import { serve } from "./server.ts";
 *
 * const server = serve(
 *   { path: "/run/app.sock", idleTimeout: 5_000 },
 *   (_req, info) => new Response(`Hi on ${info.remoteAddr.path}`),
 * );
 * await server.shutdown();
 * ```
 */
export function serve(handler: ServeHandler): Server;
/**
 * Serves HTTP on a Unix domain socket with the given options and handler.
 *
 * @param options The options, with `path`.
 * @param handler The request handler.
 * @returns The running server.
 */
export function serve(
  options: ServeUnixOptions,
  handler: ServeHandler<Deno.UnixAddr>,
): Server<Deno.UnixAddr>;
/**
 * Serves HTTP with the given options and handler.
 *
 * @param options The options.
 * @param handler The request handler.
 * @returns The running server.
 */
export function serve(options: ServeOptions, handler: ServeHandler): Server;
/**
 * Serves HTTP on a Unix domain socket with the handler given in the
 * options.
 *
 * @param options The options, with `path` and `handler`.
 * @returns The running server.
 */
export function serve(
  options: ServeUnixOptions & { handler: ServeHandler<Deno.UnixAddr> },
): Server<Deno.UnixAddr>;
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
  first: ServeHandler<never> | ServeOptions<never>,
  second?: ServeHandler<never>,
): Server<Deno.NetAddr | Deno.UnixAddr> {
  let options: ServeOptions<never>;
  let handler: ServeHandler<never> | undefined;
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
  return new ReaperServer(resolveOptions(options), handler, REAL);
}

/**
 * Creates a server with the given parts of its world replaced (see
 * {@linkcode ServerEnvironment}); for tests. Not part of the public API.
 *
 * @typeParam Addr The kind of address: `Deno.UnixAddr` with `path`.
 * @param options The options.
 * @param handler The request handler.
 * @param env The parts of the world to replace.
 * @returns The running server.
 */
export function createServer<
  Addr extends Deno.NetAddr | Deno.UnixAddr = Deno.NetAddr,
>(
  options: ServeOptions<Addr>,
  handler: ServeHandler<Addr>,
  env: Partial<ServerEnvironment>,
): Server<Addr> {
  return new ReaperServer<Addr>(resolveOptions(options), handler, {
    ...REAL,
    ...env,
  });
}
