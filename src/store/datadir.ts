/**
 * A data dir as a whole: telling ours from anything else, creating one, unlocking it, and
 * changing its password. Nothing here writes to a data dir it has not validated first.
 */
import { lstat, mkdir, readFile, stat, unlink } from "node:fs/promises";
import { resolve } from "node:path";
import { type CipherName, DEFAULT_CIPHER } from "../crypto/aead.ts";
import {
  createKeyFile,
  DamagedKeyFileError,
  type KeyFileHeader,
  NotADataDirError,
  parseKeyFile,
  rewrapKeyFile,
  unlockKeyFile,
} from "./keyfile.ts";
import { fsyncDir, writeFileAtomic } from "./atomic_file.ts";
import { KEY_BACKUP, KEY_FILE, OBJECTS_DIR, TMP_MARK } from "./format/paths.ts";
import {
  creatableChunkSize,
  DEFAULT_CHUNK_SIZE,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
} from "./format/chunk_size.ts";
import { settleFolder, settleMadeFolders } from "./backing_times.ts";
import { listFolder, sysOpenObject } from "./object_io.ts";
import { sysClose, sysError, sysFstat, sysPread } from "../../ffi/sysio.ts";
import { constants } from "node:fs";
import { StoreKeys } from "./keys.ts";
import { RecordStore } from "./record_store.ts";
import { newRecord } from "./inode_record.ts";
import { randomBytes } from "../crypto/random.ts";
import { ROOT_INO, S_IFDIR } from "./posix.ts";

// The chunk-size rule and the key file names are the format's; re-exported for mod.ts and the
// CLI. The backup is written after the key file and never holds an older password (see
// writeKeyFiles).
export { DEFAULT_CHUNK_SIZE, KEY_BACKUP };

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
  formatVersion?: 1 | 2 | 3;
}

/** How to unlock: the password, or the recovery code shown at creation. */
export type Secret = { password: string } | { recoveryCode: string };

/** Tells what `dir` is without changing anything. */
export async function inspectDataDir(dir: string): Promise<DataDirState> {
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) return "foreign";
    // O_NOATIME: looking leaves no access time on the data dir.
    names = (await listFolder(dir, { follow: true })) ?? [];
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return "missing";
    throw e;
  }
  if (names.length === 0) return "empty";
  return names.includes(KEY_FILE) || names.includes(KEY_BACKUP) ? "rencfs" : "foreign";
}

/**
 * What of a data dir other users can reach: one line per folder (the data dir, `o/`) or key
 * file whose mode grants group or other users any access, with the command that fixes it.
 * Nothing is changed: a group-shared data dir may be deliberate (a sync daemon running as
 * another user), and rencfs creates its own folders 0700 and files 0600 whatever the umask.
 */
export async function permissionWarnings(dir: string): Promise<string[]> {
  const out: string[] = [];
  const checks: [string, number][] = [
    [dir, 0o700],
    [`${dir}/${OBJECTS_DIR}`, 0o700],
    [`${dir}/${KEY_FILE}`, 0o600],
    [`${dir}/${KEY_BACKUP}`, 0o600],
  ];
  for (const [path, want] of checks) {
    let mode: number;
    try {
      mode = (await lstat(path)).mode & 0o7777;
    } catch {
      continue; // missing: other checks report that
    }
    if ((mode & 0o077) === 0) continue;
    const octal = mode.toString(8).padStart(4, "0");
    out.push(
      `${path} is open to other users (mode ${octal}): they can see the structure ` +
        `and sizes${
          path.endsWith(KEY_FILE) || path.endsWith(KEY_BACKUP) ? " and try passwords offline" : ""
        }; ` +
        `chmod ${want.toString(8)} '${path}'`,
    );
  }
  return out;
}

/** A key file as read from a data dir. */
export interface KeyFileRead {
  bytes: Uint8Array;
  header: KeyFileHeader;
  /**
   * Set when `rencfs.conf` was damaged or missing and these bytes come from
   * {@link KEY_BACKUP}: why `rencfs.conf` could not be used.
   */
  fromBackup?: string;
}

/**
 * Reads and checks the key file's header (no password needed). When `rencfs.conf` is damaged
 * (checksum wrong, unparsable) or missing and its backup is intact, the backup is used. A
 * `rencfs.conf` that parses is always the one used, whatever the backup holds: a wrong
 * password never falls back to the backup.
 */
