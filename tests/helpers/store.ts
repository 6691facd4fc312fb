/** Test helpers: temporary data dirs with a cheap KDF, names as bytes, a seeded PRNG. */
import { EncryptedFs } from "../../src/fs/encrypted_fs.ts";
import type { CipherName } from "../../src/crypto/aead.ts";
import type { FsError } from "../../src/fs/errors.ts";
import { assertEquals, assertRejects } from "./assert.ts";

/** Argon2id cost for tests only: real data dirs use the defaults. */
export const TEST_KDF = { memoryKiB: 8192, iterations: 1 };
export const PASSWORD = "correct horse battery staple";
export const ROOT_CALLER = { uid: 0, gid: 0 };

const enc = new TextEncoder();
/** A name as the bytes the filesystem takes. */
export const n = (s: string): Uint8Array => enc.encode(s);

/** A fresh data dir in a temp folder, opened. */
export async function freshFs(
  opts: { cipher?: CipherName; chunkSize?: number; formatVersion?: 1 | 2 | 3 } = {},
): Promise<{ fs: EncryptedFs; dir: string; recoveryCode: string }> {
  const dir = await Deno.makeTempDir({ prefix: "rencfs-test-" });
  const { fs, recoveryCode } = await EncryptedFs.create(dir, PASSWORD, {
    ...opts,
    kdfCost: TEST_KDF,
  });
  return { fs, dir, recoveryCode };
}

/** Asserts that `p` rejects with the filesystem error `code` (ENOENT …). */
export async function expectErrno(p: Promise<unknown>, code: string): Promise<void> {
  await assertRejects(() => p, (e: unknown) => {
    assertEquals((e as FsError).code, code);
    return true;
  });
}

/** Creates file `name` in `parent` holding `text`; its inode number. */
export async function writeNew(fs: EncryptedFs, parent: bigint, name: string, text: string) {
  const { attr, fh } = await fs.create(parent, n(name), 0o644, 2, ROOT_CALLER);
  await fs.write(attr.ino, fh, 0, n(text));
  await fs.release(attr.ino, fh);
  return attr.ino;
}

/** The content of file `name` in `parent`, as text. */
export async function readText(fs: EncryptedFs, parent: bigint, name: string): Promise<string> {
  const a = await fs.lookup(parent, n(name));
  const h = await fs.open(a.ino, 0);
  const t = new TextDecoder().decode(await fs.read(a.ino, h, 0, 1 << 20));
  await fs.release(a.ino, h);
  return t;
}

export { prng } from "./prng.ts";

/** The names in directory `ino` (without "." and ".."), sorted. */
export async function listNames(fs: EncryptedFs, ino: bigint): Promise<string[]> {
  const dh = await fs.opendir(ino);
  const list = await fs.readdir(ino, dh, 0n, 100_000);
  await fs.releasedir(ino, dh);
  const dec = new TextDecoder();
  return list.map((e) => dec.decode(e.name)).filter((x) => x !== "." && x !== "..").sort();
}

/** The bytes of every file under `dir`, by path. */
export async function snapshotFiles(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const f of await walkFiles(dir)) out.set(f, await Deno.readFile(f));
  return out;
}

/** `size` bytes of a pattern that differs for each `seed`. */
export function patternBytes(size: number, seed: number): Uint8Array {
  return new Uint8Array(size).map((_, i) => (i * 7 + seed * 13 + (i >> 9)) % 251);
}

/** Every regular file under `dir`, recursively (absolute paths). */
export async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await walkFiles(p));
    else if (e.isFile) out.push(p);
  }
  return out;
}

/**
 * The inode files of a data dir (header "RNCI"): `o/<sh>/<name>.m` objects and, in format 2,
 * entry files holding the inode of their only name.
 */
export async function inodeFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of await walkFiles(dir)) {
    const head = new Uint8Array(4);
    const f = await Deno.open(p);
    const got = await f.read(head);
    f.close();
    if (got === 4 && new TextDecoder().decode(head) === "RNCI") out.push(p);
  }
  return out.sort();
}
