// The bookkeeping of src/fuse/page_store.ts, with a sender that resolves when told to: a change
// waits for every store in flight of its inode, no store starts during a change or for a read
// that overlapped one, and forgetting the epochs of many inodes never revives a stale read.
import { assertEquals } from "./helpers/assert.ts";
import { PageStore, STORE_CALLS_MAX } from "../src/fuse/page_store.ts";

const CHUNK = 65536;

function store(): { ps: PageStore; sent: number[]; finish: (k: number) => void } {
  const resolvers: ((n: number) => void)[] = [];
  const sent: number[] = [];
  const ps = new PageStore((_ino, off) => {
    sent.push(Number(off));
    return new Promise<number>((r) => resolvers.push(r));
  }, CHUNK);
  return { ps, sent, finish: (k) => resolvers[k](0) };
}

const page = () => [new Uint8Array(4096)];
const tick = () => new Promise((r) => setTimeout(r, 5));

Deno.test("a change waits for every store in flight of its inode, not only the last one", async () => {
  const { ps, finish } = store();
  ps.store(5n, 0, page(), ps.epoch(5n), false, () => {}); // A: slow
  ps.store(5n, CHUNK, page(), ps.epoch(5n), false, () => {}); // B
  finish(1); // B ends first
  await tick();
  let began = false;
  const change = ps.begin(5n).then(() => began = true);
  await tick();
  assertEquals(began, false, "began while A was in flight");
  finish(0);
  await change;
  assertEquals(began, true);
  ps.end(5n);
});

Deno.test("no store during a change, nor for a read that overlapped one", async () => {
  const { ps, sent } = store();
  const before = ps.epoch(7n); // a read starts
  await ps.begin(7n);
  const during = ps.epoch(7n); // another starts during the change
  ps.store(7n, 0, page(), during, false, () => {});
  assertEquals(sent.length, 0, "store during the change");
  assertEquals(ps.widens(7n, 0, 4096), false, "widened during the change");
  ps.end(7n);
  ps.store(7n, 0, page(), before, false, () => {});
  ps.store(7n, 0, page(), during, false, () => {});
  assertEquals(sent.length, 0, "store of a read that overlapped the change");
  ps.store(7n, 0, page(), ps.epoch(7n), false, () => {});
  assertEquals(sent.length, 1, "store of a read after the change");
});

Deno.test("forgetting the epochs of many inodes never lets a stale read store", () => {
  const { ps, sent } = store();
  for (let i = 1n; i <= 70_000n; i++) {
    ps.begin(i);
    ps.end(i);
  }
  const x = 1_000_000n;
  const e = ps.epoch(x); // a read of x starts
  ps.begin(x); // x truncated meanwhile; the epoch map may be cleared here
  ps.end(x);
  ps.store(x, 0, page(), e, false, () => {});
  assertEquals(sent.length, 0);
});

Deno.test("reads are widened only inside one chunk, and shorter than it", () => {
  const { ps } = store();
  assertEquals(ps.widens(1n, 4096, 4096), true);
  assertEquals(ps.widens(1n, CHUNK - 4096, 4096), true);
  assertEquals(ps.widens(1n, CHUNK - 4096, 8192), false, "across a boundary");
  assertEquals(ps.widens(1n, 0, CHUNK), false, "a whole chunk");
});

Deno.test("idle() waits for the stores in flight; close() stops new ones", async () => {
  const { ps, sent, finish } = store();
  ps.store(3n, 0, page(), ps.epoch(3n), false, () => {});
  let idle = false;
  const p = ps.idle().then(() => idle = true);
  await tick();
  assertEquals(idle, false);
  finish(0);
  await p;
  ps.close();
  ps.store(3n, 0, page(), ps.epoch(3n), false, () => {});
  assertEquals(sent.length, 1);
});

Deno.test("at most STORE_CALLS_MAX store calls are in flight; the rest are skipped", async () => {
  const { ps, sent, finish } = store();
  for (let k = 0; k < STORE_CALLS_MAX + 3; k++) {
    ps.store(BigInt(k + 1), 0, page(), 0, false, () => {});
  }
  assertEquals(sent.length, STORE_CALLS_MAX);
  assertEquals(ps.widens(99n, 0, 4096), false, "widened with the pool's share taken");
  finish(0);
  await tick();
  assertEquals(ps.widens(99n, 0, 4096), true);
});
