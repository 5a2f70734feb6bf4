// Copyright 2026 the Reaper authors. MIT license.
/**
 * A sorted, doubly linked list of timers: the `sort_timer_lst` of
 * TinyWebServer (`add_timer`, `adjust_timer`, `del_timer`, `tick`), made fast
 * for the way a server uses it and general over the payload it carries.
 *
 * A {@linkcode TimerNode} carries a value (for Reaper, a connection) and sits
 * in at most one {@linkcode TimerList} at a time, ordered by its deadline in
 * milliseconds, soonest first. Nodes with equal deadlines keep the order in
 * which they were put in. The list keeps no clock: every time is an argument.
 *
 * **How a server uses it.** Keep one list per timeout duration (one for the
 * idle timeout, one for the header timeout, ...). Every deadline in a list is
 * then "time of the event + the same duration", so a new deadline is never
 * earlier than the tail's and {@linkcode TimerList.add} is an O(1) append at
 * the tail.
 *
 * **Lazy adjust.** The hot path (every read and write) must not touch the
 * list. The connection records `lastActivity = now` in its own payload, a
 * plain field write, and its node stays where it is. A node's deadline in the
 * list is therefore a *lower bound* of its true deadline. The invariant the
 * caller keeps is: **list deadline <= true deadline**, so nothing is ever
 * closed early. When {@linkcode TimerList.expire} reaches a due node it asks
 * the `refresh` callback for the node's true deadline; if that is later than
 * `now`, the node is put back at that deadline instead of being returned.
 * The nodes put back in one pass are sorted by their new deadline and merged
 * into the list in one backward walk from the tail. A true deadline may only
 * move later this way; one that moves earlier than the list deadline (a
 * shorter timeout) needs an eager {@linkcode TimerList.adjust}, or the node
 * moves to the list of that timeout (`remove()` then `add()`). `refresh` must
 * not change its own list: act on the returned nodes after `expire()`.
 *
 * | Method                    | Cost                                              |
 * | ------------------------- | ------------------------------------------------- |
 * | `add()` at or after tail  | O(1)                                              |
 * | `add()` earlier           | O(d), d = nodes walked back from the tail         |
 * | `adjust()` to new tail    | O(1)                                              |
 * | `adjust()` otherwise      | O(d), d = nodes between the old and new position  |
 * | `remove()`, `has()`       | O(1)                                              |
 * | `peek()`, `nextDeadline()`| O(1)                                              |
 * | `expire()`                | O(e + k log k + p): e due nodes, k put back, p nodes passed over by the merge |
 * | `clear()`                 | O(n)                                              |
 * | iteration                 | O(n)                                              |
 *
 * @example Expire idle connections, lazily refreshed
 * ```ts
 * import { TimerList, TimerNode } from "./timer_list.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const IDLE_MS = 1000;
 * interface Conn { id: number; lastActivity: number }
 * const idle = new TimerList<Conn>();
 *
 * // Two connections accepted at t = 0: O(1) appends at the tail.
 * const a = new TimerNode<Conn>({ id: 1, lastActivity: 0 });
 * const b = new TimerNode<Conn>({ id: 2, lastActivity: 0 });
 * idle.add(a, 0 + IDLE_MS);
 * idle.add(b, 0 + IDLE_MS);
 *
 * // The hot path: `b` reads a byte at t = 600. No list operation.
 * b.value.lastActivity = 600;
 *
 * // At t = 1000 only `a` is really idle; `b` moves to 1600.
 * const refresh = (node: TimerNode<Conn>) => node.value.lastActivity + IDLE_MS;
 * const due = idle.expire(1000, refresh);
 * assertEquals(due.map((node) => node.value.id), [1]);
 * assertEquals(idle.nextDeadline(), 1600);
 * assertEquals(a.linked, false);
 * ```
 *
 * @module
 */

