// Makes the format fixtures (run through scripts/make-fixtures): one small data dir per format
// version and cipher under tests/fixtures/, with the cheap test KDF, holding every kind of
// object the format has, and its expected.json (tests/fixtures/manifest.ts).
//   deno run -A scripts/make-fixtures.ts [--force] [--out tests/fixtures]
import { parseArgs } from "node:util";
import { EncryptedFs } from "../mod.ts";
import { CIPHERS } from "../src/crypto/aead.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { describeTree, type Manifest } from "../tests/fixtures/manifest.ts";

const { values } = parseArgs({
  options: {
    force: { type: "boolean", default: false },
    out: { type: "string", default: new URL("../tests/fixtures", import.meta.url).pathname },
  },
});

const PASSWORD = "rencfs fixture password";
const CHUNK = 4096;
const KDF = { memoryKiB: 8192, iterations: 1 }; // the test cost: fixtures guard no secret
const WHO = { uid: 0, gid: 0 };
const enc = new TextEncoder();
const n = (s: string) => enc.encode(s);
// Fixed times (ns) so the manifest can hold them: 2001-09-09 01:46:40 UTC plus one second each.
const T0 = 1_000_000_000_000_000_000n;

/** A recognisable, non-repeating byte pattern. */
function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed >>> 0;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function writeFile(fs: EncryptedFs, parent: bigint, name: string, mode: number) {
  const { attr, fh } = await fs.create(parent, n(name), mode, 2, WHO);
  return { ino: attr.ino, fh };
}

/**
 * The tree, the same in every fixture:
 *   /a/                         directory
 *   /a/b/                       nested directory
 *   /a/b/small.txt              one short chunk, xattrs user.fixture and user.empty
 *   /a/b/sparse.bin             chunks 0-1 written, 2-4 a hole, 5 partly written
 *   /a/hard-b                   hard link of /hard-a (nlink 2)
 *   /hard-a                     two chunks, the first rewritten twice
 *   /link                       symlink -> a/b/small.txt
 *   /L + 127 × "ö"              a 255-byte (UTF-8) name
 */
async function populate(fs: EncryptedFs): Promise<void> {
  const a = (await fs.mkdir(ROOT_INO, n("a"), 0o755, WHO)).ino;
  const b = (await fs.mkdir(a, n("b"), 0o750, WHO)).ino;

  const small = await writeFile(fs, b, "small.txt", 0o640);
  await fs.write(small.ino, small.fh, 0, n("a small file of a rencfs format fixture\n"));
  await fs.release(small.ino, small.fh);
  await fs.setxattr(small.ino, "user.fixture", n("xattr value"), 0);
  await fs.setxattr(small.ino, "user.empty", new Uint8Array(0), 0);

  const sparse = await writeFile(fs, b, "sparse.bin", 0o600);
  await fs.write(sparse.ino, sparse.fh, 0, pattern(2 * CHUNK, 1));
  await fs.write(sparse.ino, sparse.fh, 5 * CHUNK + 100, pattern(300, 2));
  await fs.release(sparse.ino, sparse.fh);

  const hard = await writeFile(fs, ROOT_INO, "hard-a", 0o644);
  await fs.write(hard.ino, hard.fh, 0, pattern(CHUNK + 17, 3));
  // Chunk 0 rewritten twice after syncs (same final bytes): in format 3 both slots of its pair
  // then hold a version, the newer with generation 3.
  await fs.fsync(hard.ino, hard.fh, true);
  await fs.write(hard.ino, hard.fh, 0, new Uint8Array(100));
  await fs.fsync(hard.ino, hard.fh, true);
  await fs.write(hard.ino, hard.fh, 0, pattern(CHUNK + 17, 3).subarray(0, 100));
  await fs.release(hard.ino, hard.fh);
  await fs.link(hard.ino, a, n("hard-b"));

  await fs.symlink(ROOT_INO, n("link"), n("a/b/small.txt"), WHO);

  const longName = "L" + "ö".repeat(127);
  if (enc.encode(longName).length !== 255) throw new Error("the long name must be 255 bytes");
  const long = await writeFile(fs, ROOT_INO, longName, 0o644);
  await fs.write(long.ino, long.fh, 0, n("a file with a 255-byte name\n"));
  await fs.release(long.ino, long.fh);

  // Times last, children before parents (creating a child changes its parent's mtime).
  const order = [
    [b, "small.txt"],
    [b, "sparse.bin"],
    [a, "b"],
    [a, "hard-b"],
    [ROOT_INO, "a"],
    [ROOT_INO, "link"],
    [ROOT_INO, longName],
  ] as const;
  let t = T0;
  for (const [parent, name] of order) {
    const ino = (await fs.lookup(parent, n(name))).ino;
    t += 1_000_000_000n;
    await fs.setattr(ino, { atime: t, mtime: t });
  }
  await fs.setattr(ROOT_INO, { atime: t + 1_000_000_000n, mtime: t + 1_000_000_000n });
}

async function emptyFolders(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string) => {
    let count = 0;
    for await (const e of Deno.readDir(p)) {
      count++;
      if (e.isDirectory) await walk(`${p}/${e.name}`);
    }
    if (count === 0) out.push(p);
  };
  await walk(dir);
  return out;
}

const version = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
).version as string;

for (const formatVersion of [1, 2, 3] as const) {
  for (const cipher of CIPHERS) {
    const dir = `${values.out}/format${formatVersion}-${cipher}`;
    try {
      await Deno.lstat(dir);
      if (!values.force) {
        console.error(`${dir} exists: kept (--force replaces it)`);
        continue;
      }
      await Deno.remove(dir, { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const data = `${dir}/data`;
    await Deno.mkdir(dir, { recursive: true });
    const { fs, recoveryCode } = await EncryptedFs.create(data, PASSWORD, {
      cipher,
      chunkSize: CHUNK,
      kdfCost: KDF,
      formatVersion,
    });
    await populate(fs);
    const entries = await describeTree(fs);
    await fs.close();
    // Git keeps no empty folder: the fixtures must not need one (the trash is made on demand).
    for (const p of await emptyFolders(data)) {
      if (!p.endsWith("/t")) throw new Error(`${p} is an empty folder git would drop`);
      await Deno.remove(p);
    }
    const manifest: Manifest & { madeBy: string } = {
      madeBy: `rencfs ${version} (scripts/make-fixtures)`,
      version: formatVersion,
      cipher,
      chunkSize: CHUNK,
      password: PASSWORD,
      recoveryCode,
      entries,
    };
    await Deno.writeTextFile(`${dir}/expected.json`, JSON.stringify(manifest, null, 2) + "\n");
    console.log(`${dir}: ${entries.length} names`);
  }
}
