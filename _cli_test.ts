// Copyright 2026 the Reaper authors. MIT license.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  formatAccessLog,
  formatAddr,
  formatListening,
  formatTimeoutLog,
  isTimeoutReason,
  MAX_DURATION_MS,
  parseArgs,
  parseDuration,
  usage,
  UsageError,
  VERSION,
} from "./_cli.ts";

const V4: Deno.NetAddr = {
  transport: "tcp",
  hostname: "127.0.0.1",
  port: 4000,
};
const V6: Deno.NetAddr = { transport: "tcp", hostname: "::1", port: 4001 };

function usageMessage(args: string[]): string {
  const error = assertThrows(() => parseArgs(args), UsageError);
  assert(!error.message.includes("\n"), "the message is one line");
  return error.message;
}

Deno.test("parseDuration() reads every unit and bare seconds", () => {
  assertEquals(parseDuration("500ms"), 500);
  assertEquals(parseDuration("15s"), 15_000);
  assertEquals(parseDuration("2m"), 120_000);
  assertEquals(parseDuration("1h"), 3_600_000);
  assertEquals(parseDuration("15"), 15_000);
  assertEquals(parseDuration("0"), 0);
  assertEquals(parseDuration("0ms"), 0);
  assertEquals(parseDuration("007s"), 7_000);
});

Deno.test("parseDuration() takes fractions and rounds up to whole ms", () => {
  assertEquals(parseDuration("1.5"), 1_500);
  assertEquals(parseDuration(".25s"), 250);
  assertEquals(parseDuration("0.5m"), 30_000);
  assertEquals(parseDuration("1.5ms"), 2);
  assertEquals(parseDuration("0.0001s"), 1, "a non-zero value stays non-zero");
  assertEquals(parseDuration("0.000"), 0);
});

