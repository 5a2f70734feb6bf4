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
    maxConnections: DEFAULTS.maxConnections,
    maxRequestsPerConnection: DEFAULTS.maxRequestsPerConnection,
  });
});

Deno.test("resolveOptions() fills in the server defaults", () => {
  const resolved = resolveOptions({});
  assertEquals(resolved.listen, {
    port: 8000,
    hostname: "0.0.0.0",
    reusePort: false,
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
