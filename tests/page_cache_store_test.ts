// A short read hands the whole decrypted chunk to the kernel's page cache (src/fuse/page_store.ts):
// later reads in that chunk never reach the daemon, a file open for writing never gets a store,
// a store never grows the file, a read across a chunk boundary is answered whole, and writers
// and truncations racing with readers never see their change undone by a store.
import { assertEquals, ignore, inChild, type Mounted, sh, withMount } from "./mount_helpers.ts";
import type { EncryptedFs } from "../mod.ts";

const CHUNK = 65536;

/** Child code: `dropClean(fd)` drops the clean cached pages of a file; `willNeed` reads ahead. */
const DONTNEED = `const libc = Deno.dlopen("libc.so.6", {
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32" },
});
function dropClean(fd: number) { libc.symbols.posix_fadvise(fd, 0n, 0n, 4); }
function willNeed(fd: number, off: number, len: number) {
  libc.symbols.posix_fadvise(fd, BigInt(off), BigInt(len), 3);
}`;

/**
 * In a child: random 4 KiB reads of `file` (of `size` bytes) for `ms`, its clean pages dropped
 * after each read so that every read reaches the daemon and makes a store (reopened every 50
 * reads, so a truncated file is seen anew). Resolves to the number of reads.
 */
function shortReader(m: Mounted, file: string, size: number, ms: number): Promise<number> {
  return inChild<number>(
    m.mnt,
    `${DONTNEED}
     const until = Date.now() + ${ms};
     const b = Buffer.alloc(4096); let n = 0;
     while (Date.now() < until) {
       const fd = fs.openSync(${JSON.stringify(file)}, "r");
       for (let k = 0; k < 50; k++) {
         fs.readSync(fd, b, 0, 4096, Math.floor(Math.random() * ${size / 4096}) * 4096);
         dropClean(fd);
         n++;
       }
       fs.closeSync(fd);
     }
     out(n);`,
  );
}

/** Counts the daemon's reads of `ino`'s content (calls into the store). */
function countReads(fs: EncryptedFs): { n: number } {
  const counter = { n: 0 };
  const orig = fs.readPieces.bind(fs);
  fs.readPieces = (ino, fh, off, len) => {
    counter.n++;
    return orig(ino, fh, off, len);
  };
  return counter;
}

async function dropCaches(): Promise<void> {
  await sh("sync; echo 3 > /proc/sys/vm/drop_caches");
}

/** A file of `size` bytes whose every 4-byte word is its own offset / 4 (plus `salt`). */
function pattern(size: number, salt = 0): Uint8Array {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  for (let i = 0; i + 4 <= size; i += 4) v.setUint32(i, (i / 4 + salt) >>> 0, true);
  return b;
}

async function writeFile(m: Mounted, name: string, data: Uint8Array): Promise<void> {
  await Deno.writeFile(`${m.mnt}/${name}`, data);
  await dropCaches();
}

/** In a child: opens `file` read-only and preads `len` bytes at each offset; returns hex sums. */
function preads(m: Mounted, file: string, offs: number[], len: number, flags = "r") {
  return inChild<number[]>(
    m.mnt,
    `const fd = fs.openSync(MNT + ${JSON.stringify("/" + file)}, ${JSON.stringify(flags)});
     const b = Buffer.alloc(${len});
     const sums: number[] = [];
     for (const o of ${JSON.stringify(offs)}) {
       const n = fs.readSync(fd, b, 0, ${len}, o);
       let s = n; for (let i = 0; i < n; i++) s = (s * 31 + b[i]) >>> 0;
       sums.push(s);
       // The store lands just after the reply: give it time before the next read.
       await new Promise((r) => setTimeout(r, 50));
     }
     fs.closeSync(fd);
     out(sums);`,
  );
}

function sum(b: Uint8Array): number {
  let s = b.length;
  for (let i = 0; i < b.length; i++) s = (s * 31 + b[i]) >>> 0;
  return s;
}

