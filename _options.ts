// Copyright 2026 the Reaper authors. MIT license.
/**
 * The options of {@linkcode serve}: their public shape, their defaults, and
 * the one place where they are checked. `serve()` resolves its options once,
 * here; everything after it (the lifetime layer, the engines) takes the
 * resolved values and checks nothing again.
 *
 * A bad option throws at once: a `TypeError` for a wrong type, a
 * `RangeError` for a value out of range, each naming the option and quoting
 * the value. An option of `Deno.serve` that Reaper does not support (VSOCK,
 * `certFile`, `alpnProtocols`), or one that does not apply to the transport
 * chosen (`port` with `path`), throws a `TypeError` too: none is silently
 * dropped.
 *
 * @module
 */

import { defaultOnError, type ErrorHandler } from "./_engine.ts";
import type { ConnectionStateEvent, ServeHandler } from "./types.ts";

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
   * How long the server goes on accepting and serving after a shutdown
   * began (a signal or `shutdown()`), every response carrying
   * `Connection: close`, before it closes its listener and drains. Behind a
   * load balancer (Kubernetes, a cloud LB) that keeps sending to a
   * terminating instance for a few seconds, new connections in that time
   * are still served instead of refused. A second signal or `close()` ends
   * the delay at once. `0` means no delay.
   *
   * @default {0}
   */
  shutdownDelay?: number;
  /**
   * How long a connection must have stayed idle, after a graceful shutdown
   * began, before it is closed, so that a request already on its way on it is
   * still answered (with `Connection: close`).
   *
   * @default {1000}
   */
  shutdownGrace?: number;
  /**
   * How many connections may be open at once. When a new connection comes
   * at the limit, the connection that has waited longest without a request
   * (idle between requests, or silent since accept) is closed to make room
   * (reason `"evicted"`), as nginx frees idle keep-alive connections when
   * it runs short; a connection with a request in flight or partly read is
   * never closed for it. Only when no connection is waiting is the new one
   * answered `503 Service Unavailable` and closed (reason
   * `"maxConnections"`). The same eviction runs when accepting fails for
   * lack of file descriptors. `0` means no limit.
   *
   * @default {0}
   */
  maxConnections?: number;
  /**
   * How many connections one client may have open at once, counted by its
   * address: an IPv4 address, or the /64 network of an IPv6 address
   * (clients on a Unix socket are not counted). At the limit, that
   * client's connection that has waited longest without a request is
   * closed to make room (reason `"evicted"`); when it has none waiting,
   * the new connection is answered `503` and closed (reason
   * `"maxConnectionsPerClient"`). Behind a proxy every client has the
   * proxy's address: leave it off there. `0` means no limit.
   *
   * @default {0}
   */
  maxConnectionsPerClient?: number;
  /**
   * Timeouts that shrink under load, as Envoy's overload manager does: as
   * open connections rise from `from` towards `maxConnections`, the idle
   * and header timeouts in force shrink linearly from their set values to
   * `floor` milliseconds (never above their set values), and grow back as
   * connections close. Re-evaluated at every tick; the values in force are
   * in `stats().effective`. Needs `maxConnections`. A per-request
   * `info.setTimeout()` is not shortened.
   *
   * Worked example: `idleTimeout` 65 000, `headerTimeout` 20 000,
   * `maxConnections` 1000, `pressure: { from: 500, floor: 2000 }`. Up to
   * 500 open connections: 65 s and 20 s. At 750 (half way): 33.5 s and
   * 11 s. At 1000: 2 s and 2 s. A connection idle for 40 s survives at 600
   * open connections (idle timeout 52.4 s) and is closed at the next tick
   * once 700 are open (39.8 s).
   *
   * @default {false}
   */
  pressure?: PressureOptions | false;
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

/**
 * Options of {@linkcode serve}.
 *
 * The server listens on TCP (`port`, `hostname`; HTTPS with `cert` and
 * `key`) or, when the options have a `path` property, on that Unix domain
 * socket, as `Deno.serve` chooses. Use {@linkcode ServeUnixOptions} for the
 * latter, so that `addr`, `onListen` and `info.remoteAddr` have the type
 * `Deno.UnixAddr`.
 *
 * @typeParam Addr The kind of address the server listens on and reports:
 * `Deno.NetAddr` for TCP, `Deno.UnixAddr` for a Unix domain socket.
 */
export interface ServeOptions<
  Addr extends Deno.NetAddr | Deno.UnixAddr = Deno.NetAddr,
