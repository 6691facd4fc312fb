/**
 * The async locks of src/util/mutex.ts: mutual exclusion, the order waiters are let in, shared
 * and exclusive holders of the readers-writer lock, no waiter left behind (every queued caller
 * eventually runs), and a lock released when its holder throws.
 */
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { KeyedMutex, Mutex, RwLock } from "../src/util/mutex.ts";

/** `fn()` rejects with an Error whose message is `message`. */
function rejectsWith(fn: () => Promise<unknown>, message: string): Promise<void> {
  return assertRejects(fn, (e) => e instanceof Error && e.message === message);
}

/** `p`, or a rejection naming `what` after `ms`: a lost wakeup or a deadlock fails, not hangs. */
async function within<T>(what: string, p: Promise<T>, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Yields to the event loop `n` times (a holder that awaits, letting others try to get in). */
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
}

/** A promise resolved from outside, to hold a lock until the test lets go. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => open = r);
  return { wait, open };
}

/** Counts concurrent holders; the largest count seen. */
class Occupancy {
  now = 0;
  max = 0;
  async hold(turns: number): Promise<void> {
    this.now++;
    this.max = Math.max(this.max, this.now);
    try {
      await ticks(turns);
    } finally {
      this.now--;
    }
  }
}

Deno.test("Mutex: one holder at a time, even when holders await", async () => {
  const m = new Mutex();
  const occ = new Occupancy();
  await within(
    "50 holders",
    Promise.all(Array.from({ length: 50 }, (_, i) => m.run(() => occ.hold(i % 3)))),
  );
  assertEquals(occ.max, 1);
  assertEquals(m.busy, false);
});

Deno.test("Mutex: waiters are let in in the order they called run (FIFO)", async () => {
  const m = new Mutex();
  const order: number[] = [];
  const g = gate();
  const first = m.run(() => g.wait);
  const rest = Array.from({ length: 20 }, (_, i) => m.run(() => void order.push(i)));
  await ticks(2);
  assertEquals(order, [], "nobody gets in while the first holds it");
  g.open();
  await within("20 waiters", Promise.all([first, ...rest]));
  assertEquals(order, Array.from({ length: 20 }, (_, i) => i));
});

Deno.test("Mutex: a holder that throws releases the lock; its caller gets the error", async () => {
  const m = new Mutex();
  const failing = m.run(async () => {
    await ticks(1);
    throw new Error("boom");
  });
  const next = m.run(() => "next ran");
  await rejectsWith(() => failing, "boom");
  assertEquals(await within("the waiter after a throw", next), "next ran");
  // A synchronous throw, too.
  await rejectsWith(() =>
    m.run(() => {
      throw new Error("sync boom");
    }), "sync boom");
  assertEquals(await within("a run after a sync throw", m.run(() => 7)), 7);
  assertEquals(m.busy, false);
});

Deno.test("Mutex: busy while held or waited for, not after", async () => {
  const m = new Mutex();
  assertEquals(m.busy, false);
  const g = gate();
  const a = m.run(() => g.wait);
  const b = m.run(() => {});
  assertEquals(m.busy, true);
  g.open();
  await a;
  await b;
  assertEquals(m.busy, false);
});

Deno.test("Mutex: no lost wakeup when runs are queued from inside a holder and its release", async () => {
  const m = new Mutex();
  let done = 0;
  const spawned: Promise<unknown>[] = [];
  // Each holder queues another run before it returns, some synchronously, some after awaiting:
  // every one of them must still get the lock.
  const chain = (depth: number): Promise<void> =>
    m.run(async () => {
      done++;
      if (depth === 0) return;
      if (depth % 2) await ticks(1);
      spawned.push(chain(depth - 1));
    });
  await within("a chain of 200 runs", chain(200));
  while (spawned.length) await within("queued runs", spawned.shift()!);
  assertEquals(done, 201);
  assertEquals(m.busy, false);
});

Deno.test("KeyedMutex: one key excludes itself, different keys run side by side", async () => {
  const km = new KeyedMutex<number>();
  const per = new Map<number, Occupancy>([[1, new Occupancy()], [2, new Occupancy()]]);
  const all = new Occupancy();
  const runs = Array.from({ length: 40 }, (_, i) => {
    const key = 1 + (i % 2);
    return km.run(key, () => Promise.all([per.get(key)!.hold(2), all.hold(2)]));
  });
  await within("40 keyed runs", Promise.all(runs));
  assertEquals(per.get(1)!.max, 1);
  assertEquals(per.get(2)!.max, 1);
  assertEquals(all.max, 2, "keys 1 and 2 were held at the same time");
  assertEquals(km.idle, true, "idle locks are dropped");
});

