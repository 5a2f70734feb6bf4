// Copyright 2026 the Reaper authors. MIT license.
// A server environment's clock and timers on @sinonjs/fake-timers, shared by
// the tests that drive a server on a fake clock.
import FakeTimers from "npm:@sinonjs/fake-timers@15";
import type { ServerEnvironment } from "../server.ts";

/** A fake clock, at 0 until a test moves it. */
export type FakeClock = ReturnType<typeof FakeTimers.createClock>;

/** Makes a fake clock, at 0. */
export function createFakeClock(): FakeClock {
  return FakeTimers.createClock(0);
}

/**
 * The environment's timers on `clock`: `every`, `after` and `cancel`, and
 * `now` reading it (with `onRead` called at each read, to count them).
 */
export function fakeTimers(
  clock: FakeClock,
  onRead?: () => void,
): Pick<ServerEnvironment, "now" | "every" | "after" | "cancel"> {
  type Timer = { interval: boolean; id: unknown };
  return {
    now: () => (onRead?.(), clock.now),
    every: (fn, ms): Timer => ({
      interval: true,
      id: clock.setInterval(fn, ms),
    }),
    after: (fn, ms): Timer => ({
      interval: false,
      id: clock.setTimeout(fn, ms),
    }),
    cancel(timer) {
      const t = timer as Timer | undefined;
      if (t === undefined) return;
      // deno-lint-ignore no-explicit-any
      if (t.interval) clock.clearInterval(t.id as any);
      // deno-lint-ignore no-explicit-any
      else clock.clearTimeout(t.id as any);
    },
  };
}
