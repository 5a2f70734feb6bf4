// Copyright 2026 the Reaper authors. MIT license.
import { assertEquals, assertThrows } from "@std/assert";
import { onSignals, shutdownSignals } from "./signals.ts";

Deno.test("shutdownSignals() names SIGTERM and SIGINT, and what Windows delivers there", () => {
  assertEquals(shutdownSignals("linux"), ["SIGTERM", "SIGINT"]);
  assertEquals(shutdownSignals("darwin"), ["SIGTERM", "SIGINT"]);
  assertEquals(shutdownSignals("windows"), ["SIGINT", "SIGBREAK"]);
});

Deno.test({
  name: "onSignals() calls the listener per delivery until removed",
  ignore: Deno.build.os === "windows",
  async fn() {
    const seen: string[] = [];
    // Signal listeners do not keep the event loop alive; this timer does.
    const keepAlive = setTimeout(() => {}, 5_000);
    let delivered!: () => void;
    let wait = new Promise<void>((r) => delivered = r);
    const remove = onSignals(["SIGUSR2"], (signal) => {
      seen.push(signal);
      delivered();
    });
    Deno.kill(Deno.pid, "SIGUSR2");
    await wait;
    wait = new Promise<void>((r) => delivered = r);
    Deno.kill(Deno.pid, "SIGUSR2");
    await wait;
    remove();
    remove(); // idempotent
    clearTimeout(keepAlive);
    assertEquals(seen, ["SIGUSR2", "SIGUSR2"]);
  },
});

Deno.test("onSignals() rejects a signal it cannot listen to and installs nothing", () => {
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => onSignals(["SIGUSR2", "SIGNOPE" as any], () => {}),
    TypeError,
    "SIGNOPE",
  );
  // SIGKILL cannot be caught.
  assertThrows(() => onSignals(["SIGKILL"], () => {}), TypeError, "SIGKILL");
});
