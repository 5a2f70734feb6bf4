// Copyright 2026 the Reaper authors. MIT license.
/**
 * Helpers shared by the benchmark scripts: the servers under comparison,
 * starting and stopping them as child processes, and raw HTTP/1.1 over TCP
 * on 127.0.0.1.
 *
 * @module
 */

const SERVERS = new URL("./servers/", import.meta.url);
const MOD = new URL("../mod.ts", import.meta.url);

/** How to start one benchmark server. */
export interface ServerSpec {
  /** A short key, for `--only` filters. */
  readonly key: string;
  /** The name printed in tables. */
  readonly name: string;
  /** The program to run. */
  readonly command: string;
  /** Its arguments; the port (always `0`) is already among them. */
  readonly args: readonly string[];
}

/** Options for {@linkcode benchServers}. */
export interface BenchServersOptions {
  /**
   * Node's `server.keepAliveTimeout` in milliseconds for the two `node:http`
   * servers, or `undefined` for Node's default (5 s).
   */
  nodeKeepAlive?: number;
  /** Extra Reaper `ServeOptions`, or `undefined` for the servers' defaults. */
  reaperOptions?: Record<string, unknown>;
  /** Whether Reaper prints `Closed CLIENT_PORT REASON` lines; default `false`. */
  reaperLogCloses?: boolean;
  /** The Reaper engines to include; default both. */
  reaperEngines?: readonly ("portable" | "native")[];
  /** Whether to include `node:http` running in Deno; default `true`. */
  denoNodeHttp?: boolean;
  /**
   * Whether to include `bench/servers/floor_listen.ts`: in `socket` mode (the
   * least a `Deno.listen` server can hold a connection with) with a 1 KiB and
   * a 2 KiB read buffer, and in `api` mode (a `Request` and a `Response` a
   * request) with a 1 KiB one; default `false`.
   */
  floor?: boolean;
  /** Whether to include Reaper at all; default `true`. */
  reaper?: boolean;
}

/**
 * The servers under comparison, raw `Deno.serve` first.
 *
 * @param options What to include and how to configure it.
 * @returns One spec a server.
 */
export function benchServers(options: BenchServersOptions = {}): ServerSpec[] {
  const deno = Deno.execPath();
  const file = (name: string): string => new URL(name, SERVERS).pathname;
  const nodeArgs = options.nodeKeepAlive === undefined
    ? ["0"]
    : ["0", String(options.nodeKeepAlive)];
  const specs: ServerSpec[] = [{
    key: "deno_serve",
    name: "raw Deno.serve",
    command: deno,
    args: ["run", "--allow-net", file("deno_serve.ts"), "0"],
  }];
  if (options.denoNodeHttp ?? true) {
    specs.push({
      key: "deno_node_http",
      name: "node:http in Deno",
      command: deno,
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        file("node_http.mjs"),
        ...nodeArgs,
      ],
    });
  }
  specs.push({
    key: "node_http",
    name: "Node http",
    command: "node",
    args: [file("node_http.mjs"), ...nodeArgs],
  });
  if (options.floor ?? false) {
    const floors = [
      ["floor_socket_1k", "Deno.listen floor, 1 KiB buffer", "socket", 1024],
      ["floor_socket_2k", "Deno.listen floor, 2 KiB buffer", "socket", 2048],
      [
        "floor_api_1k",
        "Deno.listen floor + Request/Response, 1 KiB",
        "api",
        1024,
      ],
    ] as const;
    for (const [key, name, mode, buffer] of floors) {
      specs.push({
        key,
        name,
        command: deno,
        args: [
          "run",
          "--allow-net",
          file("floor_listen.ts"),
          "0",
          mode,
          String(buffer),
        ],
      });
    }
  }
  if (options.reaper ?? true) {
    for (const engine of options.reaperEngines ?? ["portable", "native"]) {
      const args = ["run", "--allow-net", file("reaper.ts"), "0", engine];
      args.push(JSON.stringify(options.reaperOptions ?? {}));
      if (options.reaperLogCloses) args.push("log-closes");
      specs.push({
        key: `reaper_${engine}`,
        name: `Reaper ${engine}`,
        command: deno,
        args,
      });
    }
  }
  return specs;
}

/**
 * Why the Reaper servers cannot run yet, or `null` when `mod.ts` loads and
 * exports `serve`.
 *
 * @returns `null`, or the reason to print when skipping Reaper.
 */
export async function reaperMissing(): Promise<string | null> {
  try {
    const mod = await import(MOD.href);
    if (typeof mod.serve === "function") return null;
    return "skipped, mod.ts does not export serve yet";
  } catch (error) {
    const first = String(error).split("\n")[0];
    return `skipped, mod.ts does not load yet (${first})`;
  }
}

