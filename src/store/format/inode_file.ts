/**
 * The inode file (docs/format.md, "Inode file: header, two record slots, content"), the same in
 * an object place (`o/<sh>/<name>.m`) and in an entry place (the entry file of the inode's only
 * name):
 *
 * ```
 * header (16 bytes):  "RNCI" || version u8 = 1 || 0 (3) || slot size S (u32) || 0 (4)
 * slot 0 at 16:       len (u32) || sealed record (len bytes) || unused
 * slot 1 at 16 + S:   len (u32) || sealed record (len bytes) || unused
 * chunks at 16 + 2S:  the content of a regular file (chunk_slot.ts)
 * ```
 *
 * A slot's blob is sealed (blob.ts) as `RNCM` with the record as plaintext in an object place,
 * as `RNCL` with plaintext `u32 name length || name || padding || record`
 * ({@link encodePlacedRecord}) in an entry place. Regular files have S = {@link REGULAR_SLOT}, so
 * header and slots fill exactly 8 KiB; other inodes' S is a multiple of 512 ({@link slotSizeFor}).
 * Reading and writing the file, and which slot is current, is `src/store/record_store.ts`.
 * @module
 */
import { concat, Reader, Writer } from "../../util/codec.ts";
import { blobLength, CorruptObjectError } from "./blob.ts";
import { MAX_HOLES } from "./record.ts";
import { INODE_FILE_VERSION } from "./version.ts";

/** First bytes of every inode file (an entry file starting otherwise is a pointer entry). */
export const INODE_FILE_MAGIC: Uint8Array = new TextEncoder().encode("RNCI");
/** Bytes before slot 0. */
export const HEADER_BYTES = 16;
/** Slot size of regular files, whose chunks follow the slots: records must fit in it. */
export const REGULAR_SLOT = 4088;
/** Smallest slot size; other inodes' slots are multiples of it. */
export const SLOT_QUANTUM = 512;
/** Largest slot size, and largest sealed record: xattrs are capped at 256 KiB, targets at 4 KiB. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** Bytes of the length field at the start of a slot. */
export const SLOT_LENGTH_BYTES = 4;
/** Names in an entry-place record are padded to this multiple: their length leaks a bucket. */
export const NAME_QUANTUM = 64;
/** Room a record keeps for the longest name (u32 length, 255 bytes, padding): renames fit. */
export const NAME_ROOM = 4 + 255 + NAME_QUANTUM;

/**
 * Slot size for a non-regular inode whose blob is `blobLength` bytes: length field and blob,
 * rounded up to {@link SLOT_QUANTUM} with room to grow and to take the longest name (so moving it
 * to another name never outgrows its slot).
 */
export function slotSizeFor(blobLength: number): number {
  return Math.ceil((blobLength + SLOT_LENGTH_BYTES + 256 + NAME_ROOM) / SLOT_QUANTUM) *
    SLOT_QUANTUM;
}

/** Where the content chunks of an inode file with slots of `slotSize` bytes start. */
export function contentBase(slotSize: number): number {
  return HEADER_BYTES + 2 * slotSize;
}

/** Byte offset of record slot `slot` (0 or 1) in an inode file with slots of `slotSize`. */
export function recordSlotAt(slot: 0 | 1, slotSize: number): number {
  return HEADER_BYTES + slot * slotSize;
}

/** Whether a blob of `blobLength` bytes fits a slot of `slotSize` bytes. */
export function fitsSlot(blobLength: number, slotSize: number): boolean {
  return blobLength + SLOT_LENGTH_BYTES <= slotSize;
}

/**
 * Whether a regular file's record of `recordLength` plaintext bytes (sealed with nonces of
 * `nonceLength`) fits its slot of `slotSize` bytes with room kept for the largest hole list it
 * may grow to and for the longest name: regular files' slots never grow.
 */
export function regularRecordFits(
  recordLength: number,
  nonceLength: number,
  slotSize: number,
): boolean {
  const sealed = blobLength(nonceLength, recordLength);
  return sealed + SLOT_LENGTH_BYTES + MAX_HOLES * 16 + NAME_ROOM <= slotSize;
}

