// Copyright 2026 the Reaper authors. MIT license.
// Option checks: every bad option throws at once, naming the option and
// quoting the value.
import { assertEquals, assertThrows } from "@std/assert";
import { DEFAULTS, resolveLifetime, resolveOptions } from "./_options.ts";
import { defaultOnError } from "./_engine.ts";

Deno.test("resolveLifetime() rejects bad timeouts and counts with the value quoted", () => {
  assertThrows(
    () => resolveLifetime({ idleTimeout: -1 }),
    RangeError,
    "Cannot set idleTimeout: value must be a finite number >= 0, received -1",
  );
  assertThrows(
    () => resolveLifetime({ tickInterval: 0 }),
    RangeError,
    "Cannot set tickInterval: value must be a finite number >= 1, received 0",
  );
  assertThrows(
    () => resolveLifetime({ headerTimeout: NaN }),
    RangeError,
    "received NaN",
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => resolveLifetime({ requestTimeout: "5s" as any }),
    TypeError,
    'Cannot set requestTimeout: value must be a finite number >= 0, received "5s"',
  );
  assertThrows(
    () => resolveLifetime({ maxConnections: 1.5 }),
    RangeError,
    "Cannot set maxConnections: value must be an integer, received 1.5",
  );
});

Deno.test("resolveLifetime() fills in the defaults", () => {
  assertEquals(resolveLifetime({}), {
    idleTimeout: DEFAULTS.idleTimeout,
    headerTimeout: DEFAULTS.headerTimeout,
    requestTimeout: DEFAULTS.requestTimeout,
    tickInterval: DEFAULTS.tickInterval,
    shutdownTimeout: DEFAULTS.shutdownTimeout,
    shutdownGrace: DEFAULTS.shutdownGrace,
    shutdownDelay: DEFAULTS.shutdownDelay,
    maxConnections: DEFAULTS.maxConnections,
    maxConnectionsPerClient: DEFAULTS.maxConnectionsPerClient,
    pressure: false,
    maxRequestsPerConnection: DEFAULTS.maxRequestsPerConnection,
  });
});

Deno.test("resolveOptions() fills in the server defaults", () => {
  const resolved = resolveOptions({});
  assertEquals(resolved.listen, {
    transport: "tcp",
    port: 8000,
    hostname: "0.0.0.0",
    reusePort: false,
    tcpBacklog: 511,
    tls: undefined,
  });
  assertEquals(resolved.engine, "auto");
  assertEquals(resolved.maxHeaderSize, 16384);
  assertEquals(resolved.signals, true);
  assertEquals(resolved.onError, defaultOnError);
});

Deno.test("resolveOptions() rejects each bad server option by name", () => {
  const cases: [Record<string, unknown>, ErrorConstructor, string][] = [
    [{ port: 70000 }, RangeError, "Cannot set port"],
    [{ port: 1.5 }, RangeError, "received 1.5"],
    [
      { hostname: 1 },
      TypeError,
      "Cannot set hostname: value must be a string, received 1",
    ],
    [
      { reusePort: "yes" },
      TypeError,
      'Cannot set reusePort: value must be a boolean, received "yes"',
    ],
    [{ signals: 0 }, TypeError, "Cannot set signals"],
    [
      { onListen: "log" },
      TypeError,
      "Cannot set onListen: value must be a function",
    ],
    [{ onError: {} }, TypeError, "Cannot set onError"],
    [{ onConnectionState: 1 }, TypeError, "Cannot set onConnectionState"],
    [
      { signal: {} },
      TypeError,
      "Cannot set signal: value must be an AbortSignal",
    ],
    [
      { engine: "fast" },
      TypeError,
      'Cannot set engine: value must be "auto", "portable" or "native", received "fast"',
    ],
    [
      { maxHeaderSize: 100 },
      RangeError,
      "Cannot set maxHeaderSize: value must be a finite number >= 256, received 100",
    ],
    [
      { maxHeaderSize: 1000.5 },
      RangeError,
      "Cannot set maxHeaderSize: value must be an integer",
    ],
    [
      { cert: "PEM" },
      TypeError,
      "Cannot serve HTTPS: both cert and key are required",
    ],
    [
      { key: 5 },
      TypeError,
      "Cannot set key: value must be a string, received 5",
    ],
  ];
  for (const [options, kind, message] of cases) {
    assertThrows(() => resolveOptions(options), kind, message);
  }
});

