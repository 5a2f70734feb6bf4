// Copyright 2026 the Reaper authors. MIT license.
/**
 * Benchmarks of {@linkcode TimerList} against (a) the original head-walking
 * `sort_timer_lst` of TinyWebServer and (b) a binary heap with index
 * tracking, at 10k, 100k and 1M timers.
 *
 * Every bench times a batch of operations between `b.start()` and `b.end()`
 * (the batch size is in the group name); set-up and restoring the structure
 * to its size happen outside. The structures hold the same fractional
 * deadlines (like `performance.now() + timeout`), and their nodes lie in
 * memory in an order unrelated to their deadlines, as in a server that has
 * run for a while. Operations that walk O(n) nodes run with fewer operations
 * per iteration above a size limit, in a group of their own (see
 * `walkBench`). The whole run takes about a minute. Run with
 * `npx -y deno@2.9.6 bench timer_list_bench.ts`.
 *
 * @module
 */

import { TimerList, TimerNode } from "./timer_list.ts";
import { prng } from "./testdata/prng.ts";

// ---------------------------------------------------------------------------
// (a) The original: TinyWebServer's sort_timer_lst, ported as is.

class OrigTimer {
  expire = 0;
  prev: OrigTimer | null = null;
  next: OrigTimer | null = null;
}

class SortTimerLst {
  head: OrigTimer | null = null;
  tail: OrigTimer | null = null;

  /** add_timer: walks from the head. */
  add(timer: OrigTimer): void {
    if (this.head === null) {
      this.head = this.tail = timer;
      return;
    }
    if (timer.expire < this.head.expire) {
      timer.next = this.head;
      this.head.prev = timer;
      this.head = timer;
      return;
    }
    this.#addFrom(timer, this.head);
  }

  /** adjust_timer: only later deadlines; removes and re-adds from the node. */
  adjust(timer: OrigTimer): void {
    const tmp = timer.next;
    if (tmp === null || timer.expire < tmp.expire) return;
    if (timer === this.head) {
      this.head = this.head.next!;
      this.head.prev = null;
      timer.next = null;
      this.#addFrom(timer, this.head);
    } else {
      timer.prev!.next = timer.next;
      timer.next!.prev = timer.prev;
      this.#addFrom(timer, timer.next!);
    }
  }

  /** del_timer. */
  del(timer: OrigTimer): void {
    if (timer === this.head && timer === this.tail) {
      this.head = this.tail = null;
    } else if (timer === this.head) {
      this.head = this.head.next!;
      this.head.prev = null;
    } else if (timer === this.tail) {
      this.tail = this.tail.prev!;
      this.tail.next = null;
    } else {
      timer.prev!.next = timer.next;
      timer.next!.prev = timer.prev;
    }
    timer.prev = timer.next = null;
  }

  /** tick: unlinks the due timers from the head. */
  tick(now: number, out: OrigTimer[]): void {
    let tmp = this.head;
    while (tmp !== null) {
      if (now < tmp.expire) break;
      out.push(tmp);
      this.head = tmp.next;
      if (this.head !== null) this.head.prev = null;
      tmp.next = null;
      tmp = this.head;
    }
    if (this.head === null) this.tail = null;
  }

  /** Not in the original: an O(1) tail link, for set-up only. */
  append(timer: OrigTimer): void {
    timer.prev = this.tail;
    timer.next = null;
    if (this.tail === null) this.head = timer;
    else this.tail.next = timer;
    this.tail = timer;
  }

  #addFrom(timer: OrigTimer, lstHead: OrigTimer): void {
    let prev = lstHead;
    let tmp = prev.next;
    while (tmp !== null) {
      if (timer.expire < tmp.expire) {
        prev.next = timer;
        timer.next = tmp;
        tmp.prev = timer;
        timer.prev = prev;
        return;
      }
      prev = tmp;
      tmp = tmp.next;
    }
    prev.next = timer;
    timer.prev = prev;
    timer.next = null;
    this.tail = timer;
  }
}

// ---------------------------------------------------------------------------
// (b) A binary min-heap on deadline, each entry knowing its index.

class HeapEntry {
  deadline = 0;
  index = -1;
}

