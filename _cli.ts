// Copyright 2026 the Reaper authors. MIT license.
/**
 * The pure parts of the `reaper` command line: flag and duration parsing,
 * the help text and the log lines. `main.ts` does the I/O.
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import { formatAddr, listeningAt } from "./_engine.ts";

/** The version of Reaper, as written in `deno.json`. */
export const VERSION: string = denoJson.version;

/**
 * The longest duration a flag takes, in milliseconds: the largest delay a
 * JavaScript timer accepts (about 24.8 days).
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** The HTTP engines a user can ask for with `--engine`. */
export type EngineChoice = "auto" | "portable" | "native";

/** The settings the command line asked for. */
export interface CliOptions {
  /** `--help`: print the usage and exit. */
  help: boolean;
  /** `--version`: print the version and exit. */
  version: boolean;
  /** `--port`: the TCP port; `0` picks a free one. */
  port: number;
  /** `--hostname`: the address to listen on. */
  hostname: string;
  /** `--root`: the folder to serve; `undefined` serves the demo site. */
  root: string | undefined;
  /** `--idle-timeout` in milliseconds; `undefined` keeps the server's default. */
  idleTimeout: number | undefined;
  /** `--header-timeout` in milliseconds; `undefined` keeps the default. */
  headerTimeout: number | undefined;
  /** `--request-timeout` in milliseconds; `undefined` keeps the default. */
  requestTimeout: number | undefined;
  /** `--tick` in milliseconds; `undefined` keeps the default. */
  tickInterval: number | undefined;
  /** `--shutdown-timeout` in milliseconds; `undefined` keeps the default. */
  shutdownTimeout: number | undefined;
  /** `--max-connections`; `undefined` keeps the default (unlimited). */
  maxConnections: number | undefined;
  /** `--max-connections-per-client`; `undefined` keeps the default (off). */
  maxConnectionsPerClient: number | undefined;
  /** `--shutdown-delay` in milliseconds; `undefined` keeps the default (0). */
  shutdownDelay: number | undefined;
  /**
   * `--ready-path`: a path answered `200` while serving and `503` from the
   * first signal on, for load-balancer health checks; `undefined`: none.
   */
  readyPath: string | undefined;
  /** `--reuse-port`: share the port with other processes. */
  reusePort: boolean;
  /** `--cert`: the path of a PEM certificate chain file. */
  cert: string | undefined;
  /** `--key`: the path of a PEM private key file. */
  key: string | undefined;
  /** `--engine`: which HTTP engine serves connections. */
  engine: EngineChoice;
  /** `false` with `--no-dashboard`. */
  dashboard: boolean;
  /** `--quiet`: no access log and no timeout log. */
  quiet: boolean;
}

/**
 * A command line that cannot be run. Its message is the one line to print
 * after `reaper: `; the exit code for it is `2`.
 */
