/**
 * The memory ceiling of a mount, and the cache sizes that follow from it. The ceiling is for
 * the whole process's resident memory (VmHWM) while it serves: the runtime itself (Deno, the
 * JS thread's and the chunk worker's heaps, the code) takes about {@link RUNTIME_RESERVE}; the
 * rest is shared out between data in flight (FUSE reads and writes, read-ahead, chunk images)
 * and live inodes, the only two things that grow with the workload.
 *
 * The setting is process-wide, as the memory is: set it (`setMemoryLimit`) before opening a
 * data dir; the caches read it as they are made or as they check their size.
 */

import { inodeShareNow } from "./inode_share.ts";

const MiB = 1 << 20;

/** What the runtime needs before any cache: Deno, both isolates, code, the KDF's leftovers. */
export const RUNTIME_RESERVE = 100 * MiB;
/** The default ceiling. */
export const DEFAULT_MEMORY_LIMIT = 256 * MiB;
/**
 * The lowest ceiling accepted: below it, the garbage of a stream (dead chunk buffers that V8
 * collects in bursts) overshoots the little room left over the runtime.
 */
export const MIN_MEMORY_LIMIT = 192 * MiB;
/**
 * Resident memory one live inode costs, all told: its record, location and locks, the maps
 * naming it, and the garbage collector's headroom (a 100,000-file directory listed with
 * `ls -l` grew the daemon by ~2.3 KiB per inode).
 */
export const BYTES_PER_INODE = 3 * 1024;
/**
 * Resident memory one dormant entry costs (an evicted inode kept as its record's encoding and
 * its name, src/fs/dormant_entries.ts: ~350 bytes of heap), with headroom.
 */
export const BYTES_PER_DORMANT = 640;

/** Cache sizes derived from a ceiling. */
export interface MemoryBudget {
  /** The ceiling, in bytes. */
  readonly limit: number;
  /** Bytes of FUSE read and write requests in flight; more requests wait in the kernel. */
  readonly ioBytes: number;
  /** Bytes fetched ahead for sequential readers, across all files. */
  readonly readAheadBytes: number;
  /**
   * 1 MiB chunk images shared with the chunk workers, at most: they hold the data in flight
   * and fetched ahead (beyond them, images move between threads, which costs collections).
   */
  readonly sharedImages: number;
  /** Live inodes above which idle ones are dropped (and the kernel asked to forget them). */
  readonly liveInodes: number;
  /** Bytes of evicted inodes kept dormant, so that their names list and look up without a read. */
  readonly dormantBytes: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.floor(v)));

/**
 * The budget of a ceiling of `limit` bytes (at least {@link MIN_MEMORY_LIMIT}). A tenth of what
 * is left over the runtime goes to request data in flight and a fifth to read-ahead, up to the
 * sizes that stop paying (16 MiB of requests, 32 MiB of read-ahead); the shared chunk images hold
 * those bytes; the rest is for inodes.
 */
export function memoryBudget(limit: number): MemoryBudget {
  if (!(limit >= MIN_MEMORY_LIMIT)) {
    throw new RangeError(`memory limit below ${MIN_MEMORY_LIMIT / MiB} MiB`);
  }
  const spare = limit - RUNTIME_RESERVE;
  const ioBytes = clamp(spare / 10, 4 * MiB, 16 * MiB);
  const readAheadBytes = clamp(spare / 5, 4 * MiB, 32 * MiB);
  const sharedImages = clamp((ioBytes + readAheadBytes) / MiB, 4, 32);
  const inodes = spare - ioBytes - readAheadBytes;
  // A quarter of it is headroom for garbage and for what this budget does not count. Each live
  // inode's share comes with room for one dormant entry.
  const liveInodes = clamp(inodes * 0.75 / (BYTES_PER_INODE + BYTES_PER_DORMANT), 2000, 1_000_000);
  const dormantBytes = liveInodes * BYTES_PER_DORMANT;
  return { limit, ioBytes, readAheadBytes, sharedImages, liveInodes, dormantBytes };
}

let current = memoryBudget(DEFAULT_MEMORY_LIMIT);

/** Sets the process's ceiling (bytes); caches made or checked afterwards follow it. */
export function setMemoryLimit(limit: number): void {
  current = memoryBudget(limit);
}

/** The budget in force. */
export function memoryBudgetNow(): MemoryBudget {
  return current;
}

/**
 * Live inodes in force: the budget's, scaled by the share memory pressure leaves the inode
 * caches (src/util/inode_share.ts). Read on every inode added: no allocation.
 */
export function liveInodeLimit(): number {
  return Math.floor(current.liveInodes * inodeShareNow());
}

/** Bytes of dormant entries in force, scaled like {@link liveInodeLimit}. */
export function dormantByteLimit(): number {
  return Math.floor(current.dormantBytes * inodeShareNow());
}

/**
 * Parses a size such as `256M`, `1G`, `512MiB` or a number of bytes; null when it is not one.
 * Suffixes are binary (K = 1024).
 */
export function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) return null;
  const scale = { "": 1, k: 1 << 10, m: MiB, g: 1 << 30, t: 2 ** 40 }[m[2].toLowerCase()]!;
  const bytes = Math.round(Number(m[1]) * scale);
  return Number.isFinite(bytes) ? bytes : null;
}
