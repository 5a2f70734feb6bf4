// Copyright 2026 the Reaper authors. MIT license.
/**
 * Reaper: an HTTP server for Deno with connection lifetime control.
 *
 * `Deno.serve` has no idle, keep-alive or header-read timeout and gives no
 * handle on a connection, so an idle keep-alive connection, a silent one and
 * a slowloris trickle all stay open for as long as the client likes. Reaper
 * accepts connections itself, keeps a timer for each in sorted timer lists,
 * and closes every such connection on time, each under its own rule:
 *
 * - `idleTimeout`: no byte in either direction for this long;
 * - `headerTimeout`: the request head took this long to arrive;
 * - `requestTimeout`: the whole request took this long;
 *
 * and stops gracefully on SIGTERM without dropping a request. Handlers have
 * the `Deno.serve` shape. WebSockets work on both engines through
 * {@linkcode upgradeWebSocket}, `Deno.upgradeWebSocket()`'s twin.
 *
 * @example Serve with a 5 s idle timeout, then shut down
 * ```ts
 * import { serve } from "./mod.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const server = serve(
 *   { port: 0, idleTimeout: 5_000, onListen() {} },
 *   (req) => new Response(`Hello from ${new URL(req.url).pathname}`),
 * );
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/reaper`);
 * assertEquals(await res.text(), "Hello from /reaper");
 * await server.shutdown();
 * ```
 *
 * @module
 */

export {
  type LifetimeOptions,
  type PressureOptions,
  serve,
  type ServeOptions,
  type Server,
  type ServeUnixOptions,
} from "./server.ts";
export type {
  CloseReason,
  ConnectionInfo,
  ConnectionState,
  ConnectionStateEvent,
  ServeHandler,
  ServeHandlerInfo,
  ServerStats,
} from "./types.ts";
export { serveDir, type ServeDirOptions } from "./file_server.ts";
export {
  upgradeWebSocket,
  type UpgradeWebSocketOptions,
  type WebSocketUpgrade,
} from "./websocket.ts";
export {
  createDashboard,
  type DashboardOptions,
  type DashboardSource,
} from "./dashboard.ts";