export class UsageError extends Error {
  /**
   * Creates a usage error.
   *
   * @param message What is wrong, naming the flag and the value.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const DURATION_HINT = "expected a duration like 500ms, 15s, 2m or 1h";
const DURATION_RE = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a duration: a non-negative decimal number followed by `ms`, `s`,
 * `m` or `h`, or a bare number of seconds. Fractions are allowed (`1.5s`,
 * `0.25`); a result that is not a whole number of milliseconds is rounded
 * up, so that only a zero duration is `0`. A number too large for a
 * double gives `Infinity`.
 *
 * @param text The duration as written, for example `"500ms"` or `"15"`.
 * @returns The duration in milliseconds, or `undefined` if `text` is not a
 * duration (empty, negative, another unit, an exponent, spaces).
 *
 * @example Usage
 * ```ts
 * import { parseDuration } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(parseDuration("2m"), 120_000);
 * assertEquals(parseDuration("1.5"), 1_500);
 * assertEquals(parseDuration("soon"), undefined);
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_RE.exec(text);
  if (match === null) return undefined;
  return Math.ceil(Number(match[1]) * UNIT_MS[match[2] ?? "s"]);
}

const DEFAULTS: Readonly<CliOptions> = {
  help: false,
  version: false,
  port: 8000,
  hostname: "0.0.0.0",
  root: undefined,
  idleTimeout: undefined,
  headerTimeout: undefined,
  requestTimeout: undefined,
  tickInterval: undefined,
  shutdownTimeout: undefined,
  maxConnections: undefined,
  maxConnectionsPerClient: undefined,
  shutdownDelay: undefined,
  readyPath: undefined,
  reusePort: false,
  cert: undefined,
  key: undefined,
  engine: "auto",
  dashboard: true,
  quiet: false,
};

type ValueFlag = (options: CliOptions, value: string, flag: string) => void;

function invalid(flag: string, value: string, hint: string): UsageError {
  return new UsageError(
    `invalid value for ${flag}: ${JSON.stringify(value)} (${hint})`,
  );
}

function duration(
  key:
    | "idleTimeout"
    | "headerTimeout"
    | "requestTimeout"
    | "tickInterval"
    | "shutdownTimeout"
    | "shutdownDelay",
  positive = false,
): ValueFlag {
  return (options, value, flag) => {
    const ms = parseDuration(value);
    if (ms === undefined) throw invalid(flag, value, DURATION_HINT);
    if (ms > MAX_DURATION_MS) {
      throw invalid(flag, value, "expected at most 24 days");
    }
    if (positive && ms === 0) {
      throw invalid(flag, value, "expected a duration above 0, like 50ms");
    }
    options[key] = ms;
  };
}

function count(key: "maxConnections" | "maxConnectionsPerClient"): ValueFlag {
  return (options, value, flag) => {
    const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
    if (!(n <= 2 ** 31 - 1)) {
      throw invalid(flag, value, "expected a whole number, 0 for unlimited");
    }
    options[key] = n;
  };
}

function text(key: "hostname" | "root" | "cert" | "key"): ValueFlag {
  return (options, value, flag) => {
    if (value === "") throw invalid(flag, value, "expected a non-empty value");
    options[key] = value;
  };
}

const VALUE_FLAGS: Record<string, ValueFlag> = {
  "--port": (options, value, flag) => {
    const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
    if (!(port <= 65_535)) {
      throw invalid(flag, value, "expected a port number from 0 to 65535");
    }
    options.port = port;
  },
  "--hostname": text("hostname"),
  "--root": text("root"),
  "--cert": text("cert"),
  "--key": text("key"),
  "--idle-timeout": duration("idleTimeout"),
  "--header-timeout": duration("headerTimeout"),
  "--request-timeout": duration("requestTimeout"),
  "--tick": duration("tickInterval", true),
  "--shutdown-timeout": duration("shutdownTimeout"),
  "--shutdown-delay": duration("shutdownDelay"),
  "--max-connections": count("maxConnections"),
  "--max-connections-per-client": count("maxConnectionsPerClient"),
  "--ready-path": (options, value, flag) => {
    if (!/^\/[\x21-\x7e]*$/.test(value)) {
      throw invalid(flag, value, "expected a path starting with /");
    }
    options.readyPath = value;
  },
  "--engine": (options, value, flag) => {
    if (value !== "auto" && value !== "portable" && value !== "native") {
      throw invalid(flag, value, "expected auto, portable or native");
    }
    options.engine = value;
  },
};

const BOOLEAN_FLAGS: Record<string, (options: CliOptions) => void> = {
  "--help": (options) => options.help = true,
  "-h": (options) => options.help = true,
  "--version": (options) => options.version = true,
  "--reuse-port": (options) => options.reusePort = true,
  "--no-dashboard": (options) => options.dashboard = false,
  "--quiet": (options) => options.quiet = true,
};

/**
 * Parses the arguments of the `reaper` command. Value flags take their
 * value as the next argument (`--port 8080`) or after `=` (`--port=8080`);
 * a later flag overrides an earlier one. There are no positional arguments.
 *
 * @param args The command-line arguments, without the program name.
 * @returns The options, with defaults for what was not given.
 * @throws {UsageError} On an unknown flag, a missing or bad value, a stray
 * argument, or only one of `--cert` and `--key`.
 *
 * @example Usage
 * ```ts
 * import { parseArgs } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const options = parseArgs(["--port", "0", "--idle-timeout=5s"]);
 * assertEquals(options.port, 0);
 * assertEquals(options.idleTimeout, 5_000);
 * ```
 */
export function parseArgs(args: readonly string[]): CliOptions {
  const options: CliOptions = { ...DEFAULTS };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const setBoolean = Object.hasOwn(BOOLEAN_FLAGS, flag)
      ? BOOLEAN_FLAGS[flag]
      : undefined;
    if (setBoolean !== undefined) {
      if (eq !== -1) {
        throw invalid(flag, arg.slice(eq + 1), "this flag takes no value");
      }
      setBoolean(options);
      continue;
    }
    const setValue = Object.hasOwn(VALUE_FLAGS, flag)
      ? VALUE_FLAGS[flag]
      : undefined;
    if (setValue === undefined) {
      if (arg.startsWith("-")) {
        throw new UsageError(
          `unknown flag ${JSON.stringify(flag)} (see reaper --help)`,
        );
      }
      throw new UsageError(
        `unexpected argument ${JSON.stringify(arg)} (see reaper --help)`,
      );
    }
    let value: string;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
      value = args[++i];
    } else {
      throw new UsageError(`missing value for ${flag}`);
    }
    setValue(options, value, flag);
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new UsageError(
      options.cert === undefined
        ? "--key needs --cert too (give both or neither)"
        : "--cert needs --key too (give both or neither)",
    );
  }
  return options;
}