Deno.test("KeyedMutex: an idle key's lock is dropped, also after a throw", async () => {
  const km = new KeyedMutex<string>();
  assertEquals(km.idle, true);
  const g = gate();
  const held = km.run("a", () => g.wait);
  assertEquals(km.idle, false);
  g.open();
  await held;
  assertEquals(km.idle, true);
  await rejectsWith(() => km.run("b", () => Promise.reject(new Error("no"))), "no");
  assertEquals(km.idle, true);
  assertEquals(await km.run("b", () => "b again"), "b again");
});

Deno.test("KeyedMutex.runAll: holds every key; opposite orders and duplicates do not deadlock", async () => {
  const km = new KeyedMutex<number>();
  const g = gate();
  let inside = false;
  const all = km.runAll([3, 1, 2, 1], async () => {
    inside = true;
    await g.wait;
    inside = false;
  });
  await ticks(2);
  assertEquals(inside, true, "duplicate keys are taken once");
  let other = false;
  const single = km.run(2, () => other = true);
  await ticks(2);
  assertEquals(other, false, "key 2 waits for runAll");
  g.open();
  await within("runAll and a single key", Promise.all([all, single]));
  assertEquals(other, true);
  // Two callers naming the same keys in opposite orders, many times: both always finish.
  const rounds = Array.from(
    { length: 30 },
    (_, i) => km.runAll(i % 2 ? [1, 2, 3] : [3, 2, 1], () => ticks(1)),
  );
  await within("opposite key orders", Promise.all(rounds));
  assertEquals(await km.runAll([], () => "no keys"), "no keys");
  assertEquals(km.idle, true);
});

Deno.test("RwLock: shared holders overlap; an exclusive holder is alone", async () => {
  const rw = new RwLock();
  const shared = new Occupancy();
  const everyone = new Occupancy();
  let exclusiveAlone = true;
  const runs = Array.from({ length: 30 }, (_, i) =>
    i % 5 === 0
      ? rw.exclusive(async () => {
        if (everyone.now !== 0) exclusiveAlone = false;
        await everyone.hold(2);
      })
      : rw.shared(() => Promise.all([shared.hold(2), everyone.hold(2)])));
  await within("30 shared and exclusive runs", Promise.all(runs));
  assertEquals(exclusiveAlone, true);
  assertEquals(shared.max > 1, true, `shared holders overlapped (max ${shared.max})`);
  assertEquals(rw.idle, true);
});

Deno.test("RwLock: a waiting exclusive request holds back later shared ones (no starvation)", async () => {
  const rw = new RwLock();
  const order: string[] = [];
  const g = gate();
  const s1 = rw.shared(async () => {
    order.push("s1 in");
    await g.wait;
    order.push("s1 out");
  });
  const x = rw.exclusive(() => void order.push("x"));
  const s2 = rw.shared(() => void order.push("s2"));
  await ticks(2);
  assertEquals(order, ["s1 in"], "s2 waits behind the queued exclusive request");
  g.open();
  await within("s1, x, s2", Promise.all([s1, x, s2]));
  assertEquals(order, ["s1 in", "s1 out", "x", "s2"]);
});

Deno.test("RwLock: shared waiters queued behind an exclusive holder all get in together", async () => {
  const rw = new RwLock();
  const g = gate();
  const x = rw.exclusive(() => g.wait);
  const readers = new Occupancy();
  const inner = gate();
  const s = Array.from({ length: 5 }, () =>
    rw.shared(async () => {
      readers.now++;
      readers.max = Math.max(readers.max, readers.now);
      await inner.wait;
      readers.now--;
    }));
  const x2 = rw.exclusive(() => {});
  await ticks(2);
  assertEquals(readers.max, 0);
  g.open();
  await ticks(3);
  assertEquals(readers.now, 5, "all five shared waiters were woken by one release");
  inner.open();
  await within("shared waiters and the next exclusive", Promise.all([x, ...s, x2]));
  assertEquals(rw.idle, true);
});

Deno.test("RwLock: holders that throw release their share or the exclusive hold", async () => {
  const rw = new RwLock();
  await rejectsWith(() => rw.shared(() => Promise.reject(new Error("s"))), "s");
  await rejectsWith(() =>
    rw.exclusive(() => {
      throw new Error("x");
    }), "x");
  assertEquals(rw.idle, true);
  assertEquals(await within("exclusive after throws", rw.exclusive(() => 1)), 1);
  assertEquals(await within("shared after throws", rw.shared(() => 2)), 2);
  assertEquals(rw.idle, true);
});
