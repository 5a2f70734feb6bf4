#!/usr/bin/env -S deno run --allow-all
// Copyright 2026 the Reaper authors. MIT license.
/**
 * The dashboard's browser test: a real headless Chromium watches a real
 * connection appear on `/_reaper/`, go idle and get reaped.
 *
 * ```sh
 * deno task e2e             # against the reaper CLI (main.ts)
 * deno task e2e --fixture   # against e2e/_fixture_server.ts
 * ```
 *
 * It installs Debian's `chromium` with apt-get when `/usr/bin/chromium` is
 * missing, starts the server as a child process with a 3 s idle timeout,
 * opens the dashboard, opens a raw keep-alive connection that sends one
 * request and then nothing, and checks that the page lists the connection
 * with its timer, that the server closes it on time, that the page drops it
 * and counts one more idle close. The page's own event stream must show no
 * timer (it is exempt from the idle timeout). It saves `e2e/dashboard_listed.png` while
 * the connection is listed and `e2e/dashboard.png` after it was reaped, and
 * a narrow-window screenshot `e2e/dashboard_narrow.png`. It exits with `0`
 * when every check passed and `1` otherwise, and leaves nothing running.
 *
 * @module
 */

import { type Browser, chromium, type Page } from "npm:playwright-core@1.65.1";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const IDLE_TIMEOUT_MS = 3_000;
const TICK_MS = 250;
/** The whole run must finish within this, or it fails. */
const DEADLINE_MS = 120_000;
const HERE = new URL(".", import.meta.url);
const ROOT = new URL("..", import.meta.url);

/**
 * The little of the page's DOM that the checks below use. Functions passed to
 * `page.evaluate()` run in the browser; they reach `document` through
 * `globalThis` because this file is type-checked without the DOM library.
 */
interface PageDocument {
  documentElement: { scrollWidth: number; clientWidth: number };
  getElementById(id: string): { textContent: string | null } | null;
  querySelector(
    selector: string,
  ): {
    getBoundingClientRect(): { width: number };
    textContent: string | null;
  } | null;
  querySelectorAll(selector: string): { length: number };
}
type PageGlobals = { document: PageDocument };

function log(message: string): void {
  console.log(`e2e: ${message}`);
}