/** A benchmark server running as a child process. */
export interface RunningServer extends AsyncDisposable {
  /** The server process id. */
  readonly pid: number;
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Stops it: SIGTERM, then SIGKILL after one second. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a server and waits until it answers `GET /` with `Hello, World!`.
 *
 * @param spec The server to start.
 * @param timeoutMs How long to wait for it to answer.
 * @returns The running server.
 * @throws {Error} If it exits or does not answer in time.
 */
export async function startServer(
  spec: ServerSpec,
  timeoutMs = 30_000,
): Promise<RunningServer> {
  const child = new Deno.Command(spec.command, {
    args: [...spec.args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  let text = "";
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const pump = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* already gone */ }
        }, 1_000);
        await status;
        clearTimeout(timer);
      }
      await pumps;
    })();
    return stopped;
  };
  const deadline = Date.now() + timeoutMs;
  let port = 0;
  try {
    while (true) {
      if (exited) throw new Error(`Server exited: ${text.trim()}`);
      if (Date.now() > deadline) {
        throw new Error(`Server did not answer in ${timeoutMs} ms: ${text}`);
      }
      if (port === 0) {
        const match = text.match(/Listening on http:\/\/127\.0\.0\.1:(\d+)\//);
        if (match) port = Number(match[1]);
      }
      if (port !== 0) {
        try {
          const response = await get(port, 2_000);
          if (response.body === "Hello, World!") break;
        } catch { /* not yet */ }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pid: child.pid,
    port,
    output: () => text,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A parsed HTTP/1.1 response. */
export interface RawResponse {
  /** The status code. */
  status: number;
  /** The response head, lower-cased names. */
  headers: Map<string, string>;
  /** The body as text. */
  body: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The request that {@linkcode sendRequest} sends.
 *
 * @param close Whether to ask for `Connection: close`.
 * @returns The request bytes.
 */
export function requestBytes(close = false): Uint8Array {
  return encoder.encode(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${
      close ? "Connection: close\r\n" : ""
    }\r\n`,
  );
}

/**
 * Reads one response from `conn` (Content-Length or chunked body).
 *
 * @param conn The connection.
 * @returns The response.
 * @throws {Error} If the connection ends before the response does.
 */
export async function readResponse(conn: Deno.Conn): Promise<RawResponse> {
  let buffer = new Uint8Array(0);
  const more = async (): Promise<void> => {
    const chunk = new Uint8Array(16_384);
    const n = await conn.read(chunk);
    if (n === null) throw new Error("Connection closed before the response");
    const next = new Uint8Array(buffer.length + n);
    next.set(buffer);
    next.set(chunk.subarray(0, n), buffer.length);
    buffer = next;
  };
  let headEnd: number;
  while ((headEnd = indexOfCrlfCrlf(buffer)) < 0) await more();
  const head = decoder.decode(buffer.subarray(0, headEnd)).split("\r\n");
  const status = Number(head[0].split(" ")[1]);
  const headers = new Map<string, string>();
  for (const line of head.slice(1)) {
    const colon = line.indexOf(":");
    headers.set(
      line.slice(0, colon).trim().toLowerCase(),
      line.slice(colon + 1).trim(),
    );
  }
  const start = headEnd + 4;
  const length = headers.get("content-length");
  if (length !== undefined) {
    while (buffer.length < start + Number(length)) await more();
    const body = decoder.decode(buffer.subarray(start, start + Number(length)));
    return { status, headers, body };
  }
  if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
    let rest = decoder.decode(buffer.subarray(start));
    while (rest !== "0\r\n\r\n" && !rest.endsWith("\r\n0\r\n\r\n")) {
      await more();
      rest = decoder.decode(buffer.subarray(start));
    }
    let body = "";
    while (true) {
      const eol = rest.indexOf("\r\n");
      const size = parseInt(rest.slice(0, eol), 16);
      if (!(size > 0)) break;
      body += rest.slice(eol + 2, eol + 2 + size);
      rest = rest.slice(eol + 2 + size + 2);
    }
    return { status, headers, body };
  }
  return { status, headers, body: "" };
}

function indexOfCrlfCrlf(buffer: Uint8Array): number {
  for (let i = 0; i + 3 < buffer.length; i++) {
    if (
      buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 &&
      buffer[i + 3] === 10
    ) return i;
  }
  return -1;
}

/**
 * One `GET /` on a fresh connection to 127.0.0.1 with `Connection: close`.
 *
 * @param port The server's port.
 * @param timeoutMs The longest the request may take.
 * @returns The response.
 * @throws {Error} On a connection error or timeout.
 */
export async function get(
  port: number,
  timeoutMs: number,
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(requestBytes(true));
    return await readResponse(conn);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/**
 * Reads `VmRSS` of a process from `/proc/<pid>/status`.
 *
 * @param pid The process id.
 * @returns The resident set size in KiB.
 */
export async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+) kB$/m);
  if (!match) throw new Error(`No VmRSS for process ${pid}`);
  return Number(match[1]);
}

/**
 * A command line flag's value: `--name value` or `--name=value`.
 *
 * @param name The flag without dashes.
 * @returns Its value, or `undefined` when absent.
 */
export function flag(name: string): string | undefined {
  const args = Deno.args;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) {
      return args[i].slice(name.length + 3);
    }
  }
  return undefined;
}