/** The 16-byte header of an inode file with slots of `slotSize` bytes. */
export function encodeHeader(slotSize: number): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h.set(INODE_FILE_MAGIC, 0);
  h[4] = INODE_FILE_VERSION;
  new DataView(h.buffer).setUint32(8, slotSize, true);
  return h;
}

/** Whether the file bytes `head` start like an inode file. */
export function isInodeFile(head: Uint8Array): boolean {
  return head.length >= 4 && INODE_FILE_MAGIC.every((b, k) => head[k] === b);
}

/** Whether the first bytes of a file are empty or zeros: an object created but never written. */
export function neverWritten(head: Uint8Array): boolean {
  return head.length < 4 || (head[0] | head[1] | head[2] | head[3]) === 0;
}

/** How many bytes of an inode file hold its header and slots, judging from its first bytes. */
export function headBytes(head: Uint8Array): number {
  if (head.length < HEADER_BYTES) return HEADER_BYTES;
  const size = new DataView(head.buffer, head.byteOffset, HEADER_BYTES).getUint32(8, true);
  return HEADER_BYTES + 2 * Math.min(size, MAX_RECORD_BYTES);
}

/** The slot size in the header of `file`; CorruptObjectError for a bad header or slot size. */
export function parseHeader(file: Uint8Array): number {
  if (!isInodeFile(file) || file.length < HEADER_BYTES || file[4] !== INODE_FILE_VERSION) {
    throw new CorruptObjectError("not an inode file (bad header)");
  }
  const slotSize = new DataView(file.buffer, file.byteOffset, HEADER_BYTES).getUint32(8, true);
  if (slotSize < SLOT_QUANTUM || slotSize > MAX_RECORD_BYTES) {
    throw new CorruptObjectError(`bad slot size ${slotSize}`);
  }
  return slotSize;
}

/** One record slot that was written: its blob (a copy), or why it cannot hold one. */
export interface SlotBlob {
  slot: 0 | 1;
  blob: Uint8Array | CorruptObjectError;
}

/**
 * The written slots of `file` (header and slots as read, slots of `slotSize`). A slot with
 * length 0, or past the end of the file (left sparse), was never written and is left out.
 */
export function slotBlobs(file: Uint8Array, slotSize: number): SlotBlob[] {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const out: SlotBlob[] = [];
  for (const slot of [0, 1] as const) {
    const at = recordSlotAt(slot, slotSize);
    if (at + SLOT_LENGTH_BYTES > file.length) continue;
    const len = dv.getUint32(at, true);
    if (len === 0) continue;
    const from = at + SLOT_LENGTH_BYTES;
    out.push({
      slot,
      blob: len > slotSize - SLOT_LENGTH_BYTES || from + len > file.length
        ? new CorruptObjectError("slot length out of range")
        : file.slice(from, from + len),
    });
  }
  return out;
}

/** The bytes of a slot that matter: length and blob (the rest of the slot is never read). */
export function slotImage(blob: Uint8Array): Uint8Array {
  const img = new Uint8Array(SLOT_LENGTH_BYTES + blob.length);
  new DataView(img.buffer).setUint32(0, blob.length, true);
  img.set(blob, SLOT_LENGTH_BYTES);
  return img;
}

/** The plaintext of an entry-place record slot: the name, padded, then the record's bytes. */
export function encodePlacedRecord(name: Uint8Array, record: Uint8Array): Uint8Array {
  return concat(new Writer().bytes(name).pad(NAME_QUANTUM).finish(), record);
}

/** The name and the record's bytes (a view) in an entry-place record slot's plaintext. */
export function decodePlacedRecord(pt: Uint8Array): { name: Uint8Array; record: Uint8Array } {
  const rd = new Reader(pt);
  const name = rd.bytes();
  rd.pad();
  return { name, record: pt.subarray(rd.position) };
}