export async function readHeader(dir: string): Promise<KeyFileRead> {
  const main = await readKeyFileBytes(`${dir}/${KEY_FILE}`);
  let why: string;
  let failure: unknown;
  if (main === undefined) {
    failure = new NotADataDirError(`${dir} is not a rencfs data dir (no ${KEY_FILE})`);
    why = "it is missing";
  } else {
    try {
      return { bytes: main, header: parseKeyFile(main) };
    } catch (e) {
      // Newer format or not ours: written on purpose, so the backup cannot be better.
      if (!(e instanceof DamagedKeyFileError)) throw e;
      failure = e;
      why = e.message.replace(/^the key file is damaged: /, "");
    }
  }
  const backup = await readKeyFileBytes(`${dir}/${KEY_BACKUP}`);
  if (backup !== undefined) {
    try {
      return { bytes: backup, header: parseKeyFile(backup), fromBackup: why };
    } catch {
      // The backup is damaged too: report rencfs.conf's problem.
    }
  }
  throw failure;
}

async function readKeyFileBytes(path: string): Promise<Uint8Array | undefined> {
  // O_NOATIME: reading the key file at every open must not leave the time of each mount.
  const fd = sysOpenObject(path, constants.O_RDONLY);
  if (fd === -2) return undefined; // ENOENT
  if (fd < 0) return await readFile(path); // any other failure: report it as node:fs does
  try {
    const st = sysFstat(fd);
    if (typeof st === "number") throw sysError(st, "fstat", path);
    if (st.size > MAX_KEY_FILE) {
      throw new DamagedKeyFileError("the key file is damaged: it is far too large");
    }
    const buf = new Uint8Array(st.size);
    let got = 0;
    while (got < buf.length) {
      const r = sysPread(fd, buf.subarray(got), got);
      if (r < 0) throw sysError(r, "read", path);
      if (r === 0) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    sysClose(fd);
  }
}

/** Larger than any key file rencfs writes (under 1 KiB) by far; a bigger one is not read. */
const MAX_KEY_FILE = 1 << 20;

/** Whether `bytes` is an intact key file. */
function intact(bytes: Uint8Array | undefined): bytes is Uint8Array {
  if (bytes === undefined) return false;
  try {
    parseKeyFile(bytes);
    return true;
  } catch {
    return false;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Writes the key file and then its backup, each atomically and durably. An existing backup is
 * removed first: at no moment does a backup exist that differs from an intact `rencfs.conf`, so
 * an old backup can never keep an old password working (it would be used only if the new
 * `rencfs.conf` were damaged).
 */
async function writeKeyFiles(dir: string, bytes: Uint8Array): Promise<void> {
  const hadBackup = await unlink(`${dir}/${KEY_BACKUP}`).then(() => true, (e) => {
    if ((e as { code?: string }).code === "ENOENT") return false;
    throw e;
  });
  if (hadBackup) await fsyncDir(dir);
  await writeFileAtomic(`${dir}/${KEY_FILE}`, bytes, true);
  await writeFileAtomic(`${dir}/${KEY_BACKUP}`, bytes, true);
}

/**
 * Removes what an interrupted key file write left: `rencfs.conf.tmp-*` holds the master key
 * wrapped under a password that was never confirmed. Returns the names removed.
 */
async function removeKeyFileLeftovers(dir: string): Promise<string[]> {
  const prefixes = [`${KEY_FILE}${TMP_MARK}`, `${KEY_BACKUP}${TMP_MARK}`];
  const removed: string[] = [];
  for (const name of await listFolder(dir, { follow: true }) ?? []) {
    if (!prefixes.some((p) => name.startsWith(p))) continue;
    await unlink(`${dir}/${name}`).catch((e) => {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    });
    removed.push(name);
  }
  if (removed.length) settleFolder(dir);
  return removed;
}

/**
 * Serializes changes to the key files of `dir` between processes: `passwd` and the repair at a
 * writable open. An flock on the data dir's objects folder, because a mount holds the lock on
 * the data dir itself for as long as it runs, and `passwd` works on a mounted data dir.
 */
async function withKeyFileLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  let f: Deno.FsFile | undefined;
  try {
    f = await Deno.open(`${dir}/${OBJECTS_DIR}`, { read: true });
    await f.lock(true);
  } catch {
    f?.close();
    f = undefined; // no objects folder (a damaged data dir): go on unlocked
  }
  try {
    return await fn();
  } finally {
    f?.close(); // closing releases the lock
  }
}

/**
 * Brings the key files of a data dir back to a sound state (on a writable open, after the
 * password was accepted): removes leftovers of interrupted writes, restores a damaged or missing
 * `rencfs.conf` from an intact backup, and (re)writes a backup that is missing, damaged or
 * different from an intact `rencfs.conf`. Returns one line per change worth a warning.
 */
export async function repairKeyFiles(dir: string): Promise<string[]> {
  return await withKeyFileLock(dir, async () => {
    const done: string[] = [];
    for (const name of await removeKeyFileLeftovers(dir)) {
      done.push(`removed ${name}, left by an interrupted key file write`);
    }
    // Read again under the lock: a `passwd` may have run since the caller read them.
    const main = await readKeyFileBytes(`${dir}/${KEY_FILE}`);
    const backup = await readKeyFileBytes(`${dir}/${KEY_BACKUP}`);
    if (intact(main)) {
      if (backup === undefined || !sameBytes(main, backup)) {
        await writeFileAtomic(`${dir}/${KEY_BACKUP}`, main, true);
        // A missing backup is no news: data dirs made before backups existed have none.
        if (backup !== undefined) {
          const what = intact(backup) ? "differed from it" : "was damaged";
          done.push(`rewrote ${KEY_BACKUP} from ${KEY_FILE} (it ${what})`);
        }
      }
    } else if (intact(backup)) {
      await writeFileAtomic(`${dir}/${KEY_FILE}`, backup, true);
      done.push(`restored ${KEY_FILE} from ${KEY_BACKUP}`);
    }
    return done;
  });
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
  if (!creatableChunkSize(chunkSize)) {
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
  // Owner only: names, sizes and times of the objects are nobody else's business.
  // Absolute, as mkdir's answer is: only folders from the data dir down have their times settled.
  const root = resolve(dir);
  const objects = `${root}/${OBJECTS_DIR}`;
  settleMadeFolders(objects, await mkdir(objects, { recursive: true, mode: 0o700 }), root);
  await createRoot(dir, made.masterKey, made.header);
  // The key files last: a data dir without them is just an interrupted creation.
  await writeKeyFiles(dir, made.bytes);
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
    const folder = records.paths(ROOT_INO).entries;
    settleMadeFolders(folder, await mkdir(folder, { recursive: true, mode: 0o700 }));
    await records.create(rec, records.objectPlace(ROOT_INO), { durable: true });
  } finally {
    keys.wipe();
  }
}

/** Options of {@link unlockDataDir}. */
export interface UnlockOptions {
  /**
   * A writable open: once unlocked, repair the key files ({@link repairKeyFiles}). Read-only
   * opens change nothing.
   */
  repair?: boolean;
  /** Told about a damaged key file and each repair (path, what happened). */
  onDamaged?: (path: string, reason: string) => void;
}

/**
 * Unlocks a data dir: its header and master key (the caller wipes it). Uses the backup of a
 * damaged key file (see {@link readHeader}); nothing is written unless the secret was right.
 */
export async function unlockDataDir(
  dir: string,
  secret: Secret,
  opts: UnlockOptions = {},
): Promise<{ masterKey: Uint8Array; header: KeyFileHeader }> {
  const read = await readHeader(dir);
  const unlocked = await unlockKeyFile(read.bytes, secret);
  if (read.fromBackup !== undefined) {
    opts.onDamaged?.(
      `${dir}/${KEY_FILE}`,
      `${read.fromBackup}; opened with its backup ${KEY_BACKUP}` +
        (opts.repair ? "" : " (read-only: not restored)"),
    );
  }
  if (opts.repair) {
    try {
      for (const change of await repairKeyFiles(dir)) {
        opts.onDamaged?.(`${dir}/${KEY_FILE}`, change);
      }
    } catch (e) {
      unlocked.masterKey.fill(0);
      throw e;
    }
  }
  return unlocked;
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
 * Only the wrapped master key changes (atomically, durably, in the key file and then its
 * backup); the data is untouched. Leftovers of interrupted key file writes are removed. A
 * damaged key file is read from its backup, and so repaired.
 */
export async function changePassword(dir: string, old: Secret, newPassword: string): Promise<void> {
  await withKeyFileLock(dir, async () => {
    const { bytes } = await readHeader(dir);
    const { masterKey } = await unlockKeyFile(bytes, old);
    try {
      await removeKeyFileLeftovers(dir);
      const next = await rewrapKeyFile(bytes, masterKey, newPassword);
      await writeKeyFiles(dir, next);
    } finally {
      masterKey.fill(0);
    }
  });
}