/**
 * The text `reaper --help` prints.
 *
 * @returns The usage, flags and defaults, ending with a newline.
 */
export function usage(): string {
  return `reaper ${VERSION}: a static file server that closes idle, silent and slow connections on time

Usage: reaper [flags]
       deno run --allow-net --allow-read main.ts [flags]

Flags:
  --port N               TCP port; 0 picks a free one (default 8000)
  --hostname HOST        address to listen on (default 0.0.0.0)
  --root DIR             folder (or file:, http(s): URL) to serve (default: a demo site)
  --idle-timeout D       close a connection with no byte either way for D (default 65s)
  --header-timeout D     close a connection whose request head takes longer (default 20s)
  --request-timeout D    close a connection whose request takes longer (default 0 = off)
  --tick D               how often timers are checked (default 1s)
  --shutdown-timeout D   on SIGTERM/SIGINT, wait this long for requests in flight (default 10s, 0 = no limit)
  --shutdown-delay D     on SIGTERM/SIGINT, go on accepting for D first, answering with
                         Connection: close (default 0)
  --max-connections N    at N open connections, close the longest-idle one for a new one,
                         or answer 503 when none is idle (default 0 = unlimited)
  --max-connections-per-client N
                         the same per client address (IPv6: per /64) (default 0 = off)
  --ready-path PATH      answer 200 at PATH, 503 from the first SIGTERM/SIGINT on (for
                         load-balancer health checks; any client) (default: none)
  --reuse-port           share the port with other processes (needs deno's --unstable-net)
  --cert FILE --key FILE serve HTTPS with this PEM certificate chain and private key
  --engine E             auto, portable or native (default auto)
  --no-dashboard         turn off the live dashboard at /_reaper/ (shown to loopback clients)
  --quiet                no access log and no timeout log
  -h, --help             print this help and exit
  --version              print the version and exit

Durations (D): 500ms, 15s, 2m, 1h, or a bare number of seconds (1.5 = 1500ms); 0 turns
a timeout off. SIGTERM or SIGINT drains gracefully; a second one closes everything at once.
Exit codes: 0 after a clean shutdown, 1 if the server cannot start, 2 for a bad command line.
`;
}

/**
 * Formats an address as `host:port`, with an IPv6 host in brackets; a Unix
 * domain socket's address as its path.
 */
export { formatAddr };

/**
 * The line printed once the server listens, as `Deno.serve` prints it.
 *
 * @param addr The address the server listens on (with the real port).
 * @param tls Whether the server speaks HTTPS.
 * @returns For example `Listening on http://0.0.0.0:8000/`, or for a Unix
 * domain socket `Listening on /run/app.sock`.
 */