> extends LifetimeOptions {
  /**
   * What to listen on: `"tcp"` (`port` and `hostname`) or `"unix"` (a Unix
   * domain socket at `path`). With a `path` it may be left out: it is then
   * `"unix"`. Deno's `"vsock"` is not supported: it throws a `TypeError`.
   *
   * @default {"tcp"}
   */
  transport?: "tcp" | "unix";
  /**
   * The port to listen on; `0` picks a free port (read it from `addr`).
   * TCP only.
   *
   * @default {8000}
   */
  port?: number;
  /**
   * The address to listen on. TCP only.
   *
   * @default {"0.0.0.0"}
   */
  hostname?: string;
  /**
   * Lets several processes listen on the same port (`SO_REUSEPORT`), so the
   * kernel balances connections between them. Deno 2.9 requires the
   * `--unstable-net` flag for it. TCP only.
   *
   * For restarts one process at a time on Linux, set the sysctl
   * `net.ipv4.tcp_migrate_req` to `1` (Linux 5.14 and later): when a
   * listener of the group closes, the kernel then hands the connections
   * still waiting in its accept queue to another one instead of resetting
   * them. A server that closes its own listener cannot avoid that window.
   *
   * @default {false}
   */
  reusePort?: boolean;
  /**
   * The most connections the operating system queues for the server to
   * accept (the `listen()` backlog); beyond it new connections are refused.
   * The kernel may round it up or cap it (Linux: `net.core.somaxconn`).
   * TCP only.
   *
   * @default {511}
   */
  tcpBacklog?: number;
  /** A PEM certificate chain: with `key`, serves HTTPS. TCP only. */
  cert?: string;
  /** The PEM private key of `cert`. TCP only. */
  key?: string;
  /**
   * The format of `key`: only `"pem"` (Deno's only format too). TCP only.
   *
   * @default {"pem"}
   */
  keyFormat?: "pem";
  /**
   * The path of a Unix domain socket to listen on, instead of TCP. The file
   * must not exist yet (else `Deno.errors.AddrInUse`); it is removed when
   * the server stops. No TCP option (`port`, `hostname`, `reusePort`,
   * `tcpBacklog`, `cert`, `key`) may be given with it. The socket has no
   * client addresses: every `remoteAddr` is `{ transport: "unix", path }`
   * with this path. Requests without a `Host` get the URL
   * `http+unix://PATH/...` (the path percent-encoded), as with `Deno.serve`.
   * Needs `--allow-net` (or `--allow-net=unix:PATH`), `--allow-read` and
   * `--allow-write` for the path.
   */
  path?: string;
  /**
   * Called once the server listens. By default it logs
   * `Listening on http://HOST:PORT/` (a Unix socket: `Listening on PATH`).
   */
  onListen?: (addr: Addr) => void;
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
   * `"auto"`: native if it passes a self-check at start-up (two requests
   * over 127.0.0.1, so it needs net access there), else portable.
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
  handler?: ServeHandler<Addr>;
}

/**
 * Options of {@linkcode serve} on a Unix domain socket: with `path`, the
 * server's `addr`, `onListen` and every `info.remoteAddr` are
 * `Deno.UnixAddr`.
 */
export interface ServeUnixOptions extends ServeOptions<Deno.UnixAddr> {
  /**
   * `"unix"`, or left out.
   *
   * @default {"unix"}
   */
  transport?: "unix";
  /** The path of the Unix domain socket to listen on. */
  path: string;
}

/** How the timeouts shrink under load (`pressure`). */
export interface PressureOptions {
  /** Open connections at which the timeouts begin to shrink. */
  from: number;
  /** The idle and header timeouts at `maxConnections`, in milliseconds. */
  floor: number;
}

/** The defaults of the numeric options, in milliseconds, counts or bytes. */
export const DEFAULTS = {
  idleTimeout: 65_000,
  headerTimeout: 20_000,
  requestTimeout: 0,
  tickInterval: 1_000,
  shutdownTimeout: 10_000,
  shutdownGrace: 1_000,
  shutdownDelay: 0,
  maxConnections: 0,
  maxConnectionsPerClient: 0,
  maxRequestsPerConnection: 0,
  maxHeaderSize: 16_384,
  port: 8000,
  tcpBacklog: 511,
} as const;