class IndexedHeap {
  items: HeapEntry[] = [];

  push(entry: HeapEntry): void {
    entry.index = this.items.length;
    this.items.push(entry);
    this.#up(entry.index);
  }

  peek(): HeapEntry | undefined {
    return this.items[0];
  }

  pop(): HeapEntry | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  remove(entry: HeapEntry): void {
    const i = entry.index;
    const last = this.items.pop()!;
    if (last !== entry) {
      this.items[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    entry.index = -1;
  }

  update(entry: HeapEntry, deadline: number): void {
    const old = entry.deadline;
    entry.deadline = deadline;
    if (deadline > old) this.#down(entry.index);
    else this.#up(entry.index);
  }

  #up(i: number): void {
    const items = this.items;
    const entry = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (parent.deadline <= entry.deadline) break;
      items[i] = parent;
      parent.index = i;
      i = p;
    }
    items[i] = entry;
    entry.index = i;
  }

  #down(i: number): void {
    const items = this.items;
    const n = items.length;
    const entry = items[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && items[c + 1]!.deadline < items[c]!.deadline) c++;
      const child = items[c]!;
      if (child.deadline >= entry.deadline) break;
      items[i] = child;
      child.index = i;
      i = c;
    }
    items[i] = entry;
    entry.index = i;
  }
}

// ---------------------------------------------------------------------------
// Fixtures: one per size, all three structures filled with deadlines
// 0 .. n-1; dropped when the next size starts.

interface Conn {
  lastActivity: number;
}

/** The fraction every deadline carries. */
const OFFSET = 0.25;

/** Operations per timed iteration. */
const BATCH = 1000;

class Fixture {
  readonly n: number;
  readonly random: () => number;
  readonly list = new TimerList<Conn>();
  readonly nodes: TimerNode<Conn>[];
  readonly spareNodes: TimerNode<Conn>[] = [];
  listTime: number;
  readonly orig = new SortTimerLst();
  readonly timers: OrigTimer[];
  readonly spareTimers: OrigTimer[] = [];
  origTime: number;
  readonly heap = new IndexedHeap();
  readonly entries: HeapEntry[];
  readonly spareEntries: HeapEntry[] = [];
  heapTime: number;
  /** A random permutation of 0 .. n-1, for batches of distinct nodes. */
  readonly permutation: Uint32Array;

  constructor(n: number) {
    this.n = n;
    this.random = prng(n);
    this.permutation = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.permutation[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = this.permutation[i]!;
      this.permutation[i] = this.permutation[j]!;
      this.permutation[j] = t;
    }
    // Allocation order and deadline order are unrelated, as in a server that
    // has run for a while: every structure walks memory in random order.
    // The arrays keep allocation order (the garbage collector copies objects
    // in the order it finds them); deadline order is a random permutation.
    const nodes: TimerNode<Conn>[] = new Array(n);
    const timers: OrigTimer[] = new Array(n);
    const entries: HeapEntry[] = new Array(n);
    const byDeadline = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      nodes[i] = new TimerNode<Conn>({ lastActivity: 0 });
      timers[i] = new OrigTimer();
      entries[i] = new HeapEntry();
      byDeadline[this.permutation[i]!] = i;
    }
    // Fractional deadlines, like `performance.now() + timeout`.
    for (let rank = 0; rank < n; rank++) {
      const i = byDeadline[rank]!;
      const deadline = rank + OFFSET;
      this.list.add(nodes[i]!, deadline);
      timers[i]!.expire = deadline;
      this.orig.append(timers[i]!);
      entries[i]!.deadline = deadline;
      this.heap.push(entries[i]!);
    }
    this.nodes = nodes;
    this.timers = timers;
    this.entries = entries;
    for (let i = 0; i < BATCH; i++) {
      this.spareNodes.push(new TimerNode<Conn>({ lastActivity: 0 }));
      this.spareTimers.push(new OrigTimer());
      this.spareEntries.push(new HeapEntry());
    }
    this.listTime = this.origTime = this.heapTime = n + OFFSET;
  }

  readonly #indices = new Uint32Array(BATCH);
  readonly #deadlines = new Float64Array(BATCH);

  /** `count` (<= {@linkcode BATCH}) random indices, possibly repeated. */
  randomIndices(count: number): Uint32Array {
    const out = this.#indices;
    for (let i = 0; i < count; i++) out[i] = Math.floor(this.random() * this.n);
    return out;
  }

  /** `count` distinct random indices. */
  distinctIndices(count: number): Uint32Array {
    const start = Math.floor(this.random() * (this.n - count));
    return this.permutation.subarray(start, start + count);
  }

  /**
   * `count` deadlines of random timers in `from`: uniform in rank, so an
   * insertion walks half the list on average from either end.
   */
  existingDeadlines<E>(
    from: E[],
    deadline: (item: E) => number,
    count: number,
  ): Float64Array {
    const out = this.#deadlines;
    for (let i = 0; i < count; i++) {
      out[i] = deadline(from[Math.floor(this.random() * this.n)]!);
    }
    return out;
  }
}

