// Copyright 2026 the Reaper authors. MIT license.
import {
  assert,
  assertEquals,
  assertFalse,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { TimerList, TimerNode } from "./timer_list.ts";
import { prng } from "./testdata/prng.ts";

function values<T>(list: TimerList<T>): T[] {
  return [...list].map((node) => node.value);
}

function deadlines<T>(list: TimerList<T>): number[] {
  return [...list].map((node) => node.deadline);
}

function filled(entries: [string, number][]): {
  list: TimerList<string>;
  nodes: Record<string, TimerNode<string>>;
} {
  const list = new TimerList<string>();
  const nodes: Record<string, TimerNode<string>> = {};
  for (const [value, deadline] of entries) {
    nodes[value] = new TimerNode(value);
    list.add(nodes[value], deadline);
  }
  return { list, nodes };
}

Deno.test("TimerNode starts unlinked with a NaN deadline", () => {
  const node = new TimerNode({ id: 1 });
  assertEquals(node.value, { id: 1 });
  assertFalse(node.linked);
  assertEquals(node.deadline, NaN);
});

Deno.test("TimerList is empty when new", () => {
  const list = new TimerList<number>();
  assertEquals(list.size, 0);
  assertStrictEquals(list.peek(), undefined);
  assertStrictEquals(list.nextDeadline(), undefined);
  assertEquals(list.expire(1e12), []);
  assertEquals([...list], []);
  list.clear();
  assertEquals(list.size, 0);
});

Deno.test("TimerList.add() links a single node as head and tail", () => {
  const list = new TimerList<string>();
  const node = new TimerNode("a");
  list.add(node, 10);
  assertEquals(list.size, 1);
  assertStrictEquals(list.peek(), node);
  assertEquals(list.nextDeadline(), 10);
  assert(node.linked);
  assert(list.has(node));
  assertEquals(node.deadline, 10);
  assert(list.remove(node));
  assertEquals(list.size, 0);
  assertStrictEquals(list.peek(), undefined);
  assertFalse(node.linked);
  assertEquals(node.deadline, NaN);
});

Deno.test("TimerList.add() sorts nodes by deadline", () => {
  const { list } = filled([["c", 30], ["a", 10], ["d", 40], ["b", 20], [
    "e",
    0,
  ]]);
  assertEquals(values(list), ["e", "a", "b", "c", "d"]);
  assertEquals(deadlines(list), [0, 10, 20, 30, 40]);
  assertEquals(list.size, 5);
});

Deno.test("TimerList.add() keeps insertion order for equal deadlines", () => {
  const { list } = filled([
    ["a", 10],
    ["b", 5],
    ["c", 10],
    ["d", 5],
    ["e", 10],
    ["f", 0],
  ]);
  assertEquals(values(list), ["f", "b", "d", "a", "c", "e"]);
});

Deno.test("TimerList.add() accepts 0 and -0 as deadlines", () => {
  const { list } = filled([["a", 0], ["b", -0]]);
  assertEquals(values(list), ["a", "b"]);
});

Deno.test("TimerList.add() throws on a node already in this list", () => {
  const { list, nodes } = filled([["a", 10]]);
  const error = assertThrows(
    () => list.add(nodes.a!, 20),
    TypeError,
    'Cannot add timer: the node is already in a list, received TimerNode { value: "a", deadline: 10 }',
  );
  assert(error instanceof TypeError);
  assertEquals(nodes.a!.deadline, 10);
  assertEquals(list.size, 1);
});

Deno.test("TimerList.add() throws on a node in another list", () => {
  const { list: other, nodes } = filled([["a", 10]]);
  const list = new TimerList<string>();
  assertThrows(
    () => list.add(nodes.a!, 20),
    TypeError,
    "Cannot add timer: the node is already in a list",
  );
  assertEquals(list.size, 0);
  assert(other.has(nodes.a!));
  assertEquals(nodes.a!.deadline, 10);
});

Deno.test("TimerList.add() throws on a deadline that is not a finite number >= 0", () => {
  const list = new TimerList<string>();
  const node = new TimerNode("a");
  for (
    const [bad, shown] of [
      [NaN, "NaN"],
      [-1, "-1"],
      [Infinity, "Infinity"],
      [-Infinity, "-Infinity"],
      ["5", '"5"'],
      [undefined, "undefined"],
    ] as const
  ) {
    assertThrows(
      () => list.add(node, bad as number),
      RangeError,
      `Cannot add timer: deadline must be a finite number >= 0, received ${shown}`,
    );
  }
  assertEquals(list.size, 0);
  assertFalse(node.linked);
});

Deno.test("TimerList.remove() takes out the head, the tail and a middle node", () => {
  const { list, nodes } = filled([["a", 1], ["b", 2], ["c", 3], ["d", 4]]);
  assert(list.remove(nodes.a!));
  assertEquals(values(list), ["b", "c", "d"]);
  assert(list.remove(nodes.d!));
  assertEquals(values(list), ["b", "c"]);
  assert(list.remove(nodes.b!));
  assertEquals(values(list), ["c"]);
  assertEquals(list.nextDeadline(), 3);
  assertEquals(list.size, 1);
});

Deno.test("TimerList.remove() returns false for a node not in the list", () => {
  const { list, nodes } = filled([["a", 1]]);
  assertFalse(list.remove(new TimerNode("x")));
  assert(list.remove(nodes.a!));
  assertFalse(list.remove(nodes.a!));
  assertEquals(list.size, 0);
});

Deno.test("TimerList.remove() returns false for a node in another list and leaves it there", () => {
  const { list: other, nodes } = filled([["a", 1], ["b", 2]]);
  const list = new TimerList<string>();
  assertFalse(list.remove(nodes.a!));
  assert(other.has(nodes.a!));
  assertFalse(list.has(nodes.a!));
  assertEquals(values(other), ["a", "b"]);
  assertEquals(other.size, 2);
});

Deno.test("TimerList.adjust() moves a node behind later deadlines", () => {
  const { list, nodes } = filled([["a", 1], ["b", 2], ["c", 3], ["d", 4]]);
  list.adjust(nodes.a!, 3);
  assertEquals(values(list), ["b", "c", "a", "d"]);
  assertEquals(nodes.a!.deadline, 3);
  list.adjust(nodes.b!, 2.5);
  assertEquals(values(list), ["b", "c", "a", "d"]);
  assertEquals(deadlines(list), [2.5, 3, 3, 4]);
});

Deno.test("TimerList.adjust() moves a node to the tail", () => {
  const { list, nodes } = filled([["a", 1], ["b", 2], ["c", 3]]);
  list.adjust(nodes.a!, 3);
  assertEquals(values(list), ["b", "c", "a"]);
  list.adjust(nodes.b!, 100);
  assertEquals(values(list), ["c", "a", "b"]);
  list.adjust(nodes.b!, 200);
  assertEquals(values(list), ["c", "a", "b"]);
  assertEquals(nodes.b!.deadline, 200);
});

Deno.test("TimerList.adjust() moves a node ahead of later deadlines", () => {
  const { list, nodes } = filled([["a", 1], ["b", 2], ["c", 3], ["d", 4]]);
  list.adjust(nodes.d!, 2);
  assertEquals(values(list), ["a", "b", "d", "c"]);
  list.adjust(nodes.c!, 0);
  assertEquals(values(list), ["c", "a", "b", "d"]);
  list.adjust(nodes.b!, 1.5);
  assertEquals(values(list), ["c", "a", "b", "d"]);
  assertEquals(deadlines(list), [0, 1, 1.5, 2]);
  assertEquals(list.size, 4);
});

Deno.test("TimerList.adjust() to the same deadline moves a node behind equal deadlines", () => {
  const { list, nodes } = filled([["a", 5], ["b", 5], ["c", 5], ["d", 6]]);
  list.adjust(nodes.a!, 5);
  assertEquals(values(list), ["b", "c", "a", "d"]);
  list.adjust(nodes.d!, 6);
  assertEquals(values(list), ["b", "c", "a", "d"]);
});

Deno.test("TimerList.adjust() throws on a node not in this list", () => {
  const { list: other, nodes } = filled([["a", 1]]);
  const list = new TimerList<string>();
  assertThrows(
    () => list.adjust(nodes.a!, 5),
    TypeError,
    'Cannot adjust timer: the node is not in this list, received TimerNode { value: "a", deadline: 1 }',
  );
  assertThrows(
    () => list.adjust(new TimerNode("x"), 5),
    TypeError,
    "Cannot adjust timer: the node is not in this list",
  );
  assertEquals(other.nextDeadline(), 1);
});

Deno.test("TimerList.adjust() throws on a bad deadline and leaves the node", () => {
  const { list, nodes } = filled([["a", 1], ["b", 2]]);
  assertThrows(
    () => list.adjust(nodes.a!, NaN),
    RangeError,
    "Cannot adjust timer: deadline must be a finite number >= 0, received NaN",
  );
  assertThrows(
    () => list.adjust(nodes.a!, Infinity),
    RangeError,
    "received Infinity",
  );
  assertEquals(values(list), ["a", "b"]);
  assertEquals(nodes.a!.deadline, 1);
});

Deno.test("TimerList.expire() takes out a node at deadline == now but not at now - 1", () => {
  const { list, nodes } = filled([["a", 100], ["b", 100], ["c", 101]]);
  assertEquals(list.expire(99), []);
  assertEquals(list.size, 3);
  const due = list.expire(100);
  assertEquals(due.length, 2);
  assertStrictEquals(due[0], nodes.a);
  assertStrictEquals(due[1], nodes.b);
  assertFalse(nodes.a!.linked);
  assertEquals(nodes.a!.deadline, NaN);
  assertEquals(values(list), ["c"]);
  assertEquals(list.size, 1);
  assertEquals(list.expire(1000).map((node) => node.value), ["c"]);
  assertEquals(list.size, 0);
  assertStrictEquals(list.peek(), undefined);
});

Deno.test("TimerList.expire() nodes can be added again", () => {
  const { list, nodes } = filled([["a", 1], ["b", 2]]);
  list.expire(1);
  list.add(nodes.a!, 3);
  assertEquals(values(list), ["b", "a"]);
  assertEquals(list.size, 2);
});

Deno.test("TimerList.expire() throws on a bad now", () => {
  const { list } = filled([["a", 1]]);
  for (const bad of [NaN, -1, Infinity]) {
    assertThrows(
      () => list.expire(bad),
      RangeError,
      `Cannot expire timers: now must be a finite number >= 0, received ${bad}`,
    );
  }
  assertEquals(list.size, 1);
});

Deno.test("TimerList.expire() re-queues a refreshed node and keeps the order", () => {
  const { list, nodes } = filled([
    ["a", 10],
    ["b", 10],
    ["c", 20],
    ["d", 30],
    ["e", 30],
    ["f", 40],
  ]);
  const truth: Record<string, number> = { a: 35, b: 10, c: 30, d: 5 };
  const seen: string[] = [];
  const due = list.expire(30, (node, now) => {
    assertEquals(now, 30);
    assert(node.linked);
    seen.push(node.value);
    return truth[node.value] ?? node.deadline;
  });
  // Every due node was asked, in list order.
  assertEquals(seen, ["a", "b", "c", "d", "e"]);
  // c's true deadline (30) is not later than now: it is due.
  assertEquals(due.map((node) => node.value), ["b", "c", "d", "e"]);
  // a goes to 35: after nothing equal, before f (40).
  assertEquals(values(list), ["a", "f"]);
  assertEquals(deadlines(list), [35, 40]);
  assertEquals(list.size, 2);
  assert(nodes.a!.linked);
  assertFalse(nodes.b!.linked);
});

Deno.test("TimerList.expire() puts re-queued nodes behind equal deadlines, in list order among themselves", () => {
  const { list } = filled([
    ["a", 1],
    ["b", 2],
    ["c", 3],
    ["x", 50],
    ["y", 60],
  ]);
  const truth: Record<string, number> = { a: 60, b: 50, c: 60 };
  const due = list.expire(10, (node) => truth[node.value]!);
  assertEquals(due, []);
  assertEquals(values(list), ["x", "b", "y", "a", "c"]);
  assertEquals(deadlines(list), [50, 50, 60, 60, 60]);
  assertEquals(list.size, 5);
});

Deno.test("TimerList.expire() re-queues into an emptied list", () => {
  const { list } = filled([["a", 1], ["b", 2], ["c", 3]]);
  const truth: Record<string, number> = { a: 9, b: 7, c: 8 };
  assertEquals(list.expire(5, (node) => truth[node.value]!), []);
  assertEquals(values(list), ["b", "c", "a"]);
  assertEquals(list.expire(8).map((node) => node.value), ["b", "c"]);
  assertEquals(values(list), ["a"]);
});

Deno.test("TimerList.expire() throws when refresh returns Infinity or NaN and loses no node", () => {
  for (const bad of [Infinity, NaN, -1]) {
    const { list } = filled([["a", 1], ["b", 2], ["c", 3], ["d", 10]]);
    const truth: Record<string, number> = { a: 1, b: 20, c: bad };
    assertThrows(
      () => list.expire(5, (node) => truth[node.value]!),
      RangeError,
      `Cannot expire timers: refresh must return a finite number >= 0, received ${bad}`,
    );
    // a (due) and c (failed) stay; b moved to its new deadline.
    assertEquals(values(list), ["a", "c", "d", "b"]);
    assertEquals(deadlines(list), [1, 3, 10, 20]);
    assertEquals(list.size, 4);
    // The list is usable again.
    assertEquals(list.expire(5).map((node) => node.value), ["a", "c"]);
  }
});

Deno.test("TimerList.expire() keeps the list whole when refresh throws", () => {
  const { list } = filled([["a", 1], ["b", 2], ["c", 3]]);
  assertThrows(
    () =>
      list.expire(5, (node) => {
        if (node.value === "c") throw new Error("boom");
        return node.value === "a" ? 7 : 0;
      }),
    Error,
    "boom",
  );
  assertEquals(values(list), ["b", "c", "a"]);
  assertEquals(list.size, 3);
  list.add(new TimerNode("d"), 4);
  assertEquals(values(list), ["b", "c", "d", "a"]);
});

Deno.test("TimerList.expire() refuses changes to the list from refresh", () => {
  const { list, nodes } = filled([["a", 1], ["b", 2]]);
  const errors: unknown[] = [];
  const due = list.expire(5, () => {
    for (
      const change of [
        () => list.add(new TimerNode("x"), 1),
        () => list.remove(nodes.b!),
        () => list.adjust(nodes.b!, 9),
        () => list.expire(5),
        () => list.clear(),
      ]
    ) {
      try {
        change();
      } catch (error) {
        errors.push(error);
      }
    }
    return 0;
  });
  assertEquals(due.map((node) => node.value), ["a", "b"]);
  assertEquals(errors.length, 10);
  for (const error of errors) assert(error instanceof TypeError);
  assertEquals(
    (errors[0] as TypeError).message,
    "Cannot add timer: the list is running expire() and refresh must not change it",
  );
  // Usable again afterwards.
  list.add(nodes.a!, 1);
  assertEquals(list.size, 1);
});

Deno.test("TimerList.clear() unlinks every node", () => {
  const { list, nodes } = filled([["a", 1], ["b", 2], ["c", 3]]);
  list.clear();
  assertEquals(list.size, 0);
  assertEquals([...list], []);
  assertStrictEquals(list.peek(), undefined);
  for (const node of Object.values(nodes)) {
    assertFalse(node.linked);
    assertEquals(node.deadline, NaN);
  }
  const other = new TimerList<string>();
  other.add(nodes.b!, 5);
  assertEquals(values(other), ["b"]);
});

Deno.test("TimerList iteration survives removing the node just yielded", () => {
  const { list } = filled([["a", 1], ["b", 2], ["c", 3], ["d", 4]]);
  const seen: string[] = [];
  for (const node of list) {
    seen.push(node.value);
    if (node.value !== "c") list.remove(node);
  }
  assertEquals(seen, ["a", "b", "c", "d"]);
  assertEquals(values(list), ["c"]);
});

Deno.test("TimerList iteration stops at a node that left the list", () => {
  const { list, nodes } = filled([["a", 1], ["b", 2], ["c", 3]]);
  const seen: string[] = [];
  for (const node of list) {
    seen.push(node.value);
    if (node.value === "a") list.remove(nodes.b!);
  }
  assertEquals(seen, ["a"]);
});

Deno.test("TimerList keeps one node in at most one list", () => {
  const one = new TimerList<string>();
  const two = new TimerList<string>();
  const node = new TimerNode("a");
  one.add(node, 1);
  assertThrows(() => two.add(node, 1), TypeError);
  assert(one.remove(node));
  two.add(node, 2);
  assertFalse(one.has(node));
  assert(two.has(node));
  assertEquals(node.deadline, 2);
});

interface Entry {
  node: TimerNode<number>;
  deadline: number;
}

/** Where `add` puts a deadline in the model: after every deadline <= it. */
function insertModel(model: Entry[], entry: Entry): void {
  let i = model.length;
  while (i > 0 && model[i - 1]!.deadline > entry.deadline) i--;
  model.splice(i, 0, entry);
}

function checkAgainstModel(
  list: TimerList<number>,
  model: Entry[],
  pool: TimerNode<number>[],
  step: number,
): void {
  const context = `after step ${step}`;
  assertEquals(list.size, model.length, context);
  const nodes = [...list];
  assertEquals(nodes.length, model.length, context);
  for (let i = 0; i < model.length; i++) {
    assertStrictEquals(nodes[i], model[i]!.node, `${context}, position ${i}`);
    assertEquals(nodes[i]!.deadline, model[i]!.deadline, context);
  }
  assertStrictEquals(list.peek(), model[0]?.node, context);
  assertStrictEquals(list.nextDeadline(), model[0]?.deadline, context);
  const inModel = new Set(model.map((entry) => entry.node));
  for (const node of pool) {
    assertEquals(list.has(node), inModel.has(node), context);
    assertEquals(node.linked, inModel.has(node), context);
    if (!inModel.has(node)) assertEquals(node.deadline, NaN, context);
  }
}

function runProperty(seed: number, steps: number): void {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const list = new TimerList<number>();
  const pool = Array.from({ length: 40 }, (_, i) => new TimerNode(i));
  // The true deadline of each node (lazy adjusting): >= its list deadline.
  const truth = new Map<TimerNode<number>, number>();
  let model: Entry[] = [];
  let time = 0;
  const deadline = () => time + int(30) + (random() < 0.2 ? 0.5 : 0);

  for (let step = 0; step < steps; step++) {
    const roll = random();
    const node = pool[int(pool.length)]!;
    const index = model.findIndex((entry) => entry.node === node);
    if (roll < 0.3) {
      if (index === -1) {
        const d = deadline();
        list.add(node, d);
        insertModel(model, { node, deadline: d });
        truth.set(node, d);
      } else {
        assertThrows(() => list.add(node, 1), TypeError);
      }
    } else if (roll < 0.45) {
      assertEquals(list.remove(node), index !== -1);
      if (index !== -1) model.splice(index, 1);
    } else if (roll < 0.6) {
      if (index === -1) {
        assertThrows(() => list.adjust(node, 1), TypeError);
      } else {
        // Earlier, later, equal and tail moves all happen.
        const d = random() < 0.15 ? model[index]!.deadline : deadline();
        list.adjust(node, d);
        model.splice(index, 1);
        insertModel(model, { node, deadline: d });
        truth.set(node, d);
      }
    } else if (roll < 0.75) {
      // The hot path: touch a node without touching the list.
      if (index !== -1) truth.set(node, Math.max(truth.get(node)!, deadline()));
    } else if (roll < 0.8) {
      time += int(10);
    } else {
      const now = random() < 0.8 ? time : int(time + 40);
      const useRefresh = random() < 0.7;
      // Some refreshes say "due" although the truth is later; both must work.
      const calls: TimerNode<number>[] = [];
      const said = new Map<TimerNode<number>, number>();
      const refresh = (n: TimerNode<number>, at: number): number => {
        assertEquals(at, now);
        calls.push(n);
        const value = random() < 0.1 ? int(now + 1) : truth.get(n)!;
        said.set(n, value);
        return value;
      };
      const due = useRefresh ? list.expire(now, refresh) : list.expire(now);

      // Model: walk the due prefix, split it into due and re-queued.
      let cut = 0;
      while (cut < model.length && model[cut]!.deadline <= now) cut++;
      const prefix = model.slice(0, cut);
      model = model.slice(cut);
      const expected: TimerNode<number>[] = [];
      const requeued: Entry[] = [];
      if (useRefresh) {
        assertEquals(calls, prefix.map((entry) => entry.node), `step ${step}`);
      }
      for (const entry of prefix) {
        const d = useRefresh ? said.get(entry.node)! : entry.deadline;
        if (d > now) requeued.push({ node: entry.node, deadline: d });
        else expected.push(entry.node);
      }
      requeued.sort((a, b) => a.deadline - b.deadline);
      for (const entry of requeued) insertModel(model, entry);
      assertEquals(due.length, expected.length, `step ${step}`);
      for (let i = 0; i < due.length; i++) {
        assertStrictEquals(due[i], expected[i], `step ${step}`);
        // Never returned when its refresh said later.
        if (useRefresh) assert(said.get(due[i]!)! <= now);
      }
    }
    if (random() < 0.002) {
      list.clear();
      model = [];
    }
    checkAgainstModel(list, model, pool, step);
  }
}

Deno.test("TimerList matches an array model over random operations", () => {
  for (const seed of [1, 2, 3, 42, 0xdecaf]) runProperty(seed, 3000);
});
