// Copyright 2026 the Reaper authors. MIT license.
import { assert, assertEquals, assertMatch } from "@std/assert";
import { main } from "./main.ts";
import { writeSelfSigned } from "./testdata/tls.ts";
import { hasCommand, settlesWithin } from "./testdata/tools.ts";
import { readResponse } from "./testdata/http_client.ts";

const MAIN = new URL("./main.ts", import.meta.url).href;
const PERMISSIONS = ["--allow-net", "--allow-read"];
/** Asks the server to close the connection after the response. */
const CLOSE: RequestInit = { headers: { connection: "close" } };
/** How long a test waits for an expected line before it fails. */
const WAIT_MS = 15_000;

/** The `reaper` command in a child process, its stdout read line by line. */
class Reaper {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  #stderr: Promise<string>;
  #stdoutDone: Promise<void>;
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(
    args: string[],
    runFlags: string[] = PERMISSIONS,
    command?: Deno.Command,
  ) {
    this.child = (command ?? new Deno.Command(Deno.execPath(), {
      args: ["run", ...runFlags, MAIN, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    })).spawn();
    this.#stderr = new Response(this.child.stderr).text();
    this.#stdoutDone = this.#pump();
  }

  async #pump(): Promise<void> {
    let buffer = "";
    const text = this.child.stdout.pipeThrough(new TextDecoderStream());
    for await (const chunk of text) {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf("\n")) !== -1) {
        this.lines.push(buffer.slice(0, end));
        buffer = buffer.slice(end + 1);
      }
      this.#wake?.();
    }
    if (buffer !== "") this.lines.push(buffer);
    this.#ended = true;
    this.#wake?.();
  }

  /** Waits for a stdout line that matches, and returns it. */
  async waitFor(pattern: RegExp, from = 0): Promise<string> {
    const deadline = Date.now() + WAIT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (true) {
        const line = this.lines.slice(from).find((l) => pattern.test(l));
        if (line !== undefined) return line;
        const left = deadline - Date.now();
        if (this.#ended || left <= 0) {
          throw new Error(
            `No stdout line matched ${pattern}; stdout:\n${
              this.lines.join("\n")
            }`,
          );
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
      }
    } finally {
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  /** Waits for the `Listening on` line and returns the port. */
  async port(): Promise<number> {
    const line = await this.waitFor(/^Listening on /);
    return Number(/:(\d+)\/$/.exec(line)![1]);
  }

  /** Waits for the process to end and returns its exit code and stderr. */
  async exit(): Promise<{ code: number; stderr: string }> {
    const [status, stderr] = await Promise.all([
      this.child.status,
      this.#stderr,
      this.#stdoutDone,
    ]);
    return { code: status.code, stderr };
  }

  /** Kills the process if it still runs and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.exit();
  }
}

/** Runs the command to its end and returns code, stdout and stderr. */
async function run(
  args: string[],
  runFlags: string[] = PERMISSIONS,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...runFlags, MAIN, ...args],
    stdin: "null",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/**
 * Sends a raw HTTP/1.1 request and reads until the server closes the
 * connection. Returns what was read and the milliseconds between the last
 * byte and the close.
 */
async function getUntilClosed(
  conn: Deno.Conn,
  path: string,
): Promise<{ text: string; silentMs: number }> {
  await conn.write(
    new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`),
  );
  const buffer = new Uint8Array(64 * 1024);
  const decoder = new TextDecoder();
  let text = "";
  let last = performance.now();
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return { text, silentMs: performance.now() - last };
    last = performance.now();
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
}

async function capture(
  args: string[],
): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await main(args, {
    stdout: (line) => stdout.push(line),
    stderr: (line) => stderr.push(line),
  });
  return { code, stdout, stderr };
}

Deno.test("main() prints the help and returns 0", async () => {
  const { code, stdout, stderr } = await capture(["--help"]);
  assertEquals(code, 0);
  assertEquals(stderr, []);
  assert(stdout.join("\n").includes("Usage: reaper [flags]"));
});

Deno.test("main() prints the version and returns 0", async () => {
  const { code, stdout } = await capture(["--version"]);
  assertEquals(code, 0);
  assertMatch(stdout[0], /^reaper \d+\.\d+\.\d+/);
});

Deno.test("main() returns 2 with one line for a bad value", async () => {
  const { code, stdout, stderr } = await capture(["--idle-timeout", "abc"]);
  assertEquals(code, 2);
  assertEquals(stdout, []);
  assertEquals(stderr, [
    'reaper: invalid value for --idle-timeout: "abc" (expected a duration like 500ms, 15s, 2m or 1h)',
  ]);
});

Deno.test("main() returns 2 for a --root that is not a directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = `${dir}/missing`;
    assertEquals((await capture(["--root", missing])).stderr, [
      `reaper: invalid value for --root: ${
        JSON.stringify(missing)
      } (no such directory)`,
    ]);
    const file = `${dir}/file.txt`;
    await Deno.writeTextFile(file, "x");
    const { code, stderr } = await capture(["--root", file]);
    assertEquals(code, 2);
    assertEquals(stderr, [
      `reaper: invalid value for --root: ${
        JSON.stringify(file)
      } (not a directory)`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main() returns 2 for a --cert file that cannot be read", async () => {
  const { code, stderr } = await capture([
    "--cert",
    "/nonexistent/cert.pem",
    "--key",
    "/nonexistent/key.pem",
  ]);
  assertEquals(code, 2);
  assertEquals(stderr, [
    'reaper: invalid value for --cert: "/nonexistent/cert.pem" (no such file)',
  ]);
});

Deno.test("main() returns 1 when the port is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const { code, stdout, stderr } = await capture([
    "--port",
    String(port),
    "--hostname",
    "127.0.0.1",
  ]);
  assertEquals(code, 1);
  assertEquals(stdout, []);
  assertEquals(stderr, [
    `reaper: cannot start the server on 127.0.0.1:${port}: the address is already in use`,
  ]);
});

/** `main()` running in this process, until `stop()`. */
interface InProcess {
  port: number;
  stdout: string[];
  stderr: string[];
  /** Shuts it down gracefully and returns the exit code. */
  stop(): Promise<number>;
}

async function startInProcess(args: string[]): Promise<InProcess> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const controller = new AbortController();
  let started!: () => void;
  const ready = new Promise<void>((resolve) => started = resolve);
  const done = main(["--port", "0", "--hostname", "127.0.0.1", ...args], {
    stdout: (line) => {
      stdout.push(line);
      if (line.startsWith("Engine: ")) started();
    },
    stderr: (line) => stderr.push(line),
    signal: controller.signal,
  });
  const code = await Promise.race([ready.then(() => undefined), done]);
  if (code !== undefined) {
    throw new Error(`main() returned ${code}: ${stderr.join("\n")}`);
  }
  return {
    port: Number(/:(\d+)\/$/.exec(stdout[0])![1]),
    stdout,
    stderr,
    stop() {
      controller.abort();
      return done;
    },
  };
}

Deno.test("main() serves, logs each request and stops on its signal", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/hello.txt`, "hello");
    // A file: URL works as well as a path.
    const reaper = await startInProcess(["--root", `file://${dir}/`]);
    const { port, stdout, stderr } = reaper;
    try {
      assertEquals(stdout[0], `Listening on http://127.0.0.1:${port}/`);
      assertMatch(stdout[1], /^Engine: (portable|native) \(.+\)$/);
      const res = await fetch(`http://127.0.0.1:${port}/hello.txt?q=1`, CLOSE);
      assertEquals(await res.text(), "hello");
      const missing = await fetch(`http://127.0.0.1:${port}/nope`, CLOSE);
      await missing.body?.cancel();
      assertEquals(missing.status, 404);
    } finally {
      assertEquals(await reaper.stop(), 0);
    }
    assertEquals(stderr, []);
    assertEquals(stdout.length, 4, stdout.join("\n"));
    assertMatch(
      stdout[2],
      /^GET \/hello\.txt\?q=1 200 5B \d+(\.\d\d)?ms 127\.0\.0\.1:\d+$/,
    );
    assertMatch(
      stdout[3],
      /^GET \/nope 404 (\d+B|-) \d+(\.\d\d)?ms 127\.0\.0\.1:\d+$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main() routes /_reaper/ to the dashboard unless --no-dashboard", async () => {
  const withDashboard = await startInProcess(["--quiet"]);
  try {
    const res = await fetch(
      `http://127.0.0.1:${withDashboard.port}/_reaper/stats`,
      CLOSE,
    );
    assertEquals(res.status, 200);
    const body = await res.json();
    assertEquals(typeof body.stats.accepted, "number");
  } finally {
    assertEquals(await withDashboard.stop(), 0);
  }
  const without = await startInProcess(["--quiet", "--no-dashboard"]);
  try {
    const res = await fetch(
      `http://127.0.0.1:${without.port}/_reaper/stats`,
      CLOSE,
    );
    await res.body?.cancel();
    assertEquals(res.status, 404);
    const page = await fetch(`http://127.0.0.1:${without.port}/`, CLOSE);
    assert((await page.text()).includes("<title>Reaper"));
  } finally {
    assertEquals(await without.stop(), 0);
  }
});

Deno.test("reaper --help exits 0", async () => {
  const { code, stdout, stderr } = await run(["--help"]);
  assertEquals(code, 0, stderr);
  assert(stdout.startsWith("reaper "), stdout);
  assert(stdout.includes("--idle-timeout"));
});

Deno.test("reaper --help works without deno.json (--no-config)", async () => {
  const { code, stdout, stderr } = await run(["--help"], [
    "--no-config",
    ...PERMISSIONS,
  ]);
  assertEquals(code, 0, stderr);
  assert(stdout.includes("Usage: reaper [flags]"), stdout);
});

Deno.test("reaper exits 2 with one line naming a bad flag", async () => {
  const unknown = await run(["--port", "0", "--idle", "5s"]);
  assertEquals(unknown.code, 2);
  assertEquals(unknown.stdout, "");
  assertEquals(
    unknown.stderr,
    'reaper: unknown flag "--idle" (see reaper --help)\n',
  );
  const bad = await run(["--port", "http"]);
  assertEquals(bad.code, 2);
  assertEquals(
    bad.stderr,
    'reaper: invalid value for --port: "http" (expected a port number from 0 to 65535)\n',
  );
});

Deno.test("reaper --reuse-port without --unstable-net says which flag it needs", async () => {
  const { code, stdout, stderr } = await run(["--port", "0", "--reuse-port"]);
  assertEquals(code, 2);
  assertEquals(stdout, "");
  assertEquals(stderr.split("\n").length, 2, stderr);
  assert(stderr.startsWith("reaper: --reuse-port needs"), stderr);
  assert(stderr.includes("--unstable-net"), stderr);
});

Deno.test("reaper --reuse-port lets two processes share a port", async () => {
  const flags = [...PERMISSIONS, "--unstable-net"];
  await using first = new Reaper(
    ["--port", "0", "--hostname", "127.0.0.1", "--reuse-port", "--quiet"],
    flags,
  );
  const port = await first.port();
  await using second = new Reaper(
    [
      "--port",
      String(port),
      "--hostname",
      "127.0.0.1",
      "--reuse-port",
      "--quiet",
    ],
    flags,
  );
  assertEquals(await second.port(), port);
  first.child.kill("SIGTERM");
  second.child.kill("SIGTERM");
  assertEquals((await first.exit()).code, 0);
  assertEquals((await second.exit()).code, 0);
});

Deno.test("reaper prints the listening line first, serves the demo site and exits 0 on SIGTERM", async () => {
  await using reaper = new Reaper(["--port", "0"]);
  const port = await reaper.port();
  assert(port > 0);
  assertEquals(reaper.lines[0], `Listening on http://0.0.0.0:${port}/`);
  const engine = await reaper.waitFor(/^Engine: /);
  assertEquals(reaper.lines[1], engine);
  assertMatch(engine, /^Engine: (portable|native) \(.+\)$/);

  const res = await fetch(`http://127.0.0.1:${port}/`, CLOSE);
  assertEquals(res.status, 200);
  assertMatch(res.headers.get("content-type") ?? "", /^text\/html/);
  assert((await res.text()).includes("<title>Reaper"));
  await reaper.waitFor(/^GET \/ 200 \d+B [\d.]+ms 127\.0\.0\.1:\d+$/);

  reaper.child.kill("SIGTERM");
  const { code, stderr } = await reaper.exit();
  assertEquals(code, 0, stderr);
});

Deno.test("reaper --shutdown-delay goes on serving after SIGTERM, and --ready-path says 503 from the signal on", async () => {
  await using reaper = new Reaper([
    "--port",
    "0",
    "--hostname",
    "127.0.0.1",
    "--quiet",
    "--shutdown-delay",
    "3s",
    "--ready-path",
    "/healthz",
  ]);
  const port = await reaper.port();
  await reaper.waitFor(/^Engine: /);
  const ready = await fetch(`http://127.0.0.1:${port}/healthz`, CLOSE);
  assertEquals([ready.status, await ready.text()], [200, "ready\n"]);
  reaper.child.kill("SIGTERM");
  // Every answer is an event: ask until the signal has been taken (the
  // delay is far longer than a round trip).
  let status = 200;
  for (let i = 0; i < 5_000 && status === 200; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, CLOSE);
    await res.body?.cancel();
    status = res.status;
  }
  assertEquals(status, 503);
  // Still accepting and serving during the delay, with Connection: close.
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assertEquals(page.status, 200);
  assertEquals(page.headers.get("connection"), "close");
  await page.body?.cancel();
  assertEquals((await reaper.exit()).code, 0);
});

Deno.test("reaper --quiet logs no requests, and SIGINT exits 0", async () => {
  await using reaper = new Reaper([
    "--port",
    "0",
    "--hostname",
    "127.0.0.1",
    "--quiet",
  ]);
  const port = await reaper.port();
  await reaper.waitFor(/^Engine: /);
  const res = await fetch(`http://127.0.0.1:${port}/`, CLOSE);
  await res.body?.cancel();
  reaper.child.kill("SIGINT");
  assertEquals((await reaper.exit()).code, 0);
  assertEquals(reaper.lines.length, 2, reaper.lines.join("\n"));
});

Deno.test("reaper finishes a slow in-flight response after SIGTERM, then exits 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // More than the loopback socket buffers hold.
    const size = 32 * 1024 * 1024;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = i % 251;
    await Deno.writeFile(`${dir}/big.bin`, data);
    await using reaper = new Reaper([
      "--port",
      "0",
      "--hostname",
      "127.0.0.1",
      "--root",
      dir,
    ]);
    const port = await reaper.port();
    await reaper.waitFor(/^Engine: /);

    const res = await fetch(`http://127.0.0.1:${port}/big.bin`, CLOSE);
    assertEquals(res.status, 200);
    const reader = res.body!.getReader();
    let received = 0;
    const first = await reader.read();
    received += first.value?.byteLength ?? 0;
    assert(received < size, "the response is still in flight");

    reaper.child.kill("SIGTERM");
    // The client keeps reading slowly; the drain must wait for it.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const state = await Promise.race([
      reaper.child.status.then(() => "exited"),
      new Promise((resolve) => timer = setTimeout(resolve, 200, "running")),
    ]);
    clearTimeout(timer);
    assertEquals(state, "running", "the server waits for the response");
    let check = 0;
    let offset = received;
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let i = 0; i < value.byteLength; i += 4099) {
        check += value[i] === (offset + i) % 251 ? 0 : 1;
      }
      offset += value.byteLength;
      received += value.byteLength;
    }
    assertEquals(received, size);
    assertEquals(check, 0);
    const { code, stderr } = await reaper.exit();
    assertEquals(code, 0, stderr);
    await reaper.waitFor(/^GET \/big\.bin 200 33554432B [\d.]+ms /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const engine of ["portable", "native"] as const) {
  Deno.test(`reaper logs an idle keep-alive connection it closes (${engine} engine)`, async () => {
    await using reaper = new Reaper([
      "--port",
      "0",
      "--hostname",
      "127.0.0.1",
      "--idle-timeout",
      "300ms",
      "--tick",
      "50ms",
      "--engine",
      engine,
    ]);
    const port = await reaper.port();
    await reaper.waitFor(/^Engine: /);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const { text, silentMs } = await getUntilClosed(conn, "/style.css");
      assertMatch(text, /^HTTP\/1\.1 200 /);
      assert(silentMs >= 250, `closed ${silentMs} ms after the response`);
    } finally {
      conn.close();
    }
    const localPort = (conn.localAddr as Deno.NetAddr).port;
    const line = await reaper.waitFor(/: idle timeout after /);
    const match = new RegExp(
      `^closed 127\\.0\\.0\\.1:${localPort} #\\d+: idle timeout after (\\d+\\.\\d+)s idle$`,
    ).exec(line);
    if (match === null) throw new Error(`Unexpected line: ${line}`);
    assert(Number(match[1]) >= 0.3, line);
    reaper.child.kill("SIGTERM");
    assertEquals((await reaper.exit()).code, 0);
  });
}

