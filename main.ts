#!/usr/bin/env -S deno run --allow-net --allow-read --unstable-net
// Copyright 2026 the Reaper authors. MIT license.
/**
 * The `reaper` command: a static file server with connection lifetime
 * control and a live connection dashboard.
 *
 * ```sh
 * deno run --allow-net --allow-read main.ts --root ./public --idle-timeout 15s
 * ```
 *
 * It serves `--root` (by default a built-in demo site), shows the dashboard
 * at `/_reaper/` to loopback clients, prints one access-log line per request
 * and one line per connection closed by a timeout, and on SIGTERM or SIGINT
 * drains gracefully and exits with code `0`. Bad flags exit with code `2`.
 * `--reuse-port` needs Deno's `--unstable-net` flag, which the shebang
 * carries. Run `main.ts --help` for every flag.
 *
 * @module
 */

import { serve, type Server } from "./server.ts";
import { DEMO_ROOT, serveDir } from "./file_server.ts";
import { createDashboard } from "./dashboard.ts";
import type { ServeHandler, ServeHandlerInfo } from "./types.ts";
import {
  type CliOptions,
  formatAccessLog,
  formatAddr,
  formatListening,
  formatTimeoutLog,
  isTimeoutReason,
  parseArgs,
  usage,
  UsageError,
  VERSION,
} from "./_cli.ts";

/** Where {@linkcode main} writes and what stops it, for embedding and tests. */
export interface MainOptions {
  /**
   * Writes one line of normal output (without its newline).
   *
   * @default {console.log}
   */
  stdout?: (line: string) => void;
  /**
   * Writes one line of error output (without its newline).
   *
   * @default {console.error}
   */
  stderr?: (line: string) => void;
  /**
   * Aborting it shuts the server down gracefully, as SIGTERM does. When it
   * is given, {@linkcode main} leaves the process's signals alone.
   */
  signal?: AbortSignal;
}

/**
 * Runs the `reaper` command: parses `args`, serves until SIGTERM or SIGINT
 * (or `options.signal`) and a graceful drain, and returns the exit code.
 *
 * @param args The command-line arguments, without the program name.
 * @param options Output and stopping, for embedding and tests.
 * @returns `0` after `--help`, `--version` or a clean shutdown; `2` for a
 * bad command line (one line on stderr names the flag and the value); `1`
 * when the server cannot listen or start.
 *
 * @example Check a command line
 * ```ts
 * import { main } from "./main.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const errors: string[] = [];
 * const code = await main(["--port", "http"], { stderr: (l) => errors.push(l) });
 * assertEquals(code, 2);
 * assertEquals(
 *   errors[0],
 *   'reaper: invalid value for --port: "http" (expected a port number from 0 to 65535)',
 * );
 * ```
 */
export async function main(
  args: string[],
  options: MainOptions = {},
): Promise<number> {
  const stdout = options.stdout ?? ((line: string) => console.log(line));
  const stderr = options.stderr ?? ((line: string) => console.error(line));
  let cli: CliOptions;
  let files: { cert?: string; key?: string };
  try {
    cli = parseArgs(args);
    if (cli.help) {
      stdout(usage().trimEnd());
      return 0;
    }
    if (cli.version) {
      stdout(`reaper ${VERSION}`);
      return 0;
    }
    await checkRoot(cli.root);
    checkReusePort(cli.reusePort);
    files = await readTls(cli);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr(`reaper: ${error.message}`);
    return 2;
  }

  const root = cli.root ?? DEMO_ROOT;
  const log = cli.quiet ? undefined : stdout;
  let dashboard:
    | ((req: Request, info: ServeHandlerInfo) => Response | undefined)
    | undefined;
  const readyPath = cli.readyPath;
  const handler: ServeHandler = async (req, info) => {
    const start = performance.now();
    let res: Response;
    try {
      res = (readyPath !== undefined && ready(req, readyPath, server)) ||
        dashboard?.(req, info) || await serveDir(req, { root });
    } catch (error) {
      stderr(`reaper: error serving ${req.method} ${req.url}: ${error}`);
      res = new Response("Internal Server Error", { status: 500 });
    }
    if (log) logWhenDone(log, req, res, info, start);
    return res;
  };

  const tls = files.cert !== undefined;
  let server: Server;
  try {
    server = serve({
      port: cli.port,
      hostname: cli.hostname,
      reusePort: cli.reusePort || undefined,
      cert: files.cert,
      key: files.key,
      engine: cli.engine,
      idleTimeout: cli.idleTimeout,
      headerTimeout: cli.headerTimeout,
      requestTimeout: cli.requestTimeout,
      tickInterval: cli.tickInterval,
      shutdownTimeout: cli.shutdownTimeout,
      maxConnections: cli.maxConnections,
      maxConnectionsPerClient: cli.maxConnectionsPerClient,
      shutdownDelay: cli.shutdownDelay,
      signals: options.signal === undefined,
      // main() returns the exit code; its caller ends the process.
      exitAfterSignal: false,
      // Printed below, once serve() has also set up the signal handlers.
      onListen: () => {},
      onConnectionState: log &&
        ((event) => {
          if (event.state === "closed" && isTimeoutReason(event.reason)) {
            log(formatTimeoutLog({
              id: event.id,
              remoteAddr: event.remoteAddr,
              reason: event.reason,
              idleMs: event.idleMs,
            }));
          }
        }),
    }, handler);
  } catch (error) {
    const where = formatAddr({
      transport: "tcp",
      hostname: cli.hostname,
      port: cli.port,
    });
    const why = error instanceof Deno.errors.AddrInUse
      ? "the address is already in use"
      : error instanceof Error
      ? error.message
      : String(error);
    stderr(`reaper: cannot start the server on ${where}: ${why}`);
    return 1;
  }
  stdout(formatListening(server.addr, tls));
  if (cli.dashboard) dashboard = createDashboard(server, { allow: "loopback" });
  const stop = () => server.shutdown();
  options.signal?.addEventListener("abort", stop, { once: true });
  if (options.signal?.aborted) stop();

  let code = 0;
  try {
    stdout(`Engine: ${await server.engine} (${await server.engineReason})`);
  } catch (error) {
    stderr(`reaper: cannot start an HTTP engine: ${error}`);
    code = 1;
  }
  await server.finished;
  options.signal?.removeEventListener("abort", stop);
  return code;
}