let current: Fixture | undefined;

function fixture(n: number): Fixture {
  if (current?.n !== n) {
    current = undefined;
    current = new Fixture(n);
  }
  return current;
}

// ---------------------------------------------------------------------------

const SIZES: [number, string][] = [
  [10_000, "10k"],
  [100_000, "100k"],
  [1_000_000, "1M"],
];

/** Largest size at which the original list's O(n) add and adjust run. */
const ORIG_LIMIT = 10_000;
/** Largest size at which adds at random deadlines (O(n) walks) run. */
const RANDOM_LIMIT = 10_000;
/** Operations per timed iteration of an O(n) bench above its limit. */
const SMALL_BATCH = 10;

/**
 * Registers a bench whose operations walk O(n) nodes: up to `limit` timers
 * in its group with {@linkcode BATCH} operations per iteration, above it in
 * a separate group with {@linkcode SMALL_BATCH} operations (both named so),
 * as a full batch would take too long.
 */
function walkBench(
  n: number,
  limit: number,
  definition: { name: string; group: string; baseline?: boolean },
  make: (count: number) => (b: Deno.BenchContext) => void,
): void {
  if (n <= limit) {
    Deno.bench({
      ...definition,
      ...(n >= 100_000 ? { n: 2, warmup: 1 } : { n: 20, warmup: 2 }),
      fn: make(BATCH),
    });
  } else {
    Deno.bench({
      name: `${definition.name} [${SMALL_BATCH} ops, not ${BATCH}: O(n) each]`,
      group: `${definition.group} [O(n) members at ${SMALL_BATCH} ops]`,
      baseline: definition.baseline ?? false,
      n: 2,
      warmup: 1,
      fn: make(SMALL_BATCH),
    });
  }
}