export function formatListening(
  addr: Deno.NetAddr | Deno.UnixAddr,
  tls: boolean,
): string {
  return `Listening on ${listeningAt(addr, tls)}`;
}

/** What the access log tells about one request. */
export interface AccessLogEntry {
  /** The request method. */
  method: string;
  /** The request target: the URL's path and query. */
  path: string;
  /** The response status. */
  status: number;
  /** Body bytes sent, or `undefined` when not known. */
  bytes: number | undefined;
  /** Milliseconds from the request head to the end of the response. */
  ms: number;
  /** The client's address. */
  remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  /** `true` when the response could not be sent completely. */
  aborted?: boolean;
}

function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)}ms` : `${ms.toFixed(0)}ms`;
}

/**
 * Formats one access-log line: method, path, status, bytes (`-` when not
 * known), duration and client address, plus `aborted` when the response
 * did not go out completely. Control characters in the path are escaped,
 * so a line is always one line.
 *
 * @param entry The request.
 * @returns For example `GET /index.html 200 1234B 1.20ms 127.0.0.1:51234`.
 *
 * @example Usage
 * ```ts
 * import { formatAccessLog } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const line = formatAccessLog({
 *   method: "GET",
 *   path: "/",
 *   status: 200,
 *   bytes: 5,
 *   ms: 1.234,
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 4000 },
 * });
 * assertEquals(line, "GET / 200 5B 1.23ms 127.0.0.1:4000");
 * ```
 */
export function formatAccessLog(entry: AccessLogEntry): string {
  const bytes = entry.bytes === undefined ? "-" : `${entry.bytes}B`;
  return `${entry.method} ${
    escapeControls(entry.path)
  } ${entry.status} ${bytes} ${formatMs(entry.ms)} ${
    formatAddr(entry.remoteAddr)
  }${entry.aborted ? " aborted" : ""}`;
}

function escapeControls(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x20\x7f]/g, (c) => encodeURIComponent(c));
}

/**
 * The close reasons that the timeout log reports: the timeouts, and the
 * closes that made room for a new connection at a connection limit.
 */
export type TimeoutReason =
  | "idle"
  | "headerTimeout"
  | "requestTimeout"
  | "evicted";

const REASON_TEXT: Record<TimeoutReason, string> = {
  idle: "idle timeout",
  headerTimeout: "header timeout",
  requestTimeout: "request timeout",
  evicted: "evicted for a new connection",
};

/**
 * Whether a close reason is one of the timeouts the timeout log reports.
 *
 * @param reason A close reason.
 * @returns `true` for `idle`, `headerTimeout`, `requestTimeout` and
 * `evicted`.
 */
export function isTimeoutReason(
  reason: string | undefined,
): reason is TimeoutReason {
  return reason !== undefined && Object.hasOwn(REASON_TEXT, reason);
}

/** What the timeout log tells about one connection closed by a timeout. */
export interface TimeoutLogEntry {
  /** The connection's number within the server. */
  id: number;
  /** The client's address. */
  remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  /** Which timeout closed it. */
  reason: TimeoutReason;
  /** Milliseconds since the last sign of life on the connection. */
  idleMs: number;
}

/**
 * Formats one timeout-log line.
 *
 * @param entry The connection.
 * @returns For example
 * `closed 127.0.0.1:51234 #7: idle timeout after 65.0s idle`.
 *
 * @example Usage
 * ```ts
 * import { formatTimeoutLog } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const line = formatTimeoutLog({
 *   id: 7,
 *   remoteAddr: { transport: "tcp", hostname: "::1", port: 4000 },
 *   reason: "headerTimeout",
 *   idleMs: 1_500,
 * });
 * assertEquals(line, "closed [::1]:4000 #7: header timeout after 1.50s idle");
 * ```
 */
export function formatTimeoutLog(entry: TimeoutLogEntry): string {
  const seconds = entry.idleMs / 1_000;
  return `closed ${formatAddr(entry.remoteAddr)} #${entry.id}: ${
    REASON_TEXT[entry.reason]
  } after ${seconds.toFixed(seconds < 10 ? 2 : 1)}s idle`;
}