Deno.test("resolveOptions() listens on a Unix socket when the options have a path", () => {
  const unix = { transport: "unix", path: "/run/app.sock" };
  assertEquals(resolveOptions({ path: "/run/app.sock" }).listen, unix);
  assertEquals(
    resolveOptions({ transport: "unix", path: "/run/app.sock" }).listen,
    unix,
  );
  // `transport: "tcp"` with no path given is TCP, even with the key there.
  assertEquals(
    resolveOptions({ transport: "tcp", path: undefined }).listen.transport,
    "tcp",
  );
  assertEquals(
    resolveOptions({ port: 0, tcpBacklog: 1, keyFormat: "pem" }).listen,
    {
      transport: "tcp",
      port: 0,
      hostname: "0.0.0.0",
      reusePort: false,
      tcpBacklog: 1,
      tls: undefined,
    },
  );
});

Deno.test("resolveOptions() rejects every listen option it cannot honour by name", () => {
  const cases: [Record<string, unknown>, ErrorConstructor, string][] = [
    [
      { path: "" },
      TypeError,
      'Cannot set path: value must be a non-empty string, received ""',
    ],
    [
      { path: 5 },
      TypeError,
      "Cannot set path: value must be a non-empty string, received 5",
    ],
    // An own `path` property chooses a Unix socket, as in Deno.serve: an
    // undefined one is an error, not a silent fallback to TCP port 8000.
    [
      { path: undefined },
      TypeError,
      "Cannot set path: value must be a non-empty string, received undefined",
    ],
    [
      { transport: "unix" },
      TypeError,
      'Cannot set transport: "unix" needs a path, received "unix" without one',
    ],
    [
      { transport: "tcp", path: "/run/app.sock" },
      TypeError,
      'Cannot set path: it does not apply to transport "tcp", received "/run/app.sock"',
    ],
    [
      { transport: "vsock", cid: 3, port: 80 },
      TypeError,
      "Cannot set cid: VSOCK is not supported, received 3",
    ],
    [
      { transport: "vsock", port: 80 },
      TypeError,
      'Cannot set transport: VSOCK is not supported, received "vsock"',
    ],
    [
      { transport: "udp" },
      TypeError,
      'Cannot set transport: value must be "tcp" or "unix", received "udp"',
    ],
    [
      { path: "/run/app.sock", port: 8080 },
      TypeError,
      "Cannot set port: it does not apply to a Unix socket (path is set), received 8080",
    ],
    [
      { path: "/run/app.sock", hostname: "127.0.0.1" },
      TypeError,
      'Cannot set hostname: it does not apply to a Unix socket (path is set), received "127.0.0.1"',
    ],
    [
      { path: "/run/app.sock", reusePort: false },
      TypeError,
      "Cannot set reusePort: it does not apply to a Unix socket (path is set), received false",
    ],
    [
      { path: "/run/app.sock", tcpBacklog: 16 },
      TypeError,
      "Cannot set tcpBacklog: it does not apply to a Unix socket (path is set), received 16",
    ],
    // A certificate or key is never quoted: it would end up in logs.
    [
      { path: "/run/app.sock", cert: "PEM CERT", key: "PEM KEY" },
      TypeError,
      "Cannot set cert: it does not apply to a Unix socket (path is set), received a string",
    ],
    [
      { path: "/run/app.sock", key: "PEM KEY" },
      TypeError,
      "Cannot set key: it does not apply to a Unix socket (path is set), received a string",
    ],
    [
      { path: "/run/app.sock", keyFormat: "pem" },
      TypeError,
      'Cannot set keyFormat: it does not apply to a Unix socket (path is set), received "pem"',
    ],
    [
      { tcpBacklog: 0 },
      RangeError,
      "Cannot set tcpBacklog: value must be an integer from 1 to 2147483647, received 0",
    ],
    [
      { tcpBacklog: 1.5 },
      RangeError,
      "Cannot set tcpBacklog: value must be an integer from 1 to 2147483647, received 1.5",
    ],
    [
      { tcpBacklog: 2 ** 31 },
      RangeError,
      "Cannot set tcpBacklog: value must be an integer from 1 to 2147483647, received 2147483648",
    ],
    [
      { tcpBacklog: "64" },
      TypeError,
      'Cannot set tcpBacklog: value must be an integer from 1 to 2147483647, received "64"',
    ],
    [
      { keyFormat: "der" },
      TypeError,
      'Cannot set keyFormat: value must be "pem", received "der"',
    ],
    [
      { certFile: "cert.pem" },
      TypeError,
      'Cannot set certFile: unsupported option, pass the PEM text as cert instead, received "cert.pem"',
    ],
    [
      { keyFile: "key.pem" },
      TypeError,
      'Cannot set keyFile: unsupported option, pass the PEM text as key instead, received "key.pem"',
    ],
    [
      { alpnProtocols: ["h2"] },
      TypeError,
      'Cannot set alpnProtocols: unsupported option, the engine offers the protocols it speaks (h2 and http/1.1, or http/1.1 only), received ["h2"]',
    ],
  ];
  for (const [options, kind, message] of cases) {
    assertThrows(() => resolveOptions(options), kind, message);
  }
});