Deno.test("parseDuration() rejects every malformed form", () => {
  for (
    const bad of [
      "",
      " ",
      "abc",
      "ms",
      "s",
      "-1",
      "-1s",
      "+1s",
      "1x",
      "1sec",
      "1S",
      "1MS",
      "1 s",
      " 1s",
      "1s ",
      "1.",
      "1..5",
      "1.5.5",
      ".",
      "1e3",
      "Infinity",
      "NaN",
      "0x10",
      "1d",
      "1s2",
      "1_000",
      "١",
    ]
  ) {
    assertEquals(parseDuration(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("parseArgs() gives the defaults for no arguments", () => {
  assertEquals(parseArgs([]), {
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
  });
});

Deno.test("parseArgs() reads every flag, spaced and with =", () => {
  const spaced = parseArgs([
    "--port",
    "0",
    "--hostname",
    "::1",
    "--root",
    "/srv/www",
    "--idle-timeout",
    "300ms",
    "--header-timeout",
    "5s",
    "--request-timeout",
    "1m",
    "--tick",
    "50ms",
    "--shutdown-timeout",
    "0",
    "--max-connections",
    "1000",
    "--max-connections-per-client",
    "20",
    "--shutdown-delay",
    "5s",
    "--ready-path",
    "/healthz",
    "--reuse-port",
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
    "--engine",
    "portable",
    "--no-dashboard",
    "--quiet",
  ]);
  assertEquals(spaced, {
    help: false,
    version: false,
    port: 0,
    hostname: "::1",
    root: "/srv/www",
    idleTimeout: 300,
    headerTimeout: 5_000,
    requestTimeout: 60_000,
    tickInterval: 50,
    shutdownTimeout: 0,
    maxConnections: 1000,
    maxConnectionsPerClient: 20,
    shutdownDelay: 5_000,
    readyPath: "/healthz",
    reusePort: true,
    cert: "c.pem",
    key: "k.pem",
    engine: "portable",
    dashboard: false,
    quiet: true,
  });
  const withEquals = parseArgs([
    "--port=0",
    "--hostname=::1",
    "--root=/srv/www",
    "--idle-timeout=300ms",
    "--header-timeout=5s",
    "--request-timeout=1m",
    "--tick=50ms",
    "--shutdown-timeout=0",
    "--max-connections=1000",
    "--max-connections-per-client=20",
    "--shutdown-delay=5s",
    "--ready-path=/healthz",
    "--reuse-port",
    "--cert=c.pem",
    "--key=k.pem",
    "--engine=portable",
    "--no-dashboard",
    "--quiet",
  ]);
  assertEquals(withEquals, spaced);
});

Deno.test("parseArgs() lets a later flag override an earlier one", () => {
  const options = parseArgs(["--port", "1", "--port=2", "--engine", "native"]);
  assertEquals(options.port, 2);
  assertEquals(options.engine, "native");
});

Deno.test("parseArgs() keeps = inside a value and takes a value after =", () => {
  assertEquals(parseArgs(["--root=a=b"]).root, "a=b");
  assertEquals(parseArgs(["--root=--odd"]).root, "--odd");
  assertEquals(parseArgs(["--root", "-dash"]).root, "-dash");
});

Deno.test("parseArgs() reads --help, -h and --version", () => {
  assert(parseArgs(["--help"]).help);
  assert(parseArgs(["-h"]).help);
  assert(parseArgs(["--version"]).version);
  assert(!parseArgs(["--version"]).help);
});

Deno.test("parseArgs() accepts the port range ends", () => {
  assertEquals(parseArgs(["--port", "0"]).port, 0);
  assertEquals(parseArgs(["--port", "65535"]).port, 65_535);
  assertEquals(parseArgs(["--max-connections", "0"]).maxConnections, 0);
});

Deno.test("parseArgs() names the flag and the value of a bad duration", () => {
  assertEquals(
    usageMessage(["--idle-timeout", "abc"]),
    'invalid value for --idle-timeout: "abc" (expected a duration like 500ms, 15s, 2m or 1h)',
  );
  for (
    const flag of [
      "--idle-timeout",
      "--header-timeout",
      "--request-timeout",
      "--tick",
      "--shutdown-timeout",
    ]
  ) {
    for (const bad of ["-1", "1x", "", "1e3", "5 s"]) {
      const message = usageMessage([`${flag}=${bad}`]);
      assert(
        message.startsWith(
          `invalid value for ${flag}: ${JSON.stringify(bad)} (`,
        ),
        message,
      );
    }
  }
});

Deno.test("parseArgs() rejects a duration too long for a timer", () => {
  assertEquals(
    parseArgs(["--idle-timeout", `${MAX_DURATION_MS}ms`]).idleTimeout,
    MAX_DURATION_MS,
  );
  assertEquals(
    usageMessage(["--idle-timeout", `${MAX_DURATION_MS + 1}ms`]),
    'invalid value for --idle-timeout: "2147483648ms" (expected at most 24 days)',
  );
  assertEquals(
    usageMessage(["--header-timeout", "9".repeat(400)]),
    `invalid value for --header-timeout: "${
      "9".repeat(400)
    }" (expected at most 24 days)`,
  );
});

Deno.test("parseArgs() rejects a zero --tick but not a zero timeout", () => {
  assertEquals(
    usageMessage(["--tick", "0"]),
    'invalid value for --tick: "0" (expected a duration above 0, like 50ms)',
  );
  assertEquals(parseArgs(["--idle-timeout", "0"]).idleTimeout, 0);
  assertEquals(parseArgs(["--header-timeout", "0s"]).headerTimeout, 0);
});

Deno.test("parseArgs() rejects bad ports, counts and engines", () => {
  for (const bad of ["65536", "-1", "80.5", "http", "", "0x50", " 80", "1e3"]) {
    assertEquals(
      usageMessage([`--port=${bad}`]),
      `invalid value for --port: ${
        JSON.stringify(bad)
      } (expected a port number from 0 to 65535)`,
    );
  }
  for (const bad of ["-1", "1.5", "lots", "2147483648", "99999999999"]) {
    assertEquals(
      usageMessage([`--max-connections=${bad}`]),
      `invalid value for --max-connections: ${
        JSON.stringify(bad)
      } (expected a whole number, 0 for unlimited)`,
    );
  }
  assertEquals(
    usageMessage(["--engine", "fast"]),
    'invalid value for --engine: "fast" (expected auto, portable or native)',
  );
});

Deno.test("parseArgs() rejects empty text values", () => {
  for (const flag of ["--hostname", "--root", "--cert", "--key"]) {
    assertEquals(
      usageMessage([`${flag}=`]),
      `invalid value for ${flag}: "" (expected a non-empty value)`,
    );
  }
});

Deno.test("parseArgs() reports a missing value", () => {
  assertEquals(usageMessage(["--port"]), "missing value for --port");
  assertEquals(
    usageMessage(["--idle-timeout", "--quiet"]),
    "missing value for --idle-timeout",
  );
});

Deno.test("parseArgs() rejects unknown flags and stray arguments", () => {
  assertEquals(
    usageMessage(["--prot", "80"]),
    'unknown flag "--prot" (see reaper --help)',
  );
  assertEquals(
    usageMessage(["--prot=80"]),
    'unknown flag "--prot" (see reaper --help)',
  );
  assertEquals(usageMessage(["-p"]), 'unknown flag "-p" (see reaper --help)');
  assertEquals(
    usageMessage(["--toString"]),
    'unknown flag "--toString" (see reaper --help)',
  );
  assertEquals(
    usageMessage(["--__proto__=1"]),
    'unknown flag "--__proto__" (see reaper --help)',
  );
  assertEquals(
    usageMessage(["www"]),
    'unexpected argument "www" (see reaper --help)',
  );
  assertEquals(
    usageMessage(["--quiet=yes"]),
    'invalid value for --quiet: "yes" (this flag takes no value)',
  );
});

Deno.test("parseArgs() quotes control characters so the message stays one line", () => {
  assertEquals(
    usageMessage(["--port", "8\n0"]),
    'invalid value for --port: "8\\n0" (expected a port number from 0 to 65535)',
  );
});

Deno.test("parseArgs() wants --cert and --key together", () => {
  assertEquals(
    usageMessage(["--cert", "c.pem"]),
    "--cert needs --key too (give both or neither)",
  );
  assertEquals(
    usageMessage(["--key", "k.pem"]),
    "--key needs --cert too (give both or neither)",
  );
});

Deno.test("VERSION is deno.json's version", async () => {
  const denoJson = JSON.parse(
    await Deno.readTextFile(new URL("./deno.json", import.meta.url)),
  );
  assertEquals(VERSION, denoJson.version);
  assert(/^\d+\.\d+\.\d+/.test(VERSION));
});

Deno.test("usage() names every flag that parseArgs() takes", () => {
  const text = usage();
  for (
    const flag of [
      "--port",
      "--hostname",
      "--root",
      "--idle-timeout",
      "--header-timeout",
      "--request-timeout",
      "--tick",
      "--shutdown-timeout",
      "--max-connections",
      "--max-connections-per-client",
      "--shutdown-delay",
      "--ready-path",
      "--reuse-port",
      "--cert",
      "--key",
      "--engine",
      "--no-dashboard",
      "--quiet",
      "--help",
      "--version",
    ]
  ) {
    assert(text.includes(flag), flag);
    if (flag !== "--help" && flag !== "--version") {
      // Every flag listed in the help is one the parser knows.
      try {
        parseArgs([flag, "1"]);
      } catch (error) {
        assert(
          !(error as Error).message.startsWith("unknown flag"),
          (error as Error).message,
        );
      }
    }
  }
  assert(text.includes(VERSION));
});

Deno.test("formatAddr() brackets IPv6 hosts", () => {
  assertEquals(formatAddr(V4), "127.0.0.1:4000");
  assertEquals(formatAddr(V6), "[::1]:4001");
});

Deno.test("formatListening() writes the URL with the real port", () => {
  assertEquals(
    formatListening(
      { transport: "tcp", hostname: "0.0.0.0", port: 8000 },
      false,
    ),
    "Listening on http://0.0.0.0:8000/",
  );
  assertEquals(formatListening(V6, true), "Listening on https://[::1]:4001/");
});

Deno.test("formatAccessLog() writes method, path, status, bytes, ms and client", () => {
  assertEquals(
    formatAccessLog({
      method: "GET",
      path: "/index.html?x=1",
      status: 200,
      bytes: 1234,
      ms: 1.234,
      remoteAddr: V4,
    }),
    "GET /index.html?x=1 200 1234B 1.23ms 127.0.0.1:4000",
  );
  assertEquals(
    formatAccessLog({
      method: "HEAD",
      path: "/",
      status: 304,
      bytes: undefined,
      ms: 152.6,
      remoteAddr: V6,
      aborted: true,
    }),
    "HEAD / 304 - 153ms [::1]:4001 aborted",
  );
});

Deno.test("formatAccessLog() keeps a line one line", () => {
  const line = formatAccessLog({
    method: "GET",
    path: "/a b\nc\r\x00\x7f",
    status: 404,
    bytes: 0,
    ms: 0,
    remoteAddr: V4,
  });
  assertEquals(line, "GET /a%20b%0Ac%0D%00%7F 404 0B 0.00ms 127.0.0.1:4000");
});

Deno.test("formatTimeoutLog() writes the client, reason and idle seconds", () => {
  assertEquals(
    formatTimeoutLog({ id: 3, remoteAddr: V4, reason: "idle", idleMs: 312 }),
    "closed 127.0.0.1:4000 #3: idle timeout after 0.31s idle",
  );
  assertEquals(
    formatTimeoutLog({
      id: 9,
      remoteAddr: V6,
      reason: "headerTimeout",
      idleMs: 20_040,
    }),
    "closed [::1]:4001 #9: header timeout after 20.0s idle",
  );
  assertEquals(
    formatTimeoutLog({
      id: 1,
      remoteAddr: V4,
      reason: "requestTimeout",
      idleMs: 0,
    }),
    "closed 127.0.0.1:4000 #1: request timeout after 0.00s idle",
  );
});

Deno.test("isTimeoutReason() picks only the timeouts", () => {
  assert(isTimeoutReason("idle"));
  assert(isTimeoutReason("headerTimeout"));
  assert(isTimeoutReason("requestTimeout"));
  for (
    const other of [
      "maxConnections",
      "shutdown",
      "client",
      "done",
      "error",
      "toString",
      undefined,
    ]
  ) {
    assert(!isTimeoutReason(other), String(other));
  }
});

Deno.test("parseArgs() rejects a --ready-path that is not a path", () => {
  for (const bad of ["healthz", "", "/a b"]) {
    assertThrows(
      () => parseArgs(["--ready-path", bad]),
      UsageError,
      `invalid value for --ready-path: ${JSON.stringify(bad)}`,
    );
  }
});