Deno.test({
  name: "a short read stores its whole chunk: the next read in that chunk stays in the kernel",
  ignore,
  async fn() {
    await withMount(async (m) => {
      const data = pattern(4 * CHUNK);
      await writeFile(m, "f", data);
      const reads = countReads(m.fs);
      const offs = [CHUNK + 8192, CHUNK + 4096 * 13, CHUNK, 3 * CHUNK + 4096];
      const got = await preads(m, "f", offs, 4096);
      assertEquals(got, offs.map((o) => sum(data.subarray(o, o + 4096))), "content");
      // Chunk 1 once (its other pages came with it), chunk 3 once.
      assertEquals(reads.n, 2, "daemon reads");
      // Stored pages are the chunk's real content, at the right places.
      const whole = await preads(m, "f", [0, CHUNK, 2 * CHUNK, 3 * CHUNK], CHUNK);
      assertEquals(whole, [0, 1, 2, 3].map((k) => sum(data.subarray(k * CHUNK, (k + 1) * CHUNK))));
    });
  },
});

Deno.test({
  name: "a store never grows a file whose end is inside a page",
  ignore,
  async fn() {
    await withMount(async (m) => {
      const size = 2 * CHUNK + 1000;
      const data = pattern(size, 7);
      await writeFile(m, "tail", data);
      const got = await preads(m, "tail", [2 * CHUNK, CHUNK + 4096], 4096);
      assertEquals(got[0], sum(data.subarray(2 * CHUNK)));
      assertEquals((await Deno.stat(`${m.mnt}/tail`)).size, size, "size after stores");
      assertEquals(await Deno.readFile(`${m.mnt}/tail`), data);
    });
  },
});

Deno.test({
  name: "a file open for writing gets no stores",
  ignore,
  async fn() {
    await withMount(async (m) => {
      const data = pattern(2 * CHUNK, 3);
      await writeFile(m, "w", data);
      const reads = countReads(m.fs);
      // Read through a read-write handle: two pages of one chunk are two daemon reads.
      const got = await preads(m, "w", [8192, 4096 * 9], 4096, "r+");
      assertEquals(got, [8192, 4096 * 9].map((o) => sum(data.subarray(o, o + 4096))));
      assertEquals(reads.n, 2, "daemon reads with a writer");
    });
  },
});

Deno.test({
  name: "writers racing with short readers never lose a write to a store",
  ignore,
  async fn() {
    await withMount(async (m) => {
      const size = 8 * CHUNK;
      await writeFile(m, "race", pattern(size));
      // Readers pread random pages while a writer opens, writes random pages and closes, again
      // and again; the writer keeps the expected content and checks it at the end, through the
      // page cache and again from the store.
      const file = `${m.mnt}/race`;
      // The writer's dirty pages stay in the page cache while every read makes a store.
      const reader = shortReader(m, file, size, 2500);
      const writer = inChild<{ bad: number; rounds: number }>(
        m.mnt,
        `const model = Buffer.from(fs.readFileSync(${JSON.stringify(file)}));
         let rounds = 0;
         const until = Date.now() + 2500;
         while (Date.now() < until) {
           const fd = fs.openSync(${JSON.stringify(file)}, "r+");
           for (let k = 0; k < 8; k++) {
             const page = Math.floor(Math.random() * ${size / 4096});
             const b = Buffer.alloc(4096, (rounds * 8 + k) % 251 + 1);
             fs.writeSync(fd, b, 0, 4096, page * 4096);
             b.copy(model, page * 4096);
           }
           fs.closeSync(fd);
           rounds++;
         }
         const now = fs.readFileSync(${JSON.stringify(file)});
         let bad = 0;
         for (let p = 0; p < ${size / 4096}; p++) {
           if (Buffer.compare(now.subarray(p * 4096, (p + 1) * 4096),
               model.subarray(p * 4096, (p + 1) * 4096)) !== 0) bad++;
         }
         fs.writeFileSync(MNT + "/../model", model);
         out({ bad, rounds });`,
      );
      const [n, w] = await Promise.all([reader, writer]);
      assertEquals(w.bad, 0, `pages differing from the writer's model (${w.rounds} rounds)`);
      if (n < 100 || w.rounds < 10) throw new Error(`too little raced: ${n} reads, ${w.rounds}`);
      await dropCaches();
      const model = await Deno.readFile(`${m.tmp}/model`);
      assertEquals(await Deno.readFile(file), model, "content from the store");
    });
  },
});

