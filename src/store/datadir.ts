/**
 * A data dir as a whole: telling ours from anything else, creating one, unlocking it, and
 * changing its password. Nothing here writes to a data dir it has not validated first.
 */
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { type CipherName, DEFAULT_CIPHER } from "../crypto/aead.ts";
import {
  createKeyFile,
  type KeyFileHeader,
  NotADataDirError,
  parseKeyFile,
  rewrapKeyFile,
  unlockKeyFile,
} from "./keyfile.ts";
import { writeFileAtomic } from "./atomic_file.ts";
import { KEY_FILE, OBJECTS_DIR } from "./layout.ts";
import { StoreKeys } from "./keys.ts";
import { RecordStore } from "./record_store.ts";
import { newRecord } from "./inode_record.ts";
import { randomBytes } from "../crypto/random.ts";
import { ROOT_INO, S_IFDIR } from "../fs/types.ts";

/** Default plaintext bytes per chunk; see docs/format.md for the measurements behind it. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/** Smallest and largest chunk sizes accepted at creation (powers of two). */
export const MIN_CHUNK_SIZE = 4 * 1024;
export const MAX_CHUNK_SIZE = 1024 * 1024;

/** What a folder is, seen as a data dir. `foreign`: not empty and not ours. */
export type DataDirState = "missing" | "empty" | "rencfs" | "foreign";

/** Options for a new data dir. */
export interface CreateOptions {
  cipher?: CipherName;
  chunkSize?: number;
  /** Argon2id cost; the defaults (64 MiB, 3 passes) are for real use, lower is for tests. */
  kdfCost?: { memoryKiB?: number; iterations?: number; parallelism?: number };
  /**
   * Format version to write (default: the newest). Version 1 (no inode records in entry files)
   * exists so that data dirs made by rencfs 0.1 can be reproduced in tests.
   */
  formatVersion?: 1 | 2;
}

/** How to unlock: the password, or the recovery code shown at creation. */
export type Secret = { password: string } | { recoveryCode: string };

/** Tells what `dir` is without changing anything. */
export async function inspectDataDir(dir: string): Promise<DataDirState> {
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) return "foreign";
    names = await readdir(dir);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return "missing";
    throw e;
  }
  if (names.length === 0) return "empty";
  return names.includes(KEY_FILE) ? "rencfs" : "foreign";
}

/** Reads and checks the key file's header (no password needed). */
export async function readHeader(
  dir: string,
): Promise<{ bytes: Uint8Array; header: KeyFileHeader }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(`${dir}/${KEY_FILE}`);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") {
      throw new NotADataDirError(`${dir} is not a rencfs data dir (no ${KEY_FILE})`);
    }
    throw e;
  }
  return { bytes, header: parseKeyFile(bytes) };
}

/**
 * Creates a data dir in a missing or empty folder. Returns the master key (the caller wipes it)
 * and the recovery code, to be shown to the user once.
 */
export async function createDataDir(
  dir: string,
  password: string,
  opts: CreateOptions = {},
): Promise<{ masterKey: Uint8Array; header: KeyFileHeader; recoveryCode: string }> {
  const state = await inspectDataDir(dir);
  if (state === "rencfs") throw new Error(`${dir} is already a rencfs data dir`);
  if (state === "foreign") {
    throw new NotADataDirError(`${dir} is not empty and is not a rencfs data dir`);
  }
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (
    !Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE ||
    (chunkSize & (chunkSize - 1)) !== 0
  ) {
    throw new RangeError(
      `chunk size must be a power of two from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE}`,
    );
  }
  const made = await createKeyFile(password, {
    cipher: opts.cipher ?? DEFAULT_CIPHER,
    chunkSize,
    kdfCost: opts.kdfCost,
    version: opts.formatVersion,
  });
  await mkdir(`${dir}/${OBJECTS_DIR}`, { recursive: true });
  await createRoot(dir, made.masterKey, made.header);
  // The key file last: a data dir without it is just an interrupted creation.
  await writeFileAtomic(`${dir}/${KEY_FILE}`, made.bytes, true);
  return made;
}

// The root directory: inode 1, owned by whoever creates the data dir.
async function createRoot(dir: string, master: Uint8Array, header: KeyFileHeader): Promise<void> {
  const keys = StoreKeys.derive(master, header.cipher);
  try {
    const records = new RecordStore(dir, keys);
    const now = BigInt(Date.now()) * 1_000_000n;
    const owner = { uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0 };
    const rec = newRecord(ROOT_INO, S_IFDIR | 0o755, owner, now, randomBytes(16));
    rec.parent = ROOT_INO;
    rec.nlink = 2;
    await mkdir(records.paths(ROOT_INO).entries, { recursive: true });
    await records.create(rec, records.objectPlace(ROOT_INO), { durable: true });
  } finally {
    keys.wipe();
  }
}

/** Unlocks a data dir: its header and master key (the caller wipes it). */
export async function unlockDataDir(
  dir: string,
  secret: Secret,
): Promise<{ masterKey: Uint8Array; header: KeyFileHeader }> {
  const { bytes } = await readHeader(dir);
  return await unlockKeyFile(bytes, secret);
}

/**
 * Creates a data dir without opening it; returns the recovery code to show the user once.
 */
export async function initDataDir(
  dir: string,
  password: string,
  opts: CreateOptions = {},
): Promise<{ recoveryCode: string }> {
  const made = await createDataDir(dir, password, opts);
  made.masterKey.fill(0);
  return { recoveryCode: made.recoveryCode };
}

/**
 * Sets a new password, proving the right to do so with the old password or the recovery code.
 * Only the wrapped master key changes (atomically, durably); the data is untouched.
 */
export async function changePassword(dir: string, old: Secret, newPassword: string): Promise<void> {
  const { bytes } = await readHeader(dir);
  const { masterKey } = await unlockKeyFile(bytes, old);
  try {
    const next = await rewrapKeyFile(bytes, masterKey, newPassword);
    await writeFileAtomic(`${dir}/${KEY_FILE}`, next, true);
  } finally {
    masterKey.fill(0);
  }
}
