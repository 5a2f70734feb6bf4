// Copyright 2026 the Reaper authors. MIT license.
/**
 * A tiny server for the dashboard's browser test when the `reaper` CLI is
 * not at hand: `serve()` with the dashboard in front of a hello handler.
 *
 * ```sh
 * deno run --allow-net e2e/_fixture_server.ts --port 0 --idle-timeout 3s --tick 250ms
 * ```
 *
 * Like the CLI, it prints `Listening on http://HOST:PORT/` first and drains
 * on SIGTERM or SIGINT.
 *
 * @module
 */

import { createDashboard, serve } from "../mod.ts";

/** Parses `500ms`, `3s`, `2m` or a bare number of seconds into milliseconds. */
function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (match === null) {
    throw new RangeError(`Cannot parse duration: received "${text}"`);
  }
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  return Math.round(
    value * (unit === "ms" ? 1 : unit === "s" ? 1_000 : 60_000),
  );
}

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i === -1 || i + 1 >= args.length ? fallback : args[i + 1];
}

if (import.meta.main) {
  const args = Deno.args;
  const server = serve({
    port: Number(flag(args, "--port", "0")),
    hostname: flag(args, "--hostname", "127.0.0.1"),
    idleTimeout: parseDuration(flag(args, "--idle-timeout", "3s")),
    tickInterval: parseDuration(flag(args, "--tick", "250ms")),
  }, (req, info) =>
    dashboard(req, info) ??
      new Response("Hello from the dashboard fixture\n", {
        headers: { "content-type": "text/plain; charset=utf-8" },
      }));
  const dashboard = createDashboard(server);
  await server.finished;
}
