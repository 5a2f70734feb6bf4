// Copyright 2026 the Reaper authors. MIT license.
/**
 * Which engine serves a server's connections, and why: the one place that
 * names the engines. `"portable"` and `"native"` are taken as asked;
 * `"auto"` runs the native engine's self-check and falls back to the
 * portable engine when it fails.
 *
 * @module
 */

import type { Engine } from "./_engine.ts";
import { createPortableEngine, type PortableOptions } from "./_portable.ts";
import {
  createNativeEngine,
  findServeHttpOnConnection,
  probeNativeEngine,
} from "./_native.ts";

/** The engine chosen and the reason, as `Server.engineReason` gives it. */
export interface EngineChoice {
  /** The engine. */
  readonly engine: Engine;
  /** Why it serves, in words. */
  readonly why: string;
}

/** The checked options that the engines take: all of the portable engine's. */
export type EngineOptions = Readonly<Required<PortableOptions>>;

/**
 * Chooses the engine. The check that the native engine exists, when it is
 * asked for, runs before this returns, so that `serve()` fails at once.
 *
 * @param choice The `engine` option.
 * @param options The checked options the engines take.
 * @returns The engine and why, once chosen (after the self-check for
 * `"auto"`).
 * @throws {TypeError} If `"native"` is asked for and the runtime lacks it.
 */
export function selectEngine(
  choice: "auto" | "portable" | "native",
  options: EngineOptions,
): Promise<EngineChoice> {
  const portable = () => createPortableEngine(options);
  const native = () =>
    createNativeEngine({ automaticCompression: options.automaticCompression });
  if (choice !== "auto") {
    return Promise.resolve({
      engine: choice === "portable" ? portable() : native(),
      why: "chosen by the engine option",
    });
  }
  return probeNativeEngine().then((probe) =>
    probe.ok
      ? {
        engine: native(),
        why: "the runtime's HTTP entry point passed the self-check",
      }
      : {
        engine: portable(),
        why: `the native engine is unavailable: ${probe.reason}`,
      }
  );
}

/**
 * The protocols an engine speaks, as a TLS listener offers them (ALPN): the
 * native engine HTTP/2 and HTTP/1.1 (as `Deno.serve` offers them), the
 * portable engine HTTP/1.1 only.
 *
 * @param name The engine's name.
 * @returns The ALPN protocol ids, preferred first.
 */
export function alpnProtocols(name: Engine["name"]): string[] {
  return name === "native" ? ["h2", "http/1.1"] : ["http/1.1"];
}

/**
 * The engine that a choice will most likely give, known at once: for
 * `"auto"`, native when the runtime's entry point has the right shape (the
 * self-check that follows may still fall back to portable).
 *
 * @param choice The `engine` option.
 * @returns The engine's name.
 */
export function likelyEngine(
  choice: "auto" | "portable" | "native",
): Engine["name"] {
  if (choice !== "auto") return choice;
  return typeof findServeHttpOnConnection() === "function"
    ? "native"
    : "portable";
}
