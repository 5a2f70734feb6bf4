// Copyright 2026 the Reaper authors. MIT license.
/**
 * The options of {@linkcode serve}: their public shape, their defaults, and
 * the one place where they are checked. `serve()` resolves its options once,
 * here; everything after it (the lifetime layer, the engines) takes the
 * resolved values and checks nothing again.
 *
 * A bad option throws at once: a `TypeError` for a wrong type, a
 * `RangeError` for a value out of range, each naming the option and quoting
 * the value.
 *
 * @module
 */

import type { ConnectionStateEvent } from "./_lifetime.ts";
import { defaultOnError, type ErrorHandler } from "./_engine.ts";
import type { ServeHandler } from "./types.ts";

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
   * Whether response bodies are compressed, as `Deno.serve` does it: br or
   * gzip by the request's `Accept-Encoding`, for the content types Deno
   * counts as compressible, bodies of 64 bytes or more (streams always),
   * with `Vary: Accept-Encoding` and a strong `ETag` made weak; never a
   * body that already has a `Content-Encoding`, a `Content-Range` or
   * `Cache-Control: no-transform`. Both engines do it the same way.
   * Unlike `Deno.serve`, the default does not come from the environment
   * variable `DENO_SERVE_AUTOMATIC_COMPRESSION` (reading it would need
   * `--allow-env`).
   *
   * @default {false}
   */
  automaticCompression?: boolean;
  /**
   * Whether SIGTERM and SIGINT (SIGINT and SIGBREAK on Windows) start a
   * graceful shutdown, and a second one closes everything at once. Turn it
   * off when the embedding program handles signals itself.
   *
   * @default {true}
   */
  signals?: boolean;
  /**
   * Whether the process ends once a shutdown that a signal started is done,
   * as it would have ended on that signal without Reaper (a listener for
   * a signal keeps the process from ending on it). When the server has
   * stopped (`finished` settled and the reactions to it ran), Reaper calls
   * `Deno.exit(0)`: exit code 0, whether every connection closed on its
   * own or `shutdownTimeout` or a second signal cut the rest. Turn it off
   * when the program has more to do after the server stopped; it then ends
   * itself. A shutdown started by `shutdown()`, `close()` or `signal` never
   * ends the process. Without `signals`, this does nothing.
   *
   * @default {true}
   */
  exitAfterSignal?: boolean;
  /** The handler, when not passed as a separate argument. */
  handler?: ServeHandler;
}

/** The defaults of the numeric options, in milliseconds, counts or bytes. */
export const DEFAULTS = {
  idleTimeout: 65_000,
  headerTimeout: 20_000,
  requestTimeout: 0,
  tickInterval: 1_000,
  shutdownTimeout: 10_000,
  shutdownGrace: 1_000,
  maxConnections: 0,
  maxRequestsPerConnection: 0,
  maxHeaderSize: 16_384,
  port: 8000,
} as const;

/** The lifetime options with every default filled in and checked. */
export type ResolvedLifetime = Readonly<
  Required<Omit<LifetimeOptions, "onConnectionState">>
>;

/** Everything {@linkcode serve} needs, resolved and checked. */
export interface ResolvedOptions {
  /** The timeouts and limits. */
  readonly lifetime: ResolvedLifetime;
  /** `onConnectionState`, if given. */
  readonly onConnectionState:
    | ((event: ConnectionStateEvent) => void)
    | undefined;
  /** Where and how to listen. */
  readonly listen: {
    readonly port: number;
    readonly hostname: string;
    readonly reusePort: boolean;
    /** The PEM certificate and key, for HTTPS; `undefined` for HTTP. */
    readonly tls: { readonly cert: string; readonly key: string } | undefined;
  };
  /** The engine asked for. */
  readonly engine: "auto" | "portable" | "native";
  /** The largest request head, in bytes. */
  readonly maxHeaderSize: number;
  /** Whether responses are compressed. */
  readonly automaticCompression: boolean;
  /** Whether SIGTERM/SIGINT shut the server down. */
  readonly signals: boolean;
  /** Whether the process exits after a shutdown that a signal started. */
  readonly exitAfterSignal: boolean;
  /** `onListen`, if given. */
  readonly onListen: ((addr: Deno.NetAddr) => void) | undefined;
  /** `onError`, or the default one. */
  readonly onError: ErrorHandler;
  /** `signal`, if given. */
  readonly signal: AbortSignal | undefined;
}