/** Walks and splices, defined inside {@linkcode TimerNode} to reach its fields. */
let createSentinel: <T>() => TimerNode<T>;
let ownerOf: <T>(node: TimerNode<T>) => TimerList<T> | undefined;
let nextOf: <T>(node: TimerNode<T>) => TimerNode<T>;
let linkAt: <T>(
  sentinel: TimerNode<T>,
  node: TimerNode<T>,
  deadline: number,
  owner: TimerList<T>,
) => void;
let unlinkNode: <T>(node: TimerNode<T>) => void;
let moveNode: <T>(
  sentinel: TimerNode<T>,
  node: TimerNode<T>,
  deadline: number,
) => void;
let expireNodes: <T>(
  sentinel: TimerNode<T>,
  now: number,
  refresh: ((node: TimerNode<T>, now: number) => number) | undefined,
) => TimerNode<T>[];
let unlinkAll: <T>(sentinel: TimerNode<T>) => void;

/**
 * One timer: a value and, while it is in a {@linkcode TimerList}, a deadline.
 *
 * A node is in at most one list at a time. Create one per timer the value
 * needs (a connection may have one node per timeout kind) and reuse it.
 *
 * @typeParam T The type of the value the timer carries.
 *
 * @example Usage
 * ```ts
 * import { TimerList, TimerNode } from "./timer_list.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const node = new TimerNode("conn-1");
 * assertEquals(node.linked, false);
 * assertEquals(node.deadline, NaN);
 *
 * const list = new TimerList<string>();
 * list.add(node, 5000);
 * assertEquals(node.linked, true);
 * assertEquals(node.deadline, 5000);
 * ```
 */
export class TimerNode<T> {
  #prev: TimerNode<T> = this;
  #next: TimerNode<T> = this;
  #deadline = NaN;
  #owner: TimerList<T> | undefined = undefined;

  /** The value the timer carries, as given to the constructor. */
  readonly value: T;

  /**
   * Creates an unlinked timer node.
   *
   * @param value The value the timer carries.
   */
  constructor(value: T) {
    this.value = value;
  }

  /**
   * The node's deadline in milliseconds while it is in a list, `NaN` while
   * it is not. With lazy adjusting this is a lower bound of the value's true
   * deadline (see the module documentation).
   *
   * @returns The deadline, or `NaN`.
   */
  get deadline(): number {
    return this.#owner === undefined ? NaN : this.#deadline;
  }

  /**
   * Whether the node is in a list now.
   *
   * @returns `true` if the node is in a list.
   */
  get linked(): boolean {
    return this.#owner !== undefined;
  }