for (const [n, label] of SIZES) {
  // --- Building the fixture first keeps its garbage collection out of the
  // groups below.
  Deno.bench({
    name: `build ${label} timers in each structure (set-up)`,
    group: `set-up (${label})`,
    n: 1,
    warmup: 1,
    fn() {
      current = undefined;
      current = new Fixture(n);
    },
  });

  // --- Expiry pass of 1% of the timers (runs first, on contiguous deadlines).
  {
    const group = `expire 1% of ${label} (one pass)`;
    const k = n / 100;
    Deno.bench({
      name: `TimerList.expire() (${label})`,
      group,
      fn(b) {
        const f = fixture(n);
        const now = f.list.nextDeadline()! + k - 1;
        b.start();
        const due = f.list.expire(now);
        b.end();
        if (due.length !== k) throw new Error(`Expired ${due.length}`);
        for (const node of due) f.list.add(node, f.listTime++);
      },
    });
    Deno.bench({
      name: `TimerList.expire() lazy, half re-queued (${label})`,
      group,
      fn(b) {
        const f = fixture(n);
        const now = f.list.nextDeadline()! + k - 1;
        // Every other due connection was active since: refresh moves it to
        // the tail; the rest are idle.
        let i = 0;
        for (const node of f.list) {
          if (i >= k) break;
          node.value.lastActivity = i % 2 === 1 ? f.listTime++ : 0;
          i++;
        }
        const refresh = (node: TimerNode<Conn>) => node.value.lastActivity;
        b.start();
        const due = f.list.expire(now, refresh);
        b.end();
        if (due.length !== k / 2) throw new Error(`Expired ${due.length}`);
        for (const node of due) f.list.add(node, f.listTime++);
      },
    });
    Deno.bench({
      name: `sort_timer_lst tick (${label})`,
      group,
      baseline: true,
      fn(b) {
        const f = fixture(n);
        const now = f.orig.head!.expire + k - 1;
        const due: OrigTimer[] = [];
        b.start();
        f.orig.tick(now, due);
        b.end();
        if (due.length !== k) throw new Error(`Expired ${due.length}`);
        for (const timer of due) {
          timer.expire = f.origTime++;
          f.orig.append(timer);
        }
      },
    });
    Deno.bench({
      name: `binary heap pop while due (${label})`,
      group,
      fn(b) {
        const f = fixture(n);
        const now = f.heap.peek()!.deadline + k - 1;
        const due: HeapEntry[] = [];
        b.start();
        while (f.heap.items[0]!.deadline <= now) due.push(f.heap.pop()!);
        b.end();
        if (due.length !== k) throw new Error(`Expired ${due.length}`);
        for (const entry of due) {
          entry.deadline = f.heapTime++;
          f.heap.push(entry);
        }
      },
    });
  }

  // --- Add at the tail (the server's case: one list per timeout).
  {
    const group = `add ${BATCH} at the tail (${label})`;
    Deno.bench({
      name: `TimerList.add() at tail (${label})`,
      group,
      fn(b) {
        const f = fixture(n);
        const spare = f.spareNodes;
        b.start();
        for (let i = 0; i < BATCH; i++) {
          f.list.add(spare[i]!, f.listTime++);
        }
        b.end();
        for (let i = 0; i < BATCH; i++) f.list.remove(spare[i]!);
      },
    });
    walkBench(n, ORIG_LIMIT, {
      name: `sort_timer_lst add_timer at tail (${label})`,
      group,
      baseline: true,
    }, (count) => (b) => {
      const f = fixture(n);
      const spare = f.spareTimers;
      b.start();
      for (let i = 0; i < count; i++) {
        spare[i]!.expire = f.origTime++;
        f.orig.add(spare[i]!);
      }
      b.end();
      for (let i = 0; i < count; i++) f.orig.del(spare[i]!);
    });
    Deno.bench({
      name: `binary heap push latest (${label})`,
      group,
      baseline: n > ORIG_LIMIT,
      fn(b) {
        const f = fixture(n);
        const spare = f.spareEntries;
        b.start();
        for (let i = 0; i < BATCH; i++) {
          spare[i]!.deadline = f.heapTime++;
          f.heap.push(spare[i]!);
        }
        b.end();
        for (let i = 0; i < BATCH; i++) f.heap.remove(spare[i]!);
      },
    });
  }

  // --- Touch: the lazy field write against eager moves.
  {
    const group = `touch ${BATCH} random timers (${label})`;
    Deno.bench({
      name: `lazy touch: lastActivity = now (${label})`,
      group,
      fn(b) {
        const f = fixture(n);
        const indices = f.randomIndices(BATCH);
        const nodes = f.nodes;
        const now = f.listTime;
        b.start();
        for (let i = 0; i < BATCH; i++) {
          nodes[indices[i]!]!.value.lastActivity = now;
        }
        b.end();
      },
    });
    Deno.bench({
      name: `TimerList.adjust() to tail (${label})`,
      group,
      fn(b) {
        const f = fixture(n);
        const indices = f.randomIndices(BATCH);
        const nodes = f.nodes;
        b.start();
        for (let i = 0; i < BATCH; i++) {
          f.list.adjust(nodes[indices[i]!]!, f.listTime++);
        }
        b.end();
      },
    });
    walkBench(n, ORIG_LIMIT, {
      name: `sort_timer_lst adjust_timer to tail (${label})`,
      group,
      baseline: true,
    }, (count) => (b) => {
      const f = fixture(n);
      const indices = f.randomIndices(count);
      const timers = f.timers;
      b.start();
      for (let i = 0; i < count; i++) {
        const timer = timers[indices[i]!]!;
        timer.expire = f.origTime++;
        f.orig.adjust(timer);
      }
      b.end();
    });
    Deno.bench({
      name: `binary heap update key to latest (${label})`,
      group,
      baseline: n > ORIG_LIMIT,
      fn(b) {
        const f = fixture(n);
        const indices = f.randomIndices(BATCH);
        const entries = f.entries;
        b.start();
        for (let i = 0; i < BATCH; i++) {
          f.heap.update(entries[indices[i]!]!, f.heapTime++);
        }
        b.end();
      },
    });
  }

  // --- Add at a random deadline among the existing ones.
  {
    const group = `add ${BATCH} at random deadlines (${label})`;
    walkBench(n, RANDOM_LIMIT, {
      name: `TimerList.add() random (${label})`,
      group,
    }, (count) => (b) => {
      const f = fixture(n);
      const spare = f.spareNodes;
      const d = f.existingDeadlines(f.nodes, (x) => x.deadline, count);
      b.start();
      for (let i = 0; i < count; i++) f.list.add(spare[i]!, d[i]!);
      b.end();
      for (let i = 0; i < count; i++) f.list.remove(spare[i]!);
    });
    walkBench(n, RANDOM_LIMIT, {
      name: `sort_timer_lst add_timer random (${label})`,
      group,
      baseline: true,
    }, (count) => (b) => {
      const f = fixture(n);
      const spare = f.spareTimers;
      const d = f.existingDeadlines(f.timers, (x) => x.expire, count);
      for (let i = 0; i < count; i++) spare[i]!.expire = d[i]!;
      b.start();
      for (let i = 0; i < count; i++) f.orig.add(spare[i]!);
      b.end();
      for (let i = 0; i < count; i++) f.orig.del(spare[i]!);
    });
    Deno.bench({
      name: `binary heap push random (${label})`,
      group,
      baseline: n > RANDOM_LIMIT,
      fn(b) {
        const f = fixture(n);
        const spare = f.spareEntries;
        const d = f.existingDeadlines(f.entries, (x) => x.deadline, BATCH);
        for (let i = 0; i < BATCH; i++) spare[i]!.deadline = d[i]!;
        b.start();
        for (let i = 0; i < BATCH; i++) f.heap.push(spare[i]!);
        b.end();
        for (let i = 0; i < BATCH; i++) f.heap.remove(spare[i]!);
      },
    });
  }

  // --- Remove distinct random timers (put back at the tail, untimed).
  {
    const group = `remove ${BATCH} random timers (${label})`;
    Deno.bench({
      name: `TimerList.remove() (${label})`,
      group,
      fn(b) {
        const f = fixture(n);
        const indices = f.distinctIndices(BATCH);
        const nodes = f.nodes;
        b.start();
        for (let i = 0; i < BATCH; i++) f.list.remove(nodes[indices[i]!]!);
        b.end();
        for (let i = 0; i < BATCH; i++) {
          f.list.add(nodes[indices[i]!]!, f.listTime++);
        }
      },
    });
    Deno.bench({
      name: `sort_timer_lst del_timer (${label})`,
      group,
      baseline: true,
      fn(b) {
        const f = fixture(n);
        const indices = f.distinctIndices(BATCH);
        const timers = f.timers;
        b.start();
        for (let i = 0; i < BATCH; i++) f.orig.del(timers[indices[i]!]!);
        b.end();
        for (let i = 0; i < BATCH; i++) {
          const timer = timers[indices[i]!]!;
          timer.expire = f.origTime++;
          f.orig.append(timer);
        }
      },
    });
    Deno.bench({
      name: `binary heap remove (${label})`,
      group,
      fn(b) {
        const f = fixture(n);
        const indices = f.distinctIndices(BATCH);
        const entries = f.entries;
        b.start();
        for (let i = 0; i < BATCH; i++) {
          f.heap.remove(entries[indices[i]!]!);
        }
        b.end();
        for (let i = 0; i < BATCH; i++) {
          const entry = entries[indices[i]!]!;
          entry.deadline = f.heapTime++;
          f.heap.push(entry);
        }
      },
    });
  }
}
