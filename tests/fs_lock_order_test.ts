/**
 * The lock order of src/fs (written down in src/util/mutex.ts and docs/architecture.md):
 *
 *   directory locks (ascending inode) → resizeLock → extendLock → chunk locks (ascending index)
 *   → saveLock
 *
 * A workload of every kind of operation runs through EncryptedFs with the locks instrumented:
 * each lock taken while others are held (in the same async flow) is checked against that order.
 * Taking them against it is how two operations deadlock, rarely enough that a stress test would
 * not see it; this catches the first nesting that could.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { assertEquals } from "./helpers/assert.ts";
import { KeyedMutex, Mutex, RwLock } from "../src/util/mutex.ts";
import { Inode } from "../src/fs/inode_table.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { freshFs, n, ROOT_CALLER } from "./helpers/store.ts";

type Kind = "dir" | "resize" | "extend" | "chunk" | "save";
const RANK: Readonly<Record<Kind, number>> = { dir: 0, resize: 1, extend: 2, chunk: 3, save: 4 };

interface Held {
  kind: Kind;
  lock: object;
  key: unknown;
}

const held = new AsyncLocalStorage<Held[]>();
const kinds = new WeakMap<object, Kind>();
const seen = new Set<string>();
const violations = new Set<string>();

/** Records taking `next` while the current flow holds others; runs `fn` holding it. */
function enter(
  next: Held,
  take: (fn: () => Promise<unknown>) => Promise<unknown>,
  fn: () => unknown,
): Promise<unknown> {
  const outer = held.getStore() ?? [];
  for (const h of outer) {
    seen.add(`${h.kind} -> ${next.kind}`);
    const before = RANK[h.kind] < RANK[next.kind];
    // Several locks of one keyed set: in ascending key order only (KeyedMutex.runAll).
    const ascending = h.lock === next.lock && h.kind === next.kind &&
      (h.key as number | bigint) < (next.key as number | bigint);
    if (!before && !ascending) {
      violations.add(
        `${next.kind}(${String(next.key ?? "")}) taken while holding ` +
          `${h.kind}(${String(h.key ?? "")})`,
      );
    }
  }
  return take(() => held.run([...outer, next], async () => await fn()));
}

// Tag the per-inode locks as Inode's getters hand them out.
for (
  const [prop, kind] of [
    ["resizeLock", "resize"],
    ["extendLock", "extend"],
    ["chunkLocks", "chunk"],
    ["saveLock", "save"],
  ] as const
) {
  const d = Object.getOwnPropertyDescriptor(Inode.prototype, prop);
  if (!d?.get) throw new Error(`Inode.${prop} is no longer a getter: update this test`);
  const get = d.get;
  Object.defineProperty(Inode.prototype, prop, {
    ...d,
    get(this: Inode) {
      const lock = get.call(this);
      kinds.set(lock, kind);
      return lock;
    },
  });
}

const mutexRun = Mutex.prototype.run;
Mutex.prototype.run = function <T>(this: Mutex, fn: () => Promise<T> | T): Promise<T> {
  const kind = kinds.get(this);
  if (!kind) return mutexRun.call(this, fn) as Promise<T>;
  return enter({ kind, lock: this, key: undefined }, (f) => mutexRun.call(this, f), fn) as Promise<
    T
  >;
};
const keyedRun = KeyedMutex.prototype.run;
KeyedMutex.prototype.run = function <K, T>(
  this: KeyedMutex<K>,
  key: K,
  fn: () => Promise<T> | T,
): Promise<T> {
  // The directory locks (Namespace.dirLocks) are the one KeyedMutex keyed by inode numbers.
  const kind = kinds.get(this) ?? (typeof key === "bigint" ? "dir" : undefined);
  if (!kind) return keyedRun.call(this, key, fn) as Promise<T>;
  return enter({ kind, lock: this, key }, (f) => keyedRun.call(this, key, f), fn) as Promise<T>;
};
for (const mode of ["shared", "exclusive"] as const) {
  const orig = RwLock.prototype[mode];
  RwLock.prototype[mode] = function <T>(this: RwLock, fn: () => Promise<T> | T): Promise<T> {
    const kind = kinds.get(this);
    if (!kind) return orig.call(this, fn) as Promise<T>;
    return enter({ kind, lock: this, key: mode }, (f) => orig.call(this, f), fn) as Promise<T>;
  };
}