/**
 * The answer at `--ready-path`: `200` while the server serves, `503` once a
 * shutdown began (during `--shutdown-delay` too), so that a load balancer
 * stops sending before the listener closes. `undefined` for other paths.
 */
function ready(
  req: Request,
  path: string,
  server: Server | undefined,
): Response | undefined {
  if (new URL(req.url).pathname !== path) return undefined;
  const going = server?.stats().shuttingDown ?? false;
  return new Response(going ? "shutting down\n" : "ready\n", {
    status: going ? 503 : 200,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

async function checkRoot(root: string | undefined): Promise<void> {
  // A remote root cannot be checked: serveDir() answers 502 if it fails.
  if (root === undefined || /^https?:\/\//i.test(root)) return;
  let isDirectory: boolean;
  try {
    isDirectory = (await Deno.stat(/^file:/i.test(root) ? new URL(root) : root))
      .isDirectory;
  } catch (error) {
    throw new UsageError(
      `invalid value for --root: ${JSON.stringify(root)} (${
        error instanceof Deno.errors.NotFound
          ? "no such directory"
          : error instanceof Error
          ? error.message
          : String(error)
      })`,
    );
  }
  if (!isDirectory) {
    throw new UsageError(
      `invalid value for --root: ${JSON.stringify(root)} (not a directory)`,
    );
  }
}

function checkReusePort(reusePort: boolean): void {
  // Deno 2.9 ends the process (exit code 70) when `reusePort` is used
  // without --unstable-net, so check first. That flag is also what adds
  // `Deno.listenDatagram` to the namespace.
  if (reusePort && !("listenDatagram" in Deno)) {
    throw new UsageError(
      "--reuse-port needs Deno's --unstable-net flag: deno run --unstable-net --allow-net --allow-read main.ts --reuse-port",
    );
  }
}

async function readTls(
  cli: CliOptions,
): Promise<{ cert?: string; key?: string }> {
  if (cli.cert === undefined || cli.key === undefined) return {};
  return {
    cert: await readPem("--cert", cli.cert),
    key: await readPem("--key", cli.key),
  };
}

async function readPem(flag: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(
      `invalid value for ${flag}: ${JSON.stringify(path)} (${
        error instanceof Deno.errors.NotFound
          ? "no such file"
          : error instanceof Error
          ? error.message
          : String(error)
      })`,
    );
  }
}

/** Body bytes that a response sends, when they are known in advance. */
function bodyBytes(method: string, res: Response): number | undefined {
  if (
    method === "HEAD" || res.status === 204 || res.status === 304 ||
    res.body === null
  ) {
    return 0;
  }
  const length = res.headers.get("content-length");
  return length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
}

function logWhenDone(
  log: (line: string) => void,
  req: Request,
  res: Response,
  info: ServeHandlerInfo,
  start: number,
): void {
  const url = new URL(req.url);
  const bytes = bodyBytes(req.method, res);
  const write = (aborted: boolean) =>
    log(formatAccessLog({
      method: req.method,
      path: url.pathname + url.search,
      status: res.status,
      bytes,
      ms: performance.now() - start,
      remoteAddr: info.remoteAddr,
      aborted,
    }));
  info.completed.then(() => write(false), () => write(true));
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
