// Copyright 2026 the Reaper authors. MIT license.
/**
 * {@linkcode upgradeWebSocket}: `Deno.upgradeWebSocket()` for both of
 * Reaper's engines.
 *
 * On the native engine (and for any request Reaper's portable engine did
 * not make, such as one of `Deno.serve`) it is `Deno.upgradeWebSocket()`:
 * the runtime's WebSocket. On the portable engine the connection is
 * Reaper's own, so the WebSocket is too: RFC 6455 written here
 * (`_websocket.ts`, `_websocket_wire.ts`), with the handshake checks,
 * masking, fragmentation, control frames between fragments, ping/pong,
 * close codes and the closing handshake, UTF-8 checks of text, a maximum
 * message size, a bounded send buffer and Deno's heartbeat. No extension
 * is offered (no permessage-deflate).
 *
 * @module
 */

import { type SessionOptions, upgradePortable } from "./_websocket.ts";

/** Options of {@linkcode upgradeWebSocket}; those of `Deno.upgradeWebSocket()` and more. */
export interface UpgradeWebSocketOptions {
  /**
   * The subprotocol to accept. It must be one of those the client offered
   * in `Sec-WebSocket-Protocol`, else the upgrade throws. None by default.
   */
  protocol?: string;
  /**
   * The heartbeat, in seconds: after about half of it without a frame from
   * the client a ping is sent, and when no frame follows within another
   * half the socket closes with `1001` ("No response from ping frame."),
   * firing `error` and then `close`. `0` disables it. On the portable
   * engine the ping goes out after between one half and the whole of it,
   * and the close never comes before the whole of it without a frame.
   *
   * @default {30}
   */
  idleTimeout?: number;
  /**
   * The largest message accepted from the client, in bytes (all fragments
   * together); a larger one closes the socket with `1009`. Portable engine
   * only: the runtime has its own limit (64 MiB).
   *
   * @default {67108864}
   */
  maxMessageSize?: number;
  /**
   * The most bytes that `send()` may have queued while the client does not
   * read (`bufferedAmount`). A send beyond it, while something is queued,
   * drops the connection: `error` ("Send buffer full"), then `close` with
   * `1006`. A single message of any size can always be queued. Portable
   * engine only: the runtime queues without bound.
   *
   * @default {16777216}
   */
  maxBufferedAmount?: number;
}

/** What {@linkcode upgradeWebSocket} returns, as `Deno.upgradeWebSocket()` does. */
export interface WebSocketUpgrade {
  /** The socket; it opens once the handler has returned `response`. */
  socket: WebSocket;
  /** The `101 Switching Protocols` response the handler must return. */
  response: Response;
}

function check(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < min) {
    const kind = typeof value === "number" ? RangeError : TypeError;
    throw new kind(
      `Cannot set ${name}: value must be a number >= ${min}, received ${
        typeof value === "string" ? JSON.stringify(value) : String(value)
      }`,
    );
  }
  return value;
}

/**
 * Upgrades a request to a WebSocket, on either engine of Reaper: the same
 * signature and result as `Deno.upgradeWebSocket()`. Return `response`
 * from the handler; the socket opens once it is sent.
 *
 * On the native engine, and for a request that Reaper's portable engine did
 * not make, this calls `Deno.upgradeWebSocket()`, and `socket` is the
 * runtime's. On the portable engine `socket` is Reaper's own: it has every
 * member and event of `WebSocket` (`readyState`, `binaryType`, which is
 * `"arraybuffer"` by default as on the runtime's server sockets,
 * `bufferedAmount`, `protocol`, `extensions` (always `""`), `url` (`""`),
 * `send()`, `close()`, `onopen`/`onmessage`/`onerror`/`onclose`, with
 * `MessageEvent`, `ErrorEvent` and `CloseEvent`), but it is not an
 * `instanceof WebSocket`. Upgrade from a synchronous handler where you can:
 * on the native engine the runtime closes many sockets upgraded by `async`
 * handlers (see the README).
 *
 * @param request The handler's request.
 * @param options The subprotocol, the heartbeat and the limits.
 * @returns The socket, and the `101` response for the handler to return.
 * @throws {TypeError} If the request is no valid WebSocket handshake (no
 * `Upgrade: websocket`, no `Connection: Upgrade`, a missing or malformed
 * `Sec-WebSocket-Key`, a `Sec-WebSocket-Version` other than 13, a method
 * other than GET, a `protocol` the client did not offer), or was upgraded
 * already.
 * @throws {RangeError} If an option is out of range.
 *
 * @example Echo server on either engine
 * ```ts
 * import { serve, upgradeWebSocket } from "./mod.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const server = serve({ port: 0, engine: "portable", onListen() {} }, (req) => {
 *   const { socket, response } = upgradeWebSocket(req);
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return response;
 * });
 * const client = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
 * const echoed = new Promise((resolve) => client.onmessage = (e) => resolve(e.data));
 * client.onopen = () => client.send("hello");
 * assertEquals(await echoed, "hello");
 * const closed = new Promise((resolve) => client.onclose = resolve);
 * client.close();
 * await closed;
 * await server.shutdown();
 * ```
 */
export function upgradeWebSocket(
  request: Request,
  options: UpgradeWebSocketOptions = {},
): WebSocketUpgrade {
  const idleTimeout = check("idleTimeout", options.idleTimeout ?? 30, 0);
  const settings: SessionOptions = {
    protocol: options.protocol ?? "",
    idleTimeout: idleTimeout * 1000,
    maxMessageSize: check(
      "maxMessageSize",
      options.maxMessageSize ?? 64 * 1024 * 1024,
      1,
    ),
    maxBufferedAmount: check(
      "maxBufferedAmount",
      options.maxBufferedAmount ?? 16 * 1024 * 1024,
      1,
    ),
  };
  const portable = upgradePortable(request, settings);
  if (portable !== null) return portable;
  const runtime: Deno.UpgradeWebSocketOptions = { idleTimeout };
  if (options.protocol !== undefined) runtime.protocol = options.protocol;
  return Deno.upgradeWebSocket(request, runtime);
}