Deno.test("src/fs takes its locks in the documented order under a mixed workload", async () => {
  const { fs, dir } = await freshFs({ chunkSize: 4096 });
  try {
    const d1 = await fs.mkdir(ROOT_INO, n("d1"), 0o755, ROOT_CALLER);
    const d2 = await fs.mkdir(ROOT_INO, n("d2"), 0o755, ROOT_CALLER);
    const file = async (parent: bigint, name: string) => {
      const { attr, fh } = await fs.create(parent, n(name), 0o644, 2, ROOT_CALLER);
      return { ino: attr.ino, fh };
    };
    const a = await file(d1.ino, "a");
    const b = await file(d2.ino, "b");
    const bytes = (len: number, v: number) => new Uint8Array(len).fill(v);
    // Concurrent writes: in place, appending, sparse, across chunk boundaries; with reads,
    // truncations (shrink and grow) and fsyncs of the same files.
    await Promise.all([
      fs.write(a.ino, a.fh, 0, bytes(3 * 4096 + 10, 1)),
      fs.write(a.ino, a.fh, 4000, bytes(200, 2)),
      fs.write(a.ino, a.fh, 40_000, bytes(5000, 3)),
      fs.write(b.ino, b.fh, 0, bytes(10_000, 4)),
      fs.read(a.ino, a.fh, 0, 20_000),
      fs.setattr(b.ino, { size: 3000 }),
      fs.setattr(a.ino, { size: 100_000 }),
      fs.fsync(a.ino, a.fh, false),
    ]);
    await Promise.all([
      fs.write(b.ino, b.fh, 2000, bytes(9000, 5)),
      fs.setattr(a.ino, { size: 5000 }),
      fs.read(b.ino, b.fh, 0, 12_000),
      fs.fsync(b.ino, b.fh, true),
      fs.setxattr(a.ino, "user.x", n("v"), 0),
    ]);
    // Names: links across directories, renames within and across, an exchange, removal of a
    // file still open, a directory removed.
    await fs.link(a.ino, d2.ino, n("a-link"));
    await Promise.all([
      fs.rename(d1.ino, n("a"), d2.ino, n("a2"), 0),
      fs.rename(d2.ino, n("b"), d1.ino, n("b2"), 0),
      fs.symlink(d1.ino, n("s"), n("target"), ROOT_CALLER),
    ]);
    await fs.rename(d2.ino, n("a2"), d1.ino, n("b2"), 2 /* RENAME_EXCHANGE */);
    await Promise.all([
      fs.unlink(d2.ino, n("a-link")),
      fs.unlink(d1.ino, n("s")),
      fs.write(b.ino, b.fh, 0, bytes(100, 6)),
    ]);
    await fs.release(a.ino, a.fh);
    await fs.unlink(d1.ino, n("b2"));
    await fs.release(b.ino, b.fh);
    await fs.unlink(d2.ino, n("a2"));
    await fs.rmdir(ROOT_INO, n("d2"));
    await fs.syncAll();
  } finally {
    await fs.close();
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals([...violations], [], "every lock taken in the documented order");
  // The workload did nest them (a test that saw no nesting would prove nothing).
  for (
    const pair of [
      "dir -> dir",
      "dir -> save",
      "resize -> extend",
      "resize -> chunk",
      "resize -> save",
      "extend -> chunk",
      "chunk -> chunk",
    ]
  ) {
    assertEquals(seen.has(pair), true, `nesting ${pair} exercised (seen: ${[...seen].join(", ")})`);
  }
});