Deno.test({
  name: "a short read across a chunk boundary is answered whole (no zeros for the next chunk)",
  ignore,
  async fn() {
    await withMount(async (m) => {
      const data = pattern(4 * CHUNK, 11);
      await writeFile(m, "x", data);
      const ranges = [[15 * 4096, 3 * 4096], [2 * CHUNK - 4096, 8192]];
      // Read-ahead of pages 15-17 makes one 12 KiB READ across the first chunk boundary.
      const got = await inChild<number[]>(
        m.mnt,
        `${DONTNEED}
         const fd = fs.openSync(MNT + "/x", "r");
         const sums: number[] = [];
         for (const [off, len] of ${JSON.stringify(ranges)}) {
           willNeed(fd, off, len);
           await new Promise((r) => setTimeout(r, 50));
           const b = Buffer.alloc(len);
           const n = fs.readSync(fd, b, 0, len, off);
           let s = n; for (let i = 0; i < n; i++) s = (s * 31 + b[i]) >>> 0;
           sums.push(s);
         }
         fs.closeSync(fd); out(sums);`,
      );
      assertEquals(got, ranges.map(([o, l]) => sum(data.subarray(o, o + l))));
    });
  },
});

Deno.test({
  name: "a truncation racing with short readers stays truncated (no store grows the file back)",
  ignore,
  async fn() {
    // Stores wait 20 ms before they are sent, as on a busy pool: a truncation not fenced from
    // them would see most rounds grow back.
    await withMount(async (m) => {
      const size = 8 * CHUNK;
      const file = `${m.mnt}/t`;
      await writeFile(m, "t", pattern(size));
      const readers = [1, 2, 3].map(() => shortReader(m, file, size, 3000));
      const data = pattern(size, 5);
      let rounds = 0;
      const bad: string[] = [];
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        // Only asynchronous calls here: this process serves the mount, and a synchronous
        // close(2) would wait for the write-back it has to answer itself.
        await Deno.writeFile(file, data);
        await new Promise((r) => setTimeout(r, 10)); // readers store chunks meanwhile
        await Deno.truncate(file, 0); // by path: a SETATTR with a size
        await new Promise((r) => setTimeout(r, 5));
        const st = await Deno.stat(file);
        if (st.size !== 0) bad.push(`round ${rounds}: size ${st.size}`);
        rounds++;
      }
      const reads = await Promise.all(readers);
      assertEquals(bad, [], `${rounds} rounds`);
      if (rounds < 5 || reads.some((n) => n < 50)) throw new Error(`too little raced: ${rounds}`);
    }, { tuning: { pageStoreDelayMs: 20 } });
  },
});

Deno.test({
  name: "many short readers at once never hang the mount (stores cannot fill the thread pool)",
  ignore,
  async fn() {
    await withMount(async (m) => {
      const size = 8 * CHUNK;
      const file = `${m.mnt}/many`;
      await writeFile(m, "many", pattern(size));
      // 16 readers, clean pages dropped after each read: every read a store. Were the stores
      // to take all of the runtime's blocking pool, the loop could no longer read requests.
      const readers = Array.from({ length: 16 }, () => shortReader(m, file, size, 4000));
      let last = m.mount.activity().started;
      let stalled = 0;
      let done = false;
      const all = Promise.all(readers).finally(() => done = true);
      while (!done && stalled < 6) {
        await new Promise((r) => setTimeout(r, 500));
        const now = m.mount.activity().started;
        stalled = now === last ? stalled + 1 : 0;
        last = now;
      }
      if (!done) {
        // Hung: abort the connection so the readers and the unmount can end, then fail.
        await sh(
          `mountpoint -q /sys/fs/fuse/connections || mount -t fusectl none ` +
            `/sys/fs/fuse/connections; d=$(stat -c %d ${m.mnt}); ` +
            `echo 1 > /sys/fs/fuse/connections/$((d & 255 | (d >> 12 & ~255)))/abort || true`,
        ).catch(() => {});
        await all.catch(() => {});
        throw new Error("the mount stopped taking requests for 3 s under 16 short readers");
      }
      const reads = await all;
      if (reads.some((n) => n < 50)) throw new Error(`too few reads: ${reads}`);
    });
  },
});
