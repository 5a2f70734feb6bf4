// Copyright 2026 the Reaper authors. MIT license.
/**
 * Public types shared by the server, its engines and its tools.
 *
 * @module
 */

/**
 * Where a connection is in its life, as reported by {@linkcode ServerStats}
 * and the `onConnectionState` hook.
 *
 * - `"new"`: accepted; no byte of a request has arrived yet.
 * - `"reading"`: part of a request head has arrived; waiting for the rest.
 * - `"active"`: the head is complete and the handler runs (it may be reading
 *   the request body).
 * - `"writing"`: the handler returned; the response is being sent.
 * - `"idle"`: a keep-alive connection between two requests.
 * - `"closed"`: gone; the {@linkcode CloseReason} says why.
 */
export type ConnectionState =
  | "new"
  | "reading"
  | "active"
  | "writing"
  | "idle"
  | "closed";

/**
 * Why a connection was closed.
 *
 * - `"idle"`: `idleTimeout` ran out (no byte in either direction).
 * - `"headerTimeout"`: the request head did not arrive within `headerTimeout`.
 * - `"requestTimeout"`: the request was not done within `requestTimeout`.
 * - `"maxConnections"`: refused because `maxConnections` were open and none
 *   of them was waiting to be evicted.
 * - `"maxConnectionsPerClient"`: refused because the client had
 *   `maxConnectionsPerClient` open and none of them was waiting.
 * - `"evicted"`: closed while waiting without a request (idle, or silent
 *   since accept), the longest such, to make room for a new connection at
 *   `maxConnections` or `maxConnectionsPerClient`, or when accepting
 *   failed for lack of file descriptors.
 * - `"shutdown"`: closed by a graceful shutdown or by `signal`.
 * - `"client"`: the client closed it (or reset it).
 * - `"done"`: the server ended it after a response, as HTTP asked
 *   (`Connection: close`, HTTP/1.0, `maxRequestsPerConnection`).
 * - `"error"`: a protocol error (a malformed request) or an I/O error.
 */
export type CloseReason =
  | "idle"
  | "headerTimeout"
  | "requestTimeout"
  | "maxConnections"
  | "maxConnectionsPerClient"
  | "evicted"
  | "shutdown"
  | "client"
  | "done"
  | "error";

/**
 * Information about a request, passed to a {@linkcode ServeHandler}.
 *
 * @typeParam Addr The kind of address: `Deno.NetAddr` for a server on TCP,
 * `Deno.UnixAddr` for one on a Unix domain socket (option `path`).
 */
export interface ServeHandlerInfo<
  Addr extends Deno.NetAddr | Deno.UnixAddr = Deno.NetAddr,
> {
  /**
   * The address of the client. On a Unix domain socket, where a client has
   * no address of its own, it is `{ transport: "unix", path }` with the
   * server's socket path, as `Deno.serve` reports it.
   */
  readonly remoteAddr: Addr;
  /** Settles when the response has been sent, or the request failed. */
  readonly completed: Promise<void>;
  /**
   * Overrides `idleTimeout` and `requestTimeout` for this request only, for
   * long-lived responses such as Server-Sent Events or long polls. A
   * positive `ms` becomes both the stall limit (no byte for `ms`) and the
   * limit of the whole request, counted from its start (not from the call).
   * A call after the response was sent does nothing.
   *
   * @param ms The stall and request timeout for this request in
   * milliseconds; `0` lets the response take as long as it needs and stall
   * for as long as it likes (until the client goes away or the server shuts
   * down).
   * @throws {RangeError} If `ms` is negative or not finite.
   * @throws {TypeError} If `ms` is not a number.
   */
  setTimeout(ms: number): void;
}

/**
 * A request handler, shaped like the one `Deno.serve` takes.
 *
 * @typeParam Addr The kind of address in `info.remoteAddr` (see
 * {@linkcode ServeHandlerInfo}).
 * @param request The request.
 * @param info Information about the request.
 * @returns The response.
 */
export type ServeHandler<
  Addr extends Deno.NetAddr | Deno.UnixAddr = Deno.NetAddr,
> = (
  request: Request,
  info: ServeHandlerInfo<Addr>,
) => Response | Promise<Response>;

/**
 * One open connection, as the connection table sees it.
 */
export interface ConnectionInfo {
  /** A number unique within the server. */
  readonly id: number;
  /**
   * The address of the client; on a Unix domain socket
   * `{ transport: "unix", path }` with the server's socket path.
   */
  readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  /** The state the connection is in. */
  readonly state: ConnectionState;
  /** How long the connection has been open, in milliseconds. */
  readonly ageMs: number;
  /** Milliseconds since the last byte in either direction (or event). */
  readonly idleMs: number;
  /**
   * Milliseconds until the connection's timer runs out, or `null` when no
   * timeout applies to it in its state.
   */
  readonly remainingMs: number | null;
  /**
   * The full duration of that timer in milliseconds (so `remainingMs /
   * timeoutMs` is the share left), or `null` when no timer runs.
   */
  readonly timeoutMs: number | null;
  /** Which timeout that timer enforces, or `null` when none runs. */
  readonly timer: "idle" | "headerTimeout" | "requestTimeout" | null;
  /** Requests started on this connection. */
  readonly requests: number;
  /**
   * Requests open on it now: at most 1 on HTTP/1.1, one per open stream on
   * HTTP/2.
   */
  readonly streams: number;
}

/** Counters and gauges of a server. */
export interface ServerStats {
  /** The engine that serves connections. */
  readonly engine: "portable" | "native";
  /** Open connections by state. */
  readonly open: {
    readonly total: number;
    readonly new: number;
    readonly reading: number;
    readonly active: number;
    readonly writing: number;
    readonly idle: number;
  };
  /** Connections accepted since the server started. */
  readonly accepted: number;
  /** Requests started since the server started. */
  readonly requests: number;
  /** Requests open now, over every connection (HTTP/2: open streams). */
  readonly streams: number;
  /** Open connections upgraded to WebSockets. */
  readonly webSockets: number;
  /**
   * The idle and header timeouts in force, in milliseconds: the options'
   * values, or less under `pressure` (as of the last tick).
   */
  readonly effective: {
    readonly idleTimeout: number;
    readonly headerTimeout: number;
  };
  /** Connections closed since the server started, by reason. */
  readonly closed: Readonly<Record<CloseReason, number>>;
  /** Whether a graceful shutdown is under way or done. */
  readonly shuttingDown: boolean;
}

/** A change of a connection's state, passed to `onConnectionState`. */
export interface ConnectionStateEvent {
  /** The connection's number, unique within the server. */
  readonly id: number;
  /**
   * The client's address; on a Unix domain socket
   * `{ transport: "unix", path }` with the server's socket path.
   */
  readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  /** The state the connection entered. */
  readonly state: ConnectionState;
  /** Why it closed; set only when `state` is `"closed"`. */
  readonly reason?: CloseReason;
  /**
   * For a `"closed"` event, milliseconds since the last byte in either
   * direction (the native engine: since the last request event); `0` for
   * the other states.
   */
  readonly idleMs: number;
}