class Check {
  failures: string[] = [];
  ok(condition: boolean, what: string): void {
    if (condition) log(`ok   ${what}`);
    else {
      log(`FAIL ${what}`);
      this.failures.push(what);
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<void> {
  const { code } = await new Deno.Command(cmd, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}`);
}

async function ensureChromium(): Promise<void> {
  if (await exists(CHROMIUM)) return;
  log(`${CHROMIUM} is missing: installing Debian's chromium with apt-get`);
  await run("apt-get", ["update", "-qq"]);
  await run("apt-get", ["install", "-y", "-qq", "chromium"]);
  if (!(await exists(CHROMIUM))) throw new Error(`${CHROMIUM} still missing`);
}

/** The server under test: a child process and its output, line by line. */
class ServerProcess {
  #child: Deno.ChildProcess;
  lines: string[] = [];
  #waiters: Array<() => void> = [];
  #pumps: Promise<void>[];

  constructor(fixture: boolean) {
    const script = fixture ? "e2e/_fixture_server.ts" : "main.ts";
    const args = [
      "run",
      "--allow-net",
      "--allow-read",
      script,
      "--port",
      "0",
      "--idle-timeout",
      `${IDLE_TIMEOUT_MS / 1000}s`,
      "--tick",
      `${TICK_MS}ms`,
    ];
    log(`starting deno ${args.join(" ")}`);
    this.#child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#pumps = [
      this.#pump(this.#child.stdout, ""),
      this.#pump(this.#child.stderr, "stderr: "),
    ];
  }

  async #pump(stream: ReadableStream<Uint8Array>, tag: string): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of stream) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) !== -1) {
        this.lines.push(tag + buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        for (const wake of this.#waiters.splice(0)) wake();
      }
    }
    if (buffer) this.lines.push(tag + buffer);
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves with the first stdout line. */
  async firstLine(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const line = this.lines.find((l) => !l.startsWith("stderr: "));
      if (line !== undefined) return line;
      const status = await Promise.race([
        new Promise<void>((resolve) => this.#waiters.push(resolve)).then(() =>
          "line"
        ),
        this.#child.status.then(() => "exit"),
        sleep(deadline - Date.now()).then(() => "timeout"),
      ]);
      if (status === "exit") break;
    }
    throw new Error(
      `The server printed no first line:\n${this.lines.join("\n")}`,
    );
  }

  /** Stops the server with SIGTERM (SIGKILL after 5 s) and waits for it. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, 5_000);
    const status = await this.#child.status;
    clearTimeout(timer);
    await Promise.all(this.#pumps);
    return status;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Reads from `conn` until `predicate` holds for what was read, or EOF. */
async function readUntil(
  conn: Deno.Conn,
  predicate: (text: string) => boolean,
): Promise<{ text: string; eof: boolean }> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  while (!predicate(text)) {
    const n = await conn.read(buffer);
    if (n === null) return { text, eof: true };
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return { text, eof: false };
}

async function counter(page: Page, id: string): Promise<number> {
  const text = await page.textContent(`#${id}`);
  return Number((text ?? "").replace(/,/g, ""));
}

async function main(): Promise<number> {
  const fixture = Deno.args.includes("--fixture");
  const check = new Check();
  await ensureChromium();

  const server = new ServerProcess(fixture);
  let browser: Browser | undefined;
  let conn: Deno.Conn | undefined;
  try {
    const first = await server.firstLine(30_000);
    const match = /^Listening on http:\/\/(.+):(\d+)\/$/.exec(first);
    check.ok(
      match !== null,
      `first stdout line is "Listening on http://HOST:PORT/" (got "${first}")`,
    );
    if (match === null) return 1;
    const port = Number(match[2]);
    const base = `http://127.0.0.1:${port}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    });
    const page = await browser.newPage({
      viewport: { width: 1100, height: 900 },
    });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });

    const redirect = await fetch(`${base}/_reaper`, { redirect: "manual" });
    await redirect.body?.cancel();
    check.ok(
      redirect.status === 301 &&
        redirect.headers.get("location") === "/_reaper/",
      `GET /_reaper answers 301 to /_reaper/ (${redirect.status})`,
    );
    const stats = await fetch(`${base}/_reaper/stats`);
    const json = await stats.json().catch(() => null);
    check.ok(
      stats.status === 200 && json !== null &&
        typeof json.stats?.accepted === "number" &&
        Array.isArray(json.connections) && typeof json.now === "number",
      "GET /_reaper/stats answers { stats, connections, now }",
    );

    const response = await page.goto(`${base}/_reaper/`);
    check.ok(response?.status() === 200, "GET /_reaper/ answers 200");
    await page.waitForSelector('#live[data-live="true"]', { timeout: 10_000 });
    check.ok(true, "the page receives the event stream (live)");

    // Wait until the browser's own keep-alive connections have been reaped:
    // then the only connection left is the page's event stream, which has no
    // timer, and every idle close that follows is ours.
    const settled = await page.waitForFunction(
      () => {
        const { document } = globalThis as unknown as PageGlobals;
        return document.querySelectorAll("[data-conn-id]").length === 1 &&
          document.querySelector('[data-conn-id][data-timer="none"]') !== null;
      },
      undefined,
      { timeout: IDLE_TIMEOUT_MS + 5_000 },
    ).then(() => true, () => false);
    check.ok(
      settled,
      "the page's own event stream is listed with no timer, alone",
    );

    // One request on a raw keep-alive connection, then silence.
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const remote = `127.0.0.1:${(conn.localAddr as Deno.NetAddr).port}`;
    await conn.write(
      new TextEncoder().encode(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`,
      ),
    );
    const head = await readUntil(conn, (t) => t.includes("\r\n\r\n"));
    const lastByteAt = performance.now();
    check.ok(
      /^HTTP\/1\.1 \d{3} /.test(head.text) && !head.eof,
      `the raw connection ${remote} got a response and stays open`,
    );

    const row = `[data-conn-id][data-remote="${remote}"]`;
    await page.waitForSelector(`${row}[data-state="idle"]`, {
      timeout: 5_000,
    });
    const id = await page.getAttribute(row, "data-conn-id");
    const label = await page.textContent(`${row} .left`);
    check.ok(
      /\d( ms| s) left · idle timeout$/.test(label ?? ""),
      `the page lists ${remote} as #${id}, idle, with its timer ("${label}")`,
    );
    check.ok(
      (await page.getAttribute(row, "data-timer")) === "idle",
      'its row names the timer in force (data-timer "idle")',
    );
    // A pooled keep-alive connection of ours would idle and be reaped too,
    // and spoil the idle count below: this client keeps none.
    using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    const listed = await (await fetch(`${base}/_reaper/stats`, { client }))
      .json();
    const info = listed.connections.find((c: { id: number }) =>
      String(c.id) === id
    );
    check.ok(
      info?.timer === "idle" && info?.timeoutMs === IDLE_TIMEOUT_MS,
      `the JSON gives its timer and full duration (${info?.timer}, ${info?.timeoutMs} ms)`,
    );
    // The bar is the share left of the timer: fill / track = time left / 3 s.
    const bar = await page.evaluate((selector) => {
      const { document } = globalThis as unknown as PageGlobals;
      const fill = document.querySelector(`${selector} .fill`);
      const track = document.querySelector(`${selector} .track`);
      return {
        share: (fill?.getBoundingClientRect().width ?? 0) /
          (track?.getBoundingClientRect().width ?? 1),
        label: document.querySelector(`${selector} .left`)?.textContent ?? "",
      };
    }, row);
    const m = /^([\d.]+) (ms|s) left/.exec(bar.label);
    const leftMs = m ? Number(m[1]) * (m[2] === "s" ? 1000 : 1) : NaN;
    check.ok(
      Math.abs(bar.share - leftMs / IDLE_TIMEOUT_MS) < 0.06,
      `its bar is the share of the timer left (${
        (bar.share * 100).toFixed(1)
      } % of the track, "${bar.label}" of ${IDLE_TIMEOUT_MS / 1000} s)`,
    );
    const fillWidth = (): Promise<number> =>
      page.evaluate(
        (selector) => {
          const { document } = globalThis as unknown as PageGlobals;
          return document.querySelector(selector)?.getBoundingClientRect()
            .width ?? 0;
        },
        `${row} .fill`,
      );
    const widthBefore = await fillWidth();
    await sleep(600);
    const widthAfter = await fillWidth();
    check.ok(
      widthAfter < widthBefore,
      `its bar shrinks toward expiry (${widthBefore.toFixed(0)} px → ${
        widthAfter.toFixed(0)
      } px)`,
    );
    const idleBefore = await counter(page, "closed-idle");
    await page.screenshot({
      path: new URL("dashboard_listed.png", HERE).pathname,
      fullPage: true,
    });
    log("saved e2e/dashboard_listed.png");

    // The server must close it once the idle timeout has run out.
    const rest = await Promise.race([
      readUntil(conn, () => false),
      sleep(IDLE_TIMEOUT_MS + 5_000).then(() => null),
    ]);
    const closedAfter = performance.now() - lastByteAt;
    check.ok(
      rest !== null && rest.eof,
      `the server closed ${remote} after ${
        (closedAfter / 1000).toFixed(2)
      } s of silence (idle timeout ${IDLE_TIMEOUT_MS / 1000} s)`,
    );
    check.ok(
      closedAfter >= IDLE_TIMEOUT_MS - TICK_MS &&
        closedAfter <= IDLE_TIMEOUT_MS + 4 * TICK_MS + 1_000,
      "it was closed on time, not early",
    );

    await page.waitForSelector(`[data-conn-id="${id}"]`, {
      state: "detached",
      timeout: 5_000,
    }).then(
      () => check.ok(true, `the page dropped #${id} from the list`),
      () => check.ok(false, `the page dropped #${id} from the list`),
    );
    await page.waitForFunction(
      (before) => {
        const { document } = globalThis as unknown as PageGlobals;
        const text = document.getElementById("closed-idle")?.textContent;
        return Number((text ?? "").replace(/,/g, "")) > before;
      },
      idleBefore,
      { timeout: 5_000 },
    ).catch(() => undefined);
    const idleAfter = await counter(page, "closed-idle");
    check.ok(
      idleAfter === idleBefore + 1,
      `the idle counter went up by one (${idleBefore} → ${idleAfter})`,
    );
    const leaving = await page.getAttribute(
      `[data-gone-id="${id}"]`,
      "data-reason",
      { timeout: 1_000 },
    )
      .catch(() => null);
    check.ok(
      leaving === "idle",
      `the leaving row says why it closed (data-reason "${leaving}")`,
    );
    const logLine = server.lines.find((l) => l.includes(`#${id}`));
    if (logLine) log(`server log: ${logLine}`);

    await sleep(200);
    await page.screenshot({
      path: new URL("dashboard.png", HERE).pathname,
      fullPage: true,
    });
    log("saved e2e/dashboard.png");

    await page.setViewportSize({ width: 390, height: 800 });
    await sleep(300);
    const overflow = await page.evaluate(() => {
      const { document } = globalThis as unknown as PageGlobals;
      return document.documentElement.scrollWidth -
        document.documentElement.clientWidth;
    });
    check.ok(overflow <= 0, `no sideways scrolling at 390 px (${overflow} px)`);
    await page.screenshot({
      path: new URL("dashboard_narrow.png", HERE).pathname,
      fullPage: true,
    });
    log("saved e2e/dashboard_narrow.png");

    check.ok(
      pageErrors.length === 0,
      `no script errors on the page${
        pageErrors.length ? `: ${pageErrors.join("; ")}` : ""
      }`,
    );
  } catch (error) {
    check.ok(false, `unexpected error: ${String(error)}`);
  } finally {
    try {
      conn?.close();
    } catch {
      // The server closed it already.
    }
    await browser?.close();
    const status = await server.stop();
    check.ok(
      status.success || status.signal === "SIGTERM",
      `the server stopped (code ${status.code})`,
    );
  }
  if (check.failures.length > 0) {
    log(`${check.failures.length} check(s) failed`);
    for (const line of server.lines.slice(-20)) log(`server: ${line}`);
    return 1;
  }
  log("all checks passed");
  return 0;
}

if (import.meta.main) {
  const timer = setTimeout(() => {
    log(`FAIL the run took longer than ${DEADLINE_MS / 1000} s`);
    Deno.exit(1);
  }, DEADLINE_MS);
  const code = await main();
  clearTimeout(timer);
  Deno.exit(code);
}