/** The lifetime options with every default filled in and checked. */
export type ResolvedLifetime = Readonly<
  Required<Omit<LifetimeOptions, "onConnectionState" | "pressure">> & {
    pressure: Readonly<PressureOptions> | false;
  }
>;

/** Where and how to listen: a TCP port or a Unix domain socket. */
export type ResolvedListen =
  | {
    readonly transport: "tcp";
    readonly port: number;
    readonly hostname: string;
    readonly reusePort: boolean;
    /** The listen queue's length (`tcpBacklog`). */
    readonly tcpBacklog: number;
    /** The PEM certificate and key, for HTTPS; `undefined` for HTTP. */
    readonly tls: { readonly cert: string; readonly key: string } | undefined;
  }
  | {
    readonly transport: "unix";
    /** The socket's path. */
    readonly path: string;
  };

/** Everything {@linkcode serve} needs, resolved and checked. */
export interface ResolvedOptions {
  /** The timeouts and limits. */
  readonly lifetime: ResolvedLifetime;
  /** `onConnectionState`, if given. */
  readonly onConnectionState:
    | ((event: ConnectionStateEvent) => void)
    | undefined;
  /** Where and how to listen. */
  readonly listen: ResolvedListen;
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
  /**
   * `onListen`, if given. It takes the kind of address the options chose
   * (`Deno.UnixAddr` with `path`), which is the kind the server passes.
   */
  readonly onListen:
    | ((addr: Deno.NetAddr | Deno.UnixAddr) => void)
    | undefined;
  /** `onError`, or the default one. */
  readonly onError: ErrorHandler;
  /** `signal`, if given. */
  readonly signal: AbortSignal | undefined;
}

