// Copyright 2026 the Reaper authors. MIT license.
/**
 * Wires the process's termination signals to a callback.
 *
 * The server turns each signal into an event on its internal channel; the
 * main loop starts a graceful shutdown on the first one and closes every
 * connection on the second. This file only installs and removes the
 * listeners.
 *
 * @module
 */

/** The signals a server listens to on this platform. */
export function shutdownSignals(
  os: typeof Deno.build.os = Deno.build.os,
): Deno.Signal[] {
  // Windows delivers only SIGINT (Ctrl-C) and SIGBREAK (Ctrl-Break) to Deno.
  return os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGTERM", "SIGINT"];
}

/**
 * Calls `listener` whenever the process receives one of `signals`.
 *
 * While the listeners are installed, the signals no longer end the process
 * by themselves: the caller decides what they do.
 *
 * @param signals The signals to listen to.
 * @param listener Called with the signal's name, once per delivery.
 * @returns A function that removes every listener it installed; calling it
 * again does nothing.
 * @throws {TypeError} If a signal is not supported on this platform; any
 * listener installed before it is removed again.
 *
 * @example Listen to SIGTERM until told to stop
 * ```ts
 * import { onSignals } from "./signals.ts";
 *
 * const stop = onSignals(["SIGTERM"], (signal) => console.log(signal));
 * stop();
 * ```
 */
export function onSignals(
  signals: readonly Deno.Signal[],
  listener: (signal: Deno.Signal) => void,
): () => void {
  const installed: [Deno.Signal, () => void][] = [];
  const remove = () => {
    for (const [signal, handler] of installed.splice(0)) {
      try {
        Deno.removeSignalListener(signal, handler);
      } catch {
        // Already gone (the runtime is shutting down): nothing to undo.
      }
    }
  };
  try {
    for (const signal of signals) {
      const handler = () => listener(signal);
      Deno.addSignalListener(signal, handler);
      installed.push([signal, handler]);
    }
  } catch (error) {
    remove();
    throw new TypeError(
      `Cannot listen to signals ${JSON.stringify(signals)}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  return remove;
}