  static {
    createSentinel = <T>(): TimerNode<T> => {
      const sentinel = new TimerNode<T>(undefined as T);
      // Stops every backward walk without a separate end check.
      sentinel.#deadline = -Infinity;
      return sentinel;
    };

    ownerOf = <T>(node: TimerNode<T>): TimerList<T> | undefined => node.#owner;

    nextOf = <T>(node: TimerNode<T>): TimerNode<T> => node.#next;

    // Inserts `node` after the last node whose deadline is <= `deadline`,
    // walking backward from the tail.
    linkAt = <T>(
      sentinel: TimerNode<T>,
      node: TimerNode<T>,
      deadline: number,
      owner: TimerList<T>,
    ): void => {
      let ref = sentinel.#prev;
      while (ref.#deadline > deadline) ref = ref.#prev;
      const after = ref.#next;
      node.#prev = ref;
      node.#next = after;
      after.#prev = node;
      ref.#next = node;
      node.#deadline = deadline;
      node.#owner = owner;
    };

    unlinkNode = <T>(node: TimerNode<T>): void => {
      const prev = node.#prev;
      const next = node.#next;
      prev.#next = next;
      next.#prev = prev;
      node.#prev = node;
      node.#next = node;
      node.#owner = undefined;
    };

    // Moves a linked node so that it follows every node whose deadline is
    // <= `deadline` (the same place remove() + add() would give it).
    moveNode = <T>(
      sentinel: TimerNode<T>,
      node: TimerNode<T>,
      deadline: number,
    ): void => {
      let prev: TimerNode<T>;
      let next: TimerNode<T>;
      if (deadline >= node.#deadline) {
        const tail = sentinel.#prev;
        if (node === tail) {
          node.#deadline = deadline;
          return;
        }
        if (deadline >= tail.#deadline) {
          prev = tail;
          next = sentinel;
        } else {
          // The tail's deadline is later, so this walk stops before it.
          next = node.#next;
          while (next.#deadline <= deadline) next = next.#next;
          if (next === node.#next) {
            node.#deadline = deadline;
            return;
          }
          prev = next.#prev;
        }
      } else {
        prev = node.#prev;
        while (prev.#deadline > deadline) prev = prev.#prev;
        if (prev === node.#prev) {
          node.#deadline = deadline;
          return;
        }
        next = prev.#next;
      }
      node.#prev.#next = node.#next;
      node.#next.#prev = node.#prev;
      node.#prev = prev;
      node.#next = next;
      prev.#next = node;
      next.#prev = node;
      node.#deadline = deadline;
    };

    expireNodes = <T>(
      sentinel: TimerNode<T>,
      now: number,
      refresh: ((node: TimerNode<T>, now: number) => number) | undefined,
    ): TimerNode<T>[] => {
      const due: TimerNode<T>[] = [];
      if (refresh === undefined) {
        // Plain tick: unlink the due head nodes in one pass.
        let node = sentinel.#next;
        while (node !== sentinel && node.#deadline <= now) {
          const next = node.#next;
          node.#prev = node;
          node.#next = node;
          node.#owner = undefined;
          due.push(node);
          node = next;
        }
        sentinel.#next = node;
        node.#prev = sentinel;
        return due;
      }
      // Nodes whose refresh gave a later deadline; unlinked until the merge,
      // but still owned by the list.
      const requeued: TimerNode<T>[] = [];
      let node = sentinel.#next;
      try {
        while (node !== sentinel && node.#deadline <= now) {
          const next = node.#next;
          const deadline = refresh(node, now);
          if (
            typeof deadline !== "number" || !(deadline >= 0) ||
            deadline === Infinity
          ) {
            throw new RangeError(
              `Cannot expire timers: refresh must return a finite number >= 0, received ${
                quote(deadline)
              }`,
            );
          }
          if (deadline > now) {
            node.#prev.#next = next;
            next.#prev = node.#prev;
            node.#deadline = deadline;
            requeued.push(node);
            node = next;
            continue;
          }
          due.push(node);
          node = next;
        }
      } catch (error) {
        // The due nodes are still linked at the head; put the others back.
        merge(sentinel, requeued);
        throw error;
      }
      // The due nodes form the head of the list: cut them off in one step.
      sentinel.#next = node;
      node.#prev = sentinel;
      for (const expired of due) {
        expired.#prev = expired;
        expired.#next = expired;
        expired.#owner = undefined;
      }
      merge(sentinel, requeued);
      return due;
    };

    // Sorts the unlinked nodes by deadline (stable) and links them in one
    // backward walk from the tail, each after the nodes with deadlines <= its.
    const merge = <T>(sentinel: TimerNode<T>, nodes: TimerNode<T>[]): void => {
      if (nodes.length === 0) return;
      if (nodes.length > 1) nodes.sort((a, b) => a.#deadline - b.#deadline);
      let ref = sentinel.#prev;
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i]!;
        const deadline = node.#deadline;
        while (ref.#deadline > deadline) ref = ref.#prev;
        const after = ref.#next;
        node.#prev = ref;
        node.#next = after;
        after.#prev = node;
        ref.#next = node;
      }
    };

    unlinkAll = <T>(sentinel: TimerNode<T>): void => {
      let node = sentinel.#next;
      while (node !== sentinel) {
        const next = node.#next;
        node.#prev = node;
        node.#next = node;
        node.#owner = undefined;
        node = next;
      }
      sentinel.#prev = sentinel;
      sentinel.#next = sentinel;
    };
  }
}

/**
 * A list of {@linkcode TimerNode}s sorted by deadline, soonest first; nodes
 * with equal deadlines stay in the order they were put in.
 *
 * All times are numbers of milliseconds on the caller's clock; deadlines and
 * `now` must be finite numbers >= 0. See the module documentation for the
 * costs and for lazy adjusting with {@linkcode TimerList.expire}.
 *
 * @typeParam T The type of the values the timers carry.
 *
 * @example Usage
 * ```ts
 * import { TimerList, TimerNode } from "./timer_list.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const list = new TimerList<string>();
 * const a = new TimerNode("a");
 * const b = new TimerNode("b");
 * list.add(a, 100);
 * list.add(b, 50);
 * assertEquals(list.peek(), b);
 *
 * list.adjust(b, 150);
 * assertEquals([...list].map((node) => node.value), ["a", "b"]);
 * assertEquals(list.expire(100).map((node) => node.value), ["a"]);
 * assertEquals(list.size, 1);
 * ```
 */
export class TimerList<T> {
  #sentinel: TimerNode<T> = createSentinel<T>();
  #size = 0;
  #expiring = false;

  /**
   * The number of nodes in the list.
   *
   * @returns The number of nodes.
   */
  get size(): number {
    return this.#size;
  }

  /**
   * Puts a node into the list at `deadline`, after any nodes with the same
   * deadline. O(1) when `deadline` is not earlier than the tail's, else it
   * walks backward from the tail.
   *
   * @param node The node; it must not be in any list.
   * @param deadline The deadline in milliseconds, a finite number >= 0.
   * @throws {TypeError} If the node is already in a list, or `expire()` is
   * running its `refresh` callback.
   * @throws {RangeError} If `deadline` is not a finite number >= 0.
   */
  add(node: TimerNode<T>, deadline: number): void {
    if (this.#expiring) refuseChange("add timer");
    if (node.linked) {
      throw new TypeError(
        `Cannot add timer: the node is already in a list, received ${
          describe(node)
        }`,
      );
    }
    checkDeadline("add", deadline);
    linkAt(this.#sentinel, node, deadline, this);
    this.#size++;
  }

  /**
   * Takes a node out of the list. O(1).
   *
   * @param node The node.
   * @returns `true` if the node was in this list and is now out of it,
   * `false` (and nothing changes) if it was not in this list.
   * @throws {TypeError} If `expire()` is running its `refresh` callback.
   */
  remove(node: TimerNode<T>): boolean {
    if (this.#expiring) refuseChange("remove timer");
    if (ownerOf(node) !== this) return false;
    unlinkNode(node);
    this.#size--;
    return true;
  }

  /**
   * Whether a node is in this list. O(1).
   *
   * @param node The node.
   * @returns `true` if the node is in this list.
   */
  has(node: TimerNode<T>): boolean {
    return ownerOf(node) === this;
  }

  /**
   * Moves a node of this list to a new deadline, after any nodes with the
   * same deadline (as `remove()` then `add()` would). A later deadline that
   * is not earlier than the tail's costs O(1); another later one walks
   * forward from the node, an earlier one walks backward from the node.
   *
   * With lazy adjusting the hot path needs no `adjust()` at all: see
   * {@linkcode TimerList.expire}.
   *
   * @param node The node; it must be in this list.
   * @param deadline The new deadline in milliseconds, a finite number >= 0.
   * @throws {TypeError} If the node is not in this list, or `expire()` is
   * running its `refresh` callback.
   * @throws {RangeError} If `deadline` is not a finite number >= 0.
   */
  adjust(node: TimerNode<T>, deadline: number): void {
    if (this.#expiring) refuseChange("adjust timer");
    if (ownerOf(node) !== this) {
      throw new TypeError(
        `Cannot adjust timer: the node is not in this list, received ${
          describe(node)
        }`,
      );
    }
    checkDeadline("adjust", deadline);
    moveNode(this.#sentinel, node, deadline);
  }

  /**
   * The node with the soonest deadline. O(1).
   *
   * @returns The head of the list, or `undefined` if the list is empty.
   */
  peek(): TimerNode<T> | undefined {
    const head = nextOf(this.#sentinel);
    return head === this.#sentinel ? undefined : head;
  }

  /**
   * The soonest deadline in the list: when to call `expire()` next. O(1).
   *
   * @returns The head's deadline in milliseconds, or `undefined` if the list
   * is empty.
   */
  nextDeadline(): number | undefined {
    const head = nextOf(this.#sentinel);
    return head === this.#sentinel ? undefined : head.deadline;
  }

  /**
   * Takes every node whose deadline is <= `now` out of the list and returns
   * them, soonest first (the `tick` of `sort_timer_lst`). It stops at the
   * first node that is not due, so it costs O(due nodes).
   *
   * With `refresh`, each due node is first asked for its true deadline
   * (lazy adjusting, see the module documentation). A node whose true
   * deadline is later than `now` is not returned but put back at that
   * deadline; those nodes are sorted and merged in one backward walk from the
   * tail. A node whose true deadline is <= `now` is returned. The caller
   * keeps the invariant *list deadline <= true deadline*.
   *
   * `refresh` must not change the list. If it throws, or returns something
   * other than a finite number >= 0, no node is returned: the nodes it found
   * due stay in the list at their deadlines, the nodes it put back are at
   * their new deadlines, and the error propagates.
   *
   * @param now The current time in milliseconds, a finite number >= 0.
   * @param refresh Returns the true deadline of a due node, in milliseconds.
   * @returns The expired nodes in deadline order, now out of the list.
   * @throws {RangeError} If `now` is not a finite number >= 0, or `refresh`
   * returns something other than a finite number >= 0.
   * @throws {TypeError} If called from inside a `refresh` callback.
   */
  expire(
    now: number,
    refresh?: (node: TimerNode<T>, now: number) => number,
  ): TimerNode<T>[] {
    if (this.#expiring) refuseChange("expire timers");
    if (typeof now !== "number" || !(now >= 0) || now === Infinity) {
      throw new RangeError(
        `Cannot expire timers: now must be a finite number >= 0, received ${
          quote(now)
        }`,
      );
    }
    let due: TimerNode<T>[];
    if (refresh === undefined) {
      due = expireNodes(this.#sentinel, now, undefined);
    } else {
      this.#expiring = true;
      try {
        due = expireNodes(this.#sentinel, now, refresh);
      } finally {
        this.#expiring = false;
      }
    }
    this.#size -= due.length;
    return due;
  }

  /**
   * Takes every node out of the list. O(n).
   *
   * @throws {TypeError} If `expire()` is running its `refresh` callback.
   */
  clear(): void {
    if (this.#expiring) refuseChange("clear timers");
    unlinkAll(this.#sentinel);
    this.#size = 0;
  }

  /**
   * Iterates over the nodes in deadline order, soonest first. Removing the
   * node just yielded is safe; other changes during the iteration may skip
   * or repeat nodes (the iteration stops at a node that left the list).
   *
   * @returns An iterator over the nodes.
   */
  *[Symbol.iterator](): IterableIterator<TimerNode<T>> {
    const sentinel = this.#sentinel;
    let node = nextOf(sentinel);
    while (node !== sentinel && ownerOf(node) === this) {
      const next = nextOf(node);
      yield node;
      node = next;
    }
  }
}

function refuseChange(action: string): never {
  throw new TypeError(
    `Cannot ${action}: the list is running expire() and refresh must not change it`,
  );
}

function checkDeadline(method: string, deadline: number): void {
  if (
    typeof deadline !== "number" || !(deadline >= 0) || deadline === Infinity
  ) {
    throw new RangeError(
      `Cannot ${method} timer: deadline must be a finite number >= 0, received ${
        quote(deadline)
      }`,
    );
  }
}

function quote(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  try {
    return String(value);
  } catch {
    return typeof value;
  }
}

function describe<T>(node: TimerNode<T>): string {
  let value: string;
  try {
    value = Deno.inspect(node.value, { depth: 1, breakLength: Infinity });
  } catch {
    value = "?";
  }
  if (value.length > 60) value = `${value.slice(0, 57)}...`;
  return `TimerNode { value: ${value}, deadline: ${node.deadline} }`;
}
