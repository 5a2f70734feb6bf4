// Copyright 2026 the Reaper authors. MIT license.
// A server's connection state events, from its `onConnectionState` hook, so
// that a test waits for what the server did instead of for a while; shared
// by the server tests.
import type { ConnectionStateEvent } from "../types.ts";

/** Records the events and resolves waits on them. */
export class StateLog {
  /** Every event so far, in order. */
  readonly events: ConnectionStateEvent[] = [];
  #waiters: {
    match: (event: ConnectionStateEvent) => boolean;
    resolve: (event: ConnectionStateEvent) => void;
  }[] = [];

  /** The `onConnectionState` option that feeds the log. */
  readonly hook = (event: ConnectionStateEvent): void => {
    this.events.push(event);
    this.#waiters = this.#waiters.filter(({ match, resolve }) => {
      if (!match(event)) return true;
      resolve(event);
      return false;
    });
  };

  /** The first event, past or future, that matches. */
  next(
    match: (event: ConnectionStateEvent) => boolean,
  ): Promise<ConnectionStateEvent> {
    const seen = this.events.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /**
   * The `"closed"` event of connection number `target`, or of the server
   * side of the client's TCP connection `target`.
   */
  closed(target: number | Deno.Conn): Promise<ConnectionStateEvent> {
    if (typeof target === "number") {
      return this.next((e) => e.state === "closed" && e.id === target);
    }
    const port = (target.localAddr as Deno.NetAddr).port;
    return this.next((e) =>
      e.state === "closed" && (e.remoteAddr as Deno.NetAddr).port === port
    );
  }

  /** The reasons of the closes recorded so far. */
  reasons(): (string | undefined)[] {
    return this.events.filter((e) => e.state === "closed").map((e) => e.reason);
  }

  /** The id of the `n`-th connection accepted (from 0). */
  async opened(n: number): Promise<number> {
    let seen = -1;
    return (await this.next((e) => e.state === "new" && ++seen === n)).id;
  }
}
