/**
 * Names and paths of a data dir (docs/format.md, "Layout"). The tree is flat and sharded: every
 * inode's objects sit in `o/<sh>/` under a keyed 26-character name, so nothing on disk mirrors the
 * directory tree and no path component is longer than 40 characters.
 *
 * ```
 * rencfs.conf                 key file            rencfs.conf.bak   its copy
 * o/<sh>/<name>.m             inode file of a directory or of an inode with several names
 * o/<sh>/<name>.d/<entry>     one file per name: a pointer entry, or the inode file of that name
 * t/<16 chars>                trash              q/<old path, / as _>   fsck's quarantine
 * *.tmp-<8 chars>             debris of an interrupted atomic write
 * ```
 *
 * The keyed names are HMAC-SHA256 digests (the keys are the store's), cut to
 * {@link NAME_DIGEST_BYTES} and written in {@link keyedName} form; this module gives the HMAC's
 * input and the text, not the key.
 * @module
 */
import { base32 } from "../../util/base32.ts";
import { concat, u64le } from "../../util/codec.ts";

/** The key file, at the top of the data dir. */
export const KEY_FILE = "rencfs.conf";
/** Byte-for-byte copy of the key file, read only when {@link KEY_FILE} is damaged or missing. */
export const KEY_BACKUP = `${KEY_FILE}.bak`;
/** Folder of every inode's objects, sharded. */
export const OBJECTS_DIR = "o";
/** Folder of removed objects waiting to be deleted. */
export const TRASH_DIR = "t";
/** Folder of objects `fsck --repair` took out of the tree (never read by the mount). */
export const QUARANTINE_DIR = "q";
/** Marker of temporary files: a name containing it is debris of an interrupted write. */
export const TMP_MARK = ".tmp-";
/** Suffix of an inode file in its object place. */
export const RECORD_SUFFIX = ".m";
/** Suffix of a directory's entry folder. */
export const ENTRIES_SUFFIX = ".d";

/** Bytes of the HMAC digest kept for an object or entry file name (26 base32 characters). */
export const NAME_DIGEST_BYTES = 16;
/** Characters of an object name that name its shard (1024 shards). */
export const SHARD_CHARS = 2;
/** Object and entry file names: 26 characters of lower-case base32. */
export const OBJECT_NAME = /^[a-z2-7]{26}$/;
/** Random bytes in a trash name (16 base32 characters). */
export const TRASH_NAME_BYTES = 10;
/** Random bytes after {@link TMP_MARK} in a temporary name (8 base32 characters). */
export const TMP_NAME_BYTES = 5;

/** The HMAC input (under K_objects) of the object name of inode `ino`. */
export function objectNameInput(ino: bigint): Uint8Array {
  return u64le(ino);
}

/** The HMAC input (under K_names) of the entry file name of `name` in directory `dir`. */
export function entryNameInput(dir: bigint, name: Uint8Array): Uint8Array {
  return concat(u64le(dir), name);
}

/** An object or entry file name from its digest ({@link NAME_DIGEST_BYTES} bytes). */
export function keyedName(digest: Uint8Array): string {
  return base32(digest);
}

/** Paths of one inode's objects, given its keyed object name. */
export interface ObjectPaths {
  /** The shard folder `o/<sh>`. */
  shard: string;
  /** The object place `o/<sh>/<name>.m`. */
  record: string;
  /** The entry folder `o/<sh>/<name>.d`. */
  entries: string;
}

/** The paths of the objects named `name` under data dir `root`. */
export function objectPaths(root: string, name: string): ObjectPaths {
  const shard = `${root}/${OBJECTS_DIR}/${name.slice(0, SHARD_CHARS)}`;
  return {
    shard,
    record: `${shard}/${name}${RECORD_SUFFIX}`,
    entries: `${shard}/${name}${ENTRIES_SUFFIX}`,
  };
}

/** The path of entry file `file` in entry folder `folder`. */
export function entryPath(folder: string, file: string): string {
  return `${folder}/${file}`;
}

/** The name in `t/` of a removed object, from {@link TRASH_NAME_BYTES} random bytes. */
export function trashName(random: Uint8Array): string {
  return base32(random);
}

/** The temporary path an atomic write of `path` goes through, from random bytes. */
export function tmpPath(path: string, random: Uint8Array): string {
  return `${path}${TMP_MARK}${base32(random)}`;
}

/** Whether a file name is debris of an interrupted atomic write. */
export function isTmpName(name: string): boolean {
  return name.includes(TMP_MARK);
}