/** A value as an error message quotes it. */
function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(quote).join(", ")}]`;
  return String(value);
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
function checkNumber(
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
    shutdownDelay: time("shutdownDelay"),
    maxConnections: count("maxConnections"),
    maxConnectionsPerClient: count("maxConnectionsPerClient"),
    pressure: resolvePressure(options),
    maxRequestsPerConnection: count("maxRequestsPerConnection"),
  };
}

/** Checks `pressure` against `maxConnections`. */
function resolvePressure(
  options: LifetimeOptions,
): Readonly<PressureOptions> | false {
  const pressure = options.pressure;
  if (pressure === undefined || pressure === false) return false;
  if (typeof pressure !== "object" || pressure === null) {
    throw new TypeError(
      `Cannot set pressure: value must be an object or false, received ${
        quote(pressure)
      }`,
    );
  }
  const max = options.maxConnections ?? 0;
  if (max === 0) {
    throw new TypeError(
      "Cannot set pressure: it needs maxConnections, which is not set",
    );
  }
  const from = checkNumber("pressure.from", pressure.from, NaN, 0, true);
  const floor = checkNumber("pressure.floor", pressure.floor, NaN, 0);
  if (Number.isNaN(from) || Number.isNaN(floor)) {
    throw new TypeError(
      "Cannot set pressure: both from and floor are required",
    );
  }
  if (from >= max) {
    throw new RangeError(
      `Cannot set pressure.from: value must be below maxConnections (${max}), received ${from}`,
    );
  }
  return { from, floor };
}

const ENGINES = ["auto", "portable", "native"] as const;

/** The options that apply to TCP only, refused with `path`. */
const TCP_ONLY = [
  "port",
  "hostname",
  "reusePort",
  "tcpBacklog",
  "cert",
  "key",
  "keyFormat",
] as const;

/**
 * Options that `Deno.serve` rejects or that Reaper does not support, and
 * why, for the `TypeError`.
 */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  cid: "VSOCK is not supported",
  certFile: "unsupported option, pass the PEM text as cert instead",
  keyFile: "unsupported option, pass the PEM text as key instead",
  alpnProtocols:
    "unsupported option, the engine offers the protocols it speaks (h2 and http/1.1, or http/1.1 only)",
};

/**
 * Resolves where to listen: a Unix domain socket when the options have a
 * `path` property (as `Deno.serve` chooses) or `transport: "unix"`, else
 * TCP.
 *
 * @param options The options given, of either kind of address
 * (`ServeOptions<never>`: no field read here depends on it).
 * @returns Where and how to listen.
 * @throws {TypeError} If `transport` is not `"tcp"` or `"unix"`, `path` is
 * not a non-empty string or contradicts `transport`, a TCP option is given
 * with `path`, an unsupported option is given, or HTTPS lacks a
 * certificate or key.
 * @throws {RangeError} If `port` or `tcpBacklog` is out of range.
 */
function resolveListen(options: ServeOptions<never>): ResolvedListen {
  const given = options as Record<string, unknown>;
  for (const name in UNSUPPORTED) {
    if (given[name] !== undefined) {
      throw new TypeError(
        `Cannot set ${name}: ${UNSUPPORTED[name]}, received ${
          quote(given[name])
        }`,
      );
    }
  }
  const transport: unknown = options.transport;
  if (transport === "vsock") {
    throw new TypeError(
      `Cannot set transport: VSOCK is not supported, received "vsock"`,
    );
  }
  if (
    transport !== undefined && transport !== "tcp" && transport !== "unix"
  ) {
    throw new TypeError(
      `Cannot set transport: value must be "tcp" or "unix", received ${
        quote(transport)
      }`,
    );
  }
  if (transport === "tcp" && options.path !== undefined) {
    throw new TypeError(
      `Cannot set path: it does not apply to transport "tcp", received ${
        quote(options.path)
      }`,
    );
  }
  if (
    transport === "unix" ||
    (transport === undefined && Object.hasOwn(options, "path"))
  ) {
    const path: unknown = options.path;
    if (path === undefined && !Object.hasOwn(options, "path")) {
      throw new TypeError(
        `Cannot set transport: "unix" needs a path, received "unix" without one`,
      );
    }
    if (typeof path !== "string" || path === "") {
      throw new TypeError(
        `Cannot set path: value must be a non-empty string, received ${
          quote(path)
        }`,
      );
    }
    for (const name of TCP_ONLY) {
      const value = given[name];
      if (value !== undefined) {
        // A certificate or key is not quoted: it would end up in logs.
        const shown = name === "cert" || name === "key"
          ? `a ${typeof value}`
          : quote(value);
        throw new TypeError(
          `Cannot set ${name}: it does not apply to a Unix socket (path is set), received ${shown}`,
        );
      }
    }
    return { transport: "unix", path };
  }
  const port = options.port ?? DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot set port: value must be an integer from 0 to 65535, received ${
        JSON.stringify(port)
      }`,
    );
  }
  const tcpBacklog = options.tcpBacklog ?? DEFAULTS.tcpBacklog;
  if (
    !Number.isInteger(tcpBacklog) || tcpBacklog < 1 ||
    tcpBacklog > 0x7fff_ffff
  ) {
    const kind = typeof tcpBacklog === "number" ? RangeError : TypeError;
    throw new kind(
      `Cannot set tcpBacklog: value must be an integer from 1 to 2147483647, received ${
        quote(tcpBacklog)
      }`,
    );
  }
  const cert = checkType<string>("cert", options.cert, "string");
  const key = checkType<string>("key", options.key, "string");
  if ((cert !== undefined || key !== undefined) && (!cert || !key)) {
    throw new TypeError("Cannot serve HTTPS: both cert and key are required");
  }
  const keyFormat: unknown = options.keyFormat;
  if (keyFormat !== undefined && keyFormat !== "pem") {
    throw new TypeError(
      `Cannot set keyFormat: value must be "pem", received ${quote(keyFormat)}`,
    );
  }
  return {
    transport: "tcp",
    port,
    hostname: checkType<string>("hostname", options.hostname, "string") ??
      "0.0.0.0",
    reusePort: checkType<boolean>("reusePort", options.reusePort, "boolean") ??
      false,
    tcpBacklog,
    tls: cert !== undefined && key !== undefined ? { cert, key } : undefined,
  };
}

/**
 * Resolves every option of {@linkcode serve}: the one place where options
 * are checked.
 *
 * @typeParam Addr The kind of address the options are typed for.
 * @param options The options given.
 * @returns The resolved options.
 * @throws {TypeError} If an option has the wrong type, is not supported,
 * does not apply to the transport chosen, or HTTPS lacks a certificate or
 * key.
 * @throws {RangeError} If an option is out of range.
 */
export function resolveOptions<
  Addr extends Deno.NetAddr | Deno.UnixAddr = Deno.NetAddr,
>(options: ServeOptions<Addr>): ResolvedOptions {
  const lifetime = resolveLifetime(options);
  const engine = options.engine ?? "auto";
  if (!ENGINES.includes(engine)) {
    throw new TypeError(
      `Cannot set engine: value must be "auto", "portable" or "native", received ${
        quote(engine)
      }`,
    );
  }
  const listen = resolveListen(options);
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
    listen,
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