/** A value as an error message quotes it. */
function quote(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Checks a number option.
 *
 * @param name The option's name, for the message.
 * @param value The value given, or `undefined`.
 * @param fallback The default.
 * @param min The smallest value allowed.
 * @param integer Whether the value must be a whole number.
 * @returns The value, or the default.
 * @throws {TypeError} If the value is not a number.
 * @throws {RangeError} If it is not finite, below `min`, or not whole when
 * it must be.
 */
export function checkNumber(
  name: string,
  value: unknown,
  fallback: number,
  min = 0,
  integer = false,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    const kind = typeof value === "number" ? RangeError : TypeError;
    throw new kind(
      `Cannot set ${name}: value must be a finite number >= ${min}, received ${
        quote(value)
      }`,
    );
  }
  if (integer && !Number.isInteger(value)) {
    throw new RangeError(
      `Cannot set ${name}: value must be an integer, received ${value}`,
    );
  }
  return value;
}

/** Checks an optional option of a given `typeof`. */
function checkType<T>(
  name: string,
  value: unknown,
  type: "function" | "string" | "boolean",
): T | undefined {
  if (value === undefined || typeof value === type) return value as T;
  throw new TypeError(
    `Cannot set ${name}: value must be a ${type}, received ${quote(value)}`,
  );
}

/**
 * Resolves the lifetime options: fills in the defaults and checks each.
 *
 * @param options The options given.
 * @returns The resolved options.
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If an option is out of range.
 */
export function resolveLifetime(options: LifetimeOptions): ResolvedLifetime {
  const time = (name: keyof typeof DEFAULTS, min = 0) =>
    checkNumber(
      name,
      options[name as keyof LifetimeOptions],
      DEFAULTS[name],
      min,
    );
  const count = (name: keyof typeof DEFAULTS) =>
    checkNumber(
      name,
      options[name as keyof LifetimeOptions],
      DEFAULTS[name],
      0,
      true,
    );
  return {
    idleTimeout: time("idleTimeout"),
    headerTimeout: time("headerTimeout"),
    requestTimeout: time("requestTimeout"),
    tickInterval: time("tickInterval", 1),
    shutdownTimeout: time("shutdownTimeout"),
    shutdownGrace: time("shutdownGrace"),
    maxConnections: count("maxConnections"),
    maxRequestsPerConnection: count("maxRequestsPerConnection"),
  };
}

const ENGINES = ["auto", "portable", "native"] as const;

/**
 * Resolves every option of {@linkcode serve}: the one place where options
 * are checked.
 *
 * @param options The options given.
 * @returns The resolved options.
 * @throws {TypeError} If an option has the wrong type, or HTTPS lacks a
 * certificate or key.
 * @throws {RangeError} If an option is out of range.
 */
export function resolveOptions(options: ServeOptions): ResolvedOptions {
  const lifetime = resolveLifetime(options);
  const engine = options.engine ?? "auto";
  if (!ENGINES.includes(engine)) {
    throw new TypeError(
      `Cannot set engine: value must be "auto", "portable" or "native", received ${
        quote(engine)
      }`,
    );
  }
  const port = options.port ?? DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot set port: value must be an integer from 0 to 65535, received ${
        JSON.stringify(port)
      }`,
    );
  }
  const cert = checkType<string>("cert", options.cert, "string");
  const key = checkType<string>("key", options.key, "string");
  if ((cert !== undefined || key !== undefined) && (!cert || !key)) {
    throw new TypeError("Cannot serve HTTPS: both cert and key are required");
  }
  if (
    options.signal !== undefined && !(options.signal instanceof AbortSignal)
  ) {
    throw new TypeError(
      `Cannot set signal: value must be an AbortSignal, received ${
        quote(options.signal)
      }`,
    );
  }
  return {
    lifetime,
    onConnectionState: checkType(
      "onConnectionState",
      options.onConnectionState,
      "function",
    ),
    listen: {
      port,
      hostname: checkType<string>("hostname", options.hostname, "string") ??
        "0.0.0.0",
      reusePort:
        checkType<boolean>("reusePort", options.reusePort, "boolean") ??
          false,
      tls: cert !== undefined && key !== undefined ? { cert, key } : undefined,
    },
    engine,
    maxHeaderSize: checkNumber(
      "maxHeaderSize",
      options.maxHeaderSize,
      DEFAULTS.maxHeaderSize,
      256,
      true,
    ),
    automaticCompression: checkType<boolean>(
      "automaticCompression",
      options.automaticCompression,
      "boolean",
    ) ?? false,
    signals: checkType<boolean>("signals", options.signals, "boolean") ?? true,
    exitAfterSignal: checkType<boolean>(
      "exitAfterSignal",
      options.exitAfterSignal,
      "boolean",
    ) ?? true,
    onListen: checkType("onListen", options.onListen, "function"),
    onError: checkType<ErrorHandler>("onError", options.onError, "function") ??
      defaultOnError,
    signal: options.signal,
  };
}