Deno.test({
  name: "reaper --cert --key serves HTTPS and says https in the first line",
  ignore: !hasCommand("openssl"),
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await writeSelfSigned(dir);
      await using reaper = new Reaper([
        "--port",
        "0",
        "--hostname",
        "127.0.0.1",
        "--cert",
        `${dir}/cert.pem`,
        "--key",
        `${dir}/key.pem`,
      ]);
      const port = await reaper.port();
      assertEquals(reaper.lines[0], `Listening on https://127.0.0.1:${port}/`);
      await reaper.waitFor(/^Engine: /);
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts: [await Deno.readTextFile(`${dir}/cert.pem`)],
      });
      // Reading the whole stream closes the connection.
      await conn.write(
        new TextEncoder().encode(
          "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ),
      );
      assertMatch(
        await new Response(conn.readable).text(),
        /^HTTP\/1\.1 200 /,
      );
      reaper.child.kill("SIGTERM");
      assertEquals((await reaper.exit()).code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("reaper logs a connection whose request head is too slow", async () => {
  await using reaper = new Reaper([
    "--port",
    "0",
    "--hostname",
    "127.0.0.1",
    "--header-timeout",
    "200ms",
    "--tick",
    "50ms",
  ]);
  const port = await reaper.port();
  await reaper.waitFor(/^Engine: /);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHo"));
    // The server gives up on the head: it answers 408 or just closes.
    const buffer = new Uint8Array(1024);
    while ((await conn.read(buffer).catch(() => null)) !== null) {
      // Drain until closed.
    }
  } finally {
    conn.close();
  }
  const localPort = (conn.localAddr as Deno.NetAddr).port;
  const line = await reaper.waitFor(/: header timeout after /);
  assertMatch(
    line,
    new RegExp(
      `^closed 127\\.0\\.0\\.1:${localPort} #\\d+: header timeout after \\d+\\.\\d+s idle$`,
    ),
  );
  reaper.child.kill("SIGTERM");
  assertEquals((await reaper.exit()).code, 0);
});

Deno.test("reaper runs from an http: URL without deno.json and serves its demo site", async () => {
  // This checkout, served over HTTP as a remote module would be.
  const repo = new URL(".", import.meta.url);
  const files = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (req) => {
      const path = new URL(req.url).pathname.slice(1);
      if (!/^[\w./-]+$/.test(path) || path.includes("..")) {
        return new Response(null, { status: 404 });
      }
      try {
        const body = await Deno.readFile(new URL(path, repo));
        const type = path.endsWith(".json")
          ? "application/json"
          : path.endsWith(".ts")
          ? "application/typescript"
          : path.endsWith(".html")
          ? "text/html"
          : "application/octet-stream";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response(null, { status: 404 });
      }
    },
  );
  try {
    const url = `http://127.0.0.1:${files.addr.port}/main.ts`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--reload=http://127.0.0.1",
        ...PERMISSIONS,
        url,
        "--port",
        "0",
        "--hostname",
        "127.0.0.1",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    });
    await using reaper = new Reaper([], [], child);
    const port = await reaper.port();
    await reaper.waitFor(/^Engine: /);
    const res = await fetch(`http://127.0.0.1:${port}/`, CLOSE);
    assertEquals(res.status, 200);
    assert((await res.text()).includes("<title>Reaper"));
    reaper.child.kill("SIGTERM");
    const { code, stderr } = await reaper.exit();
    assertEquals(code, 0, stderr);
  } finally {
    await files.shutdown();
  }
});

