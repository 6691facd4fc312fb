/**
 * The largest file the backing filesystem takes, and so the largest plaintext file: ext4 with
 * 4 KiB blocks stops at 16 TiB, and a file's chunk slots take about twice its size (two slots
 * per chunk). Checking a write or a truncation against it before anything changes refuses it
 * with EFBIG and leaves the file as it was, as ext4 does; finding out from the backing write
 * would leave the record already grown to the write's offset.
 * @module
 */
import { errnoName, sysClose, sysFtruncate, sysOpen } from "../../ffi/sysio.ts";
import { fileSizeLimit } from "../../ffi/rlimits.ts";
import { contentEnd, type SlotLayout } from "./format/chunk_slot.ts";
import { contentBase, MAX_RECORD_BYTES } from "./format/inode_file.ts";

/** Largest plaintext file whatever the backing filesystem: offsets stay exact in a JS number. */
export const MAX_FILE_SIZE = 2 ** 50;

const O_RDWR = 2;
const O_TMPFILE = 0o20200000; // with O_DIRECTORY, as the kernel wants it
/** Sizes are probed in steps of this (a block). */
const STEP = 4096;
/** Past this, the probe stops: the backing filesystem is no limit for MAX_FILE_SIZE. */
const PROBE_TOP = 2 ** 53;

// ftruncate's answer to a size past the filesystem's limit (EINVAL where it is past 2^63).
const tooLarge = (r: number) => r < 0 && (errnoName(r) === "EFBIG" || errnoName(r) === "EINVAL");

/**
 * The largest size a file in `folder` can have (bytes): the backing filesystem's limit, found by
 * growing an unnamed file (O_TMPFILE: nothing is left behind, even by a crash) with ftruncate,
 * which allocates nothing, and never past `ulimit -f`. Infinity (or `ulimit -f`) when there is no
 * limit below 2^53, or when the probe cannot run or fails otherwise than "too large" (a read-only
 * folder, a filesystem without O_TMPFILE or truncation).
 */
export function probeBackingMaxSize(folder: string): number {
  const rlimit = fileSizeLimit();
  const fd = sysOpen(folder, O_TMPFILE | O_RDWR, 0o600);
  if (fd < 0) return rlimit;
  try {
    const top = Math.min(PROBE_TOP, rlimit);
    const first = sysFtruncate(fd, top);
    if (first === 0) return top === PROBE_TOP ? Infinity : top;
    // Only "too large" answers bound the size; any other failure (or none taken at all) says
    // nothing about it, and must not turn every write into EFBIG.
    if (!tooLarge(first)) return rlimit;
    if (sysFtruncate(fd, STEP) !== 0) return rlimit;
    // Largest multiple of STEP that ftruncate takes: lo takes, hi does not.
    let lo = 1;
    let hi = Math.floor(top / STEP);
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const r = sysFtruncate(fd, mid * STEP);
      if (r === 0) lo = mid;
      else if (tooLarge(r)) hi = mid;
      else return rlimit;
    }
    return lo * STEP;
  } finally {
    sysClose(fd);
  }
}

/**
 * The largest plaintext size (a whole number of chunks, at most {@link MAX_FILE_SIZE}) whose
 * inode file fits in `backingMax` bytes, whatever its record slots (the largest record).
 */
export function maxPlaintextSize(l: SlotLayout, backingMax: number): number {
  const chunks = Math.floor(MAX_FILE_SIZE / l.chunkSize);
  const room = backingMax - contentBase(MAX_RECORD_BYTES);
  if (room >= contentEnd(l, chunks)) return MAX_FILE_SIZE;
  // contentEnd grows with the chunk count: the largest count that fits.
  let lo = 0;
  let hi = chunks;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (contentEnd(l, mid) <= room) lo = mid;
    else hi = mid;
  }
  return lo * l.chunkSize;
}
