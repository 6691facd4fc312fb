/**
 * Buffer ownership through a real mount. With `RENCFS_POISON_BUFFERS=1` every buffer handed back
 * is filled with the poison byte, so a read or write path that used a buffer after its release
 * would put poison into a file: parallel copies in, partial overwrites and cold parallel copies
 * out must all match their sources byte for byte. A filesystem without the zero-copy calls is
 * served through plain read and write. Needs root, /dev/fuse and libfuse3.
 */

import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { type FileSystem, hasZeroCopy, ROOT_INO } from "../src/fs/types.ts";
import { mount } from "../src/fuse/mount.ts";
import { POISON_BYTE, POISON_ENV } from "../src/util/lease.ts";
import { assertEquals, ignore, KDF_COST, PASSWORD, sh, withMount } from "./mount_helpers.ts";

const FILES = [1, 2, 3, 4, 5];
const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Random source files in `dir`, 0.6 to 3 MiB, none a whole number of chunks. */
async function makeSources(dir: string): Promise<void> {
  await sh(
    `mkdir -p ${q(dir)} && cd ${q(dir)} && for i in ${FILES.join(" ")}; do ` +
      `head -c $((i * 600000 + 4321)) /dev/urandom > f$i; done && head -c 300000 /dev/urandom > patch`,
  );
}

/** Copies f* of `from` into `to`, all at once; then compares them with cmp. */
async function copyAllAndCompare(from: string, to: string, against: string): Promise<void> {
  await sh(
    `for i in ${FILES.join(" ")}; do cp ${q(from)}/f$i ${q(to)}/f$i & done; wait; ` +
      `for i in ${FILES.join(" ")}; do cmp ${q(against)}/f$i ${q(to)}/f$i; done`,
  );
}

Deno.test({
  name:
    "mount with RENCFS_POISON_BUFFERS=1: parallel copies read back identical (no use after release)",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "rencfs-poison-" });
    const src = `${tmp}/src`;
    Deno.env.set(POISON_ENV, "1"); // read by the buffer pools of the filesystems opened below
    try {
      await makeSources(src);
      const dataDir = `${tmp}/data`;
      await (await EncryptedFs.create(dataDir, PASSWORD, { kdfCost: KDF_COST })).fs.close();
      await withMount(async ({ mnt, fs }) => {
        await copyAllAndCompare(src, mnt, src);
        // Unaligned overwrites in parallel: writes that need old bytes, into files being read.
        await sh(
          `cd ${q(src)} && for i in ${FILES.join(" ")}; do for f in f$i ${q(mnt)}/f$i; do ` +
            `dd if=patch of=$f bs=65536 seek=$((i * 77777)) oflag=seek_bytes conv=notrunc ` +
            `status=none & done; done; wait`,
        );
        // Poisoning is on in this very mount: pieces kept past their release read as poison.
        const a = await fs.lookup(ROOT_INO, new TextEncoder().encode("f5"));
        const fh = await fs.open(a.ino, 0);
        // (A few chunks: one batch, in a shared buffer; larger ones move and are detached.)
        const lease = await fs.readPieces(a.ino, fh, 4096, 200_000);
        const kept = [...lease.views];
        lease.release();
        await fs.release(a.ino, fh);
        const poisoned = (p: Uint8Array) => p.length > 0 && p.every((b) => b === POISON_BYTE);
        assertEquals(kept.length > 0 && kept.every(poisoned), true);
      }, { dataDir });
      // A new mount: nothing in the page cache, every read goes through the read handler.
      await Deno.mkdir(`${tmp}/out`);
      await withMount(async ({ mnt }) => {
        await copyAllAndCompare(mnt, `${tmp}/out`, src);
      }, { dataDir });
    } finally {
      // The variable is left set: it is process-wide, and test files run in parallel in this
      // process (lease_test.ts sets it too); poisoning only makes every pool stricter.
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});

/** `fs` without the zero-copy calls, counting its reads and writes. */
function plainOnly(fs: EncryptedFs, calls: { read: number; write: number }): FileSystem {
  const hidden = new Set(["readPieces", "writeBuffer", "trimMemory"]);
  return new Proxy(fs, {
    get(target, prop) {
      if (typeof prop === "string" && hidden.has(prop)) return undefined;
      if (prop === "read" || prop === "write") calls[prop]++;
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as FileSystem;
}

Deno.test({
  name: "mount of a filesystem without the zero-copy calls reads and writes through read/write",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "rencfs-plain-" });
    try {
      await makeSources(`${tmp}/src`);
      await Deno.mkdir(`${tmp}/mnt`);
      await Deno.mkdir(`${tmp}/out`);
      const { fs } = await EncryptedFs.create(`${tmp}/data`, PASSWORD, { kdfCost: KDF_COST });
      const calls = { read: 0, write: 0 };
      const plain = plainOnly(fs, calls);
      assertEquals(hasZeroCopy(plain), false);
      const m = await mount(plain, `${tmp}/mnt`, { fsName: "rencfs:plain" });
      try {
        await copyAllAndCompare(`${tmp}/src`, `${tmp}/mnt`, `${tmp}/src`);
        // Reads from the cache do not reach the filesystem: direct reads do.
        await sh(
          `for i in ${FILES.join(" ")}; do dd if=${q(tmp)}/mnt/f$i of=${q(tmp)}/out/f$i ` +
            `bs=1M iflag=direct status=none & done; wait; ` +
            `for i in ${FILES.join(" ")}; do cmp ${q(tmp)}/src/f$i ${q(tmp)}/out/f$i; done`,
        );
      } finally {
        await m.unmount();
        await fs.close();
      }
      assertEquals([calls.read > 0, calls.write > 0], [true, true]);
    } finally {
      await Deno.remove(`${tmp}`, { recursive: true }).catch(() => {});
    }
  },
});