Deno.test("main() passes --max-connections to the server", async () => {
  const reaper = await startInProcess(["--max-connections", "1", "--quiet"]);
  try {
    using first = await Deno.connect({
      hostname: "127.0.0.1",
      port: reaper.port,
    });
    // Once the first connection has been answered it is surely counted; it
    // stays open, kept alive and idle.
    await first.write(
      new TextEncoder().encode("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    assertMatch(await readResponse(first), /^HTTP\/1\.1 404 /);
    using second = await Deno.connect({
      hostname: "127.0.0.1",
      port: reaper.port,
    });
    await second.write(
      new TextEncoder().encode(
        "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      ),
    );
    // At the limit of one, the idle first connection makes room.
    const answer = await new Response(second.readable).text().catch(() => "");
    assertMatch(answer, /^HTTP\/1\.1 404 /);
    assertEquals(await new Response(first.readable).text().catch(() => ""), "");
  } finally {
    assertEquals(await reaper.stop(), 0);
  }
});

Deno.test("main() passes --shutdown-timeout: a stalled response is cut", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/big.bin`, new Uint8Array(32 * 1024 * 1024));
    const reaper = await startInProcess([
      "--root",
      dir,
      "--shutdown-timeout",
      "200ms",
      "--quiet",
    ]);
    const res = await fetch(`http://127.0.0.1:${reaper.port}/big.bin`);
    const reader = res.body!.getReader();
    await reader.read();
    // The client stops reading; without the flag the drain would wait for
    // the default shutdownTimeout, 10 s.
    const stopped = reaper.stop();
    assert(
      await settlesWithin(stopped, 8_000),
      "the drain waited for the default shutdownTimeout",
    );
    assertEquals(await stopped, 0);
    await reader.cancel().catch(() => {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
