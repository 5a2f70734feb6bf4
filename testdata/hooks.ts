// Copyright 2026 the Reaper authors. MIT license.
// The one test double of the engine contract (`_engine.ts`), shared by the
// tests of both engines and by their conformance suite: recording
// `ConnectionHooks`, and a loopback listener that serves every connection
// it accepts with a given engine and a fresh recorder.

import type {
  ConnectionHooks,
  Engine,
  EngineConnection,
  ErrorHandler,
} from "../_engine.ts";
import type { CloseReason, ServeHandler } from "../types.ts";

/** `ConnectionHooks` that record every call. */
export interface Recorder extends ConnectionHooks {
  /** What `recorder()` was given: a TCP address in these tests. */
  readonly remoteAddr: Deno.NetAddr;
  /**
   * The hook calls in order: `"headStart"`, `"requestStart"`,
   * `"peerWait"` and `"peerDone"` (only transitions of `peerWait()`, so
   * that a sequence stays readable), `"responseStart"`, `"requestEnd"` and
   * `"closed:REASON"`. `touch()` is counted in {@linkcode touches} instead.
   */
  readonly events: string[];
  /** How many times `touch()` was called. */
  readonly touches: number;
  /** The argument of each `requestStart()` call (`false` when omitted). */
  readonly immediate: boolean[];
  /** The argument of each `setRequestTimeout()` call. */
  readonly timeouts: number[];
  /** What `mustClose` answers the engine; set it in a test. */
  mustClose: boolean;
  /** What `keepAlive` answers the engine; set it in a test. */
  keepAlive: string;
  /** Settles with the reason of the first `closed()` call. */
  readonly reason: Promise<CloseReason>;
  /** The reason of the first `closed()` call, or `undefined` before it. */
  readonly closedReason: CloseReason | undefined;
  /**
   * Resolves once `condition` holds, checked now and after every hook
   * call. Rejects if the connection closes while it does not hold.
   */
  until(condition: () => boolean): Promise<void>;
  /**
   * Resolves once `event` has been recorded `count` times (`"closed"`
   * matches any `"closed:REASON"`). Rejects if the connection closes first.
   */
  waitFor(event: string, count?: number): Promise<void>;
}

/**
 * Makes recording hooks.
 *
 * @param remoteAddr What `remoteAddr` answers.
 * @returns Hooks with `mustClose` off and no `Keep-Alive` value.
 */
export function recorder(remoteAddr: Deno.NetAddr): Recorder {
  const { promise: reason, resolve } = Promise.withResolvers<CloseReason>();
  const waiters: {
    condition: () => boolean;
    resolve: () => void;
    reject: (error: Error) => void;
  }[] = [];
  let touches = 0;
  let closedReason: CloseReason | undefined;
  const changed = (): void => {
    for (let i = 0; i < waiters.length; i++) {
      const waiter = waiters[i];
      if (waiter.condition()) waiter.resolve();
      else if (closedReason !== undefined) {
        waiter.reject(
          new Error(
            `The connection closed before the condition held; events: ${
              r.events.join(", ")
            }`,
          ),
        );
      } else continue;
      waiters.splice(i--, 1);
    }
  };
  const record = (event: string): void => {
    r.events.push(event);
    changed();
  };
  const r: Recorder = {
    remoteAddr,
    events: [],
    get touches() {
      return touches;
    },
    immediate: [],
    timeouts: [],
    mustClose: false,
    keepAlive: "",
    reason,
    get closedReason() {
      return closedReason;
    },
    touch() {
      touches++;
      changed();
    },
    headStart() {
      record("headStart");
    },
    requestStart(immediate = false) {
      r.immediate.push(immediate);
      record("requestStart");
      return r;
    },
    peerWait(waiting) {
      const event = waiting ? "peerWait" : "peerDone";
      if (r.events.at(-1) !== event) record(event);
    },
    responseStart() {
      record("responseStart");
    },
    requestEnd() {
      record("requestEnd");
    },
    setRequestTimeout(ms) {
      r.timeouts.push(ms);
      changed();
    },
    closed(why) {
      if (closedReason === undefined) {
        closedReason = why;
        resolve(why);
      }
      record(`closed:${why}`);
    },
    until(condition) {
      if (condition()) return Promise.resolve();
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      waiters.push({ condition, resolve, reject });
      changed();
      return promise;
    },
    waitFor(event, count = 1) {
      const prefix = `${event}:`;
      return r.until(() =>
        r.events.filter((e) => e === event || e.startsWith(prefix)).length >=
          count
      );
    },
  };
  return r;
}

/** One connection served by a {@linkcode Harness}. */
export interface Served {
  /** Its hooks. */
  readonly hooks: Recorder;
  /** Its handle. */
  readonly connection: EngineConnection;
}

/** Options of {@linkcode serveLoopback}. */
export interface HarnessOptions {
  /**
   * The error handler. The harness records each error in
   * {@linkcode Harness.errors} first.
   *
   * @default {(e) => new Response(`onError: ${e}`, { status: 500 })}
   */
  onError?: ErrorHandler;
  /** Called with the hooks (and the connection) before the engine serves it. */
  setup?: (hooks: Recorder, conn: Deno.Conn) => void;
}

/** A loopback listener whose connections an engine serves. */
export interface Harness extends AsyncDisposable {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** The connections accepted so far, in order. */
  readonly accepted: Served[];
  /** What the handler threw (or the `TypeError` of a non-response), in order. */
  readonly errors: unknown[];
  /** Resolves to the next accepted connection not taken before. */
  next(): Promise<Served>;
  /** Opens a client connection to the harness. */
  connect(): Promise<Deno.TcpConn>;
}

/**
 * Listens on `127.0.0.1:0` and serves each accepted connection with
 * `engine`, `handler` and fresh {@linkcode recorder} hooks. Disposing it
 * stops listening, closes every connection with reason `"shutdown"` and
 * waits for every `finished`, and closes the clients made by `connect()`.
 *
 * @param engine The engine.
 * @param handler The handler.
 * @param options The options.
 * @returns The harness.
 */
export function serveLoopback(
  engine: Engine,
  handler: ServeHandler,
  options: HarnessOptions = {},
): Harness {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Served[] = [];
  const errors: unknown[] = [];
  const clients: Deno.Conn[] = [];
  const waiters: (() => void)[] = [];
  const onError = options.onError ??
    ((e: unknown) => new Response(`onError: ${e}`, { status: 500 }));
  let taken = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      const hooks = recorder(conn.remoteAddr as Deno.NetAddr);
      options.setup?.(hooks, conn);
      const connection = engine.serve(conn, hooks, handler, (error) => {
        errors.push(error);
        return onError(error);
      });
      accepted.push({ hooks, connection });
      waiters.shift()?.();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    port,
    accepted,
    errors,
    async next() {
      const index = taken++;
      while (accepted.length <= index) {
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      return accepted[index];
    },
    async connect() {
      const client = await Deno.connect({ hostname: "127.0.0.1", port });
      clients.push(client);
      return client;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop.catch(() => {});
      for (const { connection } of accepted) connection.close("shutdown");
      await Promise.all(accepted.map(({ connection }) => connection.finished));
      for (const client of clients) {
        try {
          client.close();
        } catch {
          // Closed by the test.
        }
      }
    },
  };
}
