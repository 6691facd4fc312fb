/**
 * The chunks of an inode file (docs/format.md, "Content"): one chunk slot of a content file, at a
 * fixed size per data dir, and where each slot lies (I/O: `src/store/content_file.ts`). Shared
 * by the JS thread (single chunks) and the chunk worker (batches), so both read and write the
 * same layout:
 *
 * - format 1–2, one slot per chunk: `len(u32 LE) || nonce || ciphertext(len) || tag`;
 * - format 3, two slots per chunk (a pair): `len(u32 LE) || gen(u64 LE) || nonce || ciphertext ||
 *   tag`. A rewrite goes to the slot that does not hold the durable version, so a power cut
 *   during it leaves that version intact; a reader takes the slot with the higher generation
 *   that opens. The generation is in the associated data. Chunks come in groups of 1, 1, 2,
 *   4, … chunks, doubling up to about 16 MiB: slot 0 of each chunk of the group, then slot 1 of
 *   each. A file written once uses slot 0 only, so within a group its chunks lie back to back
 *   (one write or read per run of chunks), and the slot-1 half of each group stays a hole of
 *   the backing file (which `lseek(SEEK_DATA)` reports without reading it).
 *
 * The associated data of chunk `i` is `"rencfs/v1/chunk\0" || u64(ino) || file id(16) || u64(i)`,
 * then `|| u64(gen)` in paired slots ({@link chunkAdTemplate}, {@link chunkAd}).
 * @module
 */
import { randomBytes } from "../../crypto/random.ts";
import { concat, u64le } from "../../util/codec.ts";

/** Bytes of the length field at the start of every chunk slot. */
const LEN_BYTES = 4;
/** Bytes of the generation field after the length (paired slots only). */
const GEN_BYTES = 8;
/** Bytes of the authentication tag after the ciphertext. */
const TAG_BYTES = 16;
/** {@link slotLength}: the slot was never written (zero length, or past the end of the file). */
export const CHUNK_UNWRITTEN = -1;
/** {@link slotLength}: the slot claims more bytes than it or the file holds. */
export const CHUNK_TRUNCATED = -2;
/** A read's chunk length: the chunk failed authentication. */
export const CHUNK_DAMAGED = -3;
/**
 * Generations above this are never written (2^52: a chunk rewritten and synced a million times a
 * second for a century stays below it), so a header claiming more is garbage, not a version.
 */
const MAX_GEN = 2 ** 52;

/** Chunk geometry of a data dir. */
export interface SlotLayout {
  chunkSize: number;
  nonceLength: number;
  /** Two slots per chunk (format 3 on). */
  paired: boolean;
}

/** Bytes before the nonce: the length, and the generation in paired slots. */
export function headerBytes(l: SlotLayout): number {
  return l.paired ? LEN_BYTES + GEN_BYTES : LEN_BYTES;
}

/** Bytes a slot holding `len` plaintext bytes occupies up to its tag. */
export function slotBytes(l: SlotLayout, len: number): number {
  return headerBytes(l) + l.nonceLength + len + TAG_BYTES;
}

/** Bytes one chunk slot occupies on disk. */
export function slotSize(l: SlotLayout): number {
  return slotBytes(l, l.chunkSize);
}

/**
 * Chunks per group at most (paired layout): about 16 MiB of chunks, a power of two. Smaller
 * files have smaller groups (see {@link groupOf}).
 */
export function maxGroup(l: SlotLayout): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, 2 ** 24 / l.chunkSize)));
}

/**
 * The group of chunk `i` (paired layout): its first chunk `a` and its size `n`. Groups double
 * from one chunk (chunks 0, 1, 2-3, 4-7, …) up to {@link maxGroup}, then stay at that size, so a
 * group's slots start at slot `2a` and a rewritten small file grows by at most its own size.
 */
export function groupOf(l: SlotLayout, i: number): { a: number; n: number } {
  const max = maxGroup(l);
  if (i >= max) {
    const a = Math.floor(i / max) * max;
    return { a, n: max };
  }
  const a = i === 0 ? 0 : 2 ** Math.floor(Math.log2(i));
  return { a, n: Math.max(1, a) };
}

/** Byte offset, from the start of the content, of slot `s` (0 or 1) of chunk `i`. */
export function slotOffset(l: SlotLayout, i: number, s: number): number {
  const size = slotSize(l);
  if (!l.paired) return i * size;
  const { a, n } = groupOf(l, i);
  return (2 * a + s * n + (i - a)) * size;
}

// Whether chunk `i` starts a group (the content of chunks before it ends where its group starts).
function startsGroup(l: SlotLayout, i: number): boolean {
  return !l.paired || groupOf(l, i).a === i;
}

/**
 * Where the content of a file of `count` chunks ends: a truncation there drops every slot of
 * the chunks from `count` on, except slot 0 of those in the same group as chunk `count - 1`
 * (they lie before its slot 1: {@link staleInGroup}).
 */
export function contentEnd(l: SlotLayout, count: number): number {
  if (count === 0) return 0;
  if (startsGroup(l, count)) return slotOffset(l, count, 0);
  return slotOffset(l, count - 1, 1) + slotSize(l);
}

/**
 * The bytes (offset from the content start, length) of slot 0 of the chunks from `count` on in
 * the group of chunk `count - 1`, which a truncation at {@link contentEnd} leaves; null if none.
 */
export function staleInGroup(l: SlotLayout, count: number): [number, number] | null {
  if (count === 0 || startsGroup(l, count)) return null;
  const { a, n } = groupOf(l, count - 1);
  const from = slotOffset(l, count, 0);
  return [from, (2 * a + n) * slotSize(l) - from]; // up to where the slot-1 half starts
}

/**
 * Splits chunks `first .. first+count-1` into runs whose slots (of either number) follow each
 * other on disk: [first, count]. One run when unpaired.
 */
export function groupRuns(l: SlotLayout, first: number, count: number): [number, number][] {
  if (!l.paired) return [[first, count]]; // consecutive slots throughout
  const out: [number, number][] = [];
  for (let i = first; i < first + count;) {
    const { a, n: size } = groupOf(l, i);
    const n = Math.min(first + count, a + size) - i;
    out.push([i, n]);
    i += n;
  }
  return out;
}

/** Label at the start of every chunk's associated data (format version 1 of chunks). */
export const CHUNK_AD_LABEL = "rencfs/v1/chunk\0";

/**
 * The associated data of the chunks of inode `ino` with file id `fileId`, with {@link adTail}
 * free bytes at the end for {@link chunkAd} to fill per chunk.
 */
export function chunkAdTemplate(l: SlotLayout, ino: bigint, fileId: Uint8Array): Uint8Array {
  return concat(
    new TextEncoder().encode(CHUNK_AD_LABEL),
    u64le(ino),
    fileId,
    new Uint8Array(adTail(l)),
  );
}

/** Bytes of the associated data after the caller's prefix: the index, and the generation. */
export function adTail(l: SlotLayout): number {
  return l.paired ? 16 : 8;
}

/**
 * The associated data of chunk `i`: `template` (ending in {@link adTail} free bytes) with the
 * index (u64 LE) and, for paired slots, the generation after it.
 */
export function chunkAd(template: Uint8Array, l: SlotLayout, i: number, gen: number): Uint8Array {
  const ad = template.slice();
  const v = new DataView(ad.buffer);
  const at = ad.length - adTail(l);
  v.setBigUint64(at, BigInt(i), true);
  if (l.paired) v.setBigUint64(at + 8, BigInt(gen), true);
  return ad;
}

/**
 * Starts the slot at `out[off..]` for `len` plaintext bytes of generation `gen`: writes the
 * header and a fresh random nonce, and returns the nonce (a view). The sealed bytes go at
 * `off + headerBytes + nonceLength`.
 */
export function startSlot(out: Uint8Array, off: number, l: SlotLayout, len: number, gen: number) {
  const v = new DataView(out.buffer, out.byteOffset);
  v.setUint32(off, len, true);
  if (l.paired) v.setBigUint64(off + LEN_BYTES, BigInt(gen), true);
  const at = off + headerBytes(l);
  const nonce = out.subarray(at, at + l.nonceLength);
  nonce.set(randomBytes(l.nonceLength));
  return nonce;
}

/**
 * The plaintext length of the slot at `span[off..]`, of which `got` bytes were read; or
 * {@link CHUNK_UNWRITTEN} / {@link CHUNK_TRUNCATED}.
 */
export function slotLength(span: Uint8Array, off: number, got: number, l: SlotLayout): number {
  if (off + LEN_BYTES > got) return CHUNK_UNWRITTEN;
  const len = new DataView(span.buffer, span.byteOffset).getUint32(off, true);
  if (len === 0) return CHUNK_UNWRITTEN;
  if (len > l.chunkSize || off + slotBytes(l, len) > got) return CHUNK_TRUNCATED;
  return len;
}

/**
 * The generation in the paired slot at `span[off..]` (its header read), or -1 when it is outside
 * what a writer ever writes (the slot is garbage). Not authenticated until the slot opens.
 */
export function slotGen(span: Uint8Array, off: number): number {
  const v = new DataView(span.buffer, span.byteOffset);
  const lo = v.getUint32(off + LEN_BYTES, true);
  const hi = v.getUint32(off + LEN_BYTES + 4, true);
  const gen = hi * 2 ** 32 + lo;
  return gen >= 1 && gen <= MAX_GEN ? gen : -1;
}

/**
 * The generation in the paired slot header at `span[off..]` when its length and generation are
 * ones a writer writes (the slot may hold a version), or -1. Not authenticated.
 */
export function plausibleGen(span: Uint8Array, off: number, l: SlotLayout): number {
  const len = new DataView(span.buffer, span.byteOffset).getUint32(off, true);
  if (len === 0 || len > l.chunkSize) return -1;
  return slotGen(span, off);
}

/** The nonce and `ciphertext || tag` of a slot whose plaintext length is `len` (views). */
export function slotParts(span: Uint8Array, off: number, l: SlotLayout, len: number) {
  const at = off + headerBytes(l);
  return {
    nonce: span.subarray(at, at + l.nonceLength),
    sealed: span.subarray(at + l.nonceLength, at + l.nonceLength + len + TAG_BYTES),
  };
}

/** One slot of a pair as read: its bytes (span, offset), length (or code) and generation. */
export interface SlotSeen {
  span: Uint8Array;
  off: number;
  /** Which slot of the pair (0 or 1). */
  slot: 0 | 1;
  len: number;
  gen: number;
}

/** Where a slot was read: `span[off..]`, of which `got` bytes hold data read. */
export interface SlotBytes {
  span: Uint8Array;
  off: number;
  got: number;
}

/**
 * The slots of a chunk worth trying, best first. Unpaired: its one slot if it has a length.
 * Paired: those with a length and a generation a writer could have written, higher generation
 * first; `other` is null when slot 1 is known to be a hole. A reader takes the first that opens.
 * `truncated` tells that some slot looked written but cannot be (cut short, or a generation no
 * writer writes).
 */
export function slotCandidates(
  first: SlotBytes,
  other: SlotBytes | null,
  l: SlotLayout,
): { tries: SlotSeen[]; truncated: boolean } {
  const tries: SlotSeen[] = [];
  let truncated = false;
  for (const [slot, b] of [[0, first], [1, l.paired ? other : null]] as const) {
    if (!b) continue;
    const len = slotLength(b.span, b.off, b.got, l);
    if (len === CHUNK_TRUNCATED) truncated = true;
    if (len < 0) continue;
    const gen = l.paired ? slotGen(b.span, b.off) : 0; // unpaired: no generation (0 in no AD)
    if (gen < 0) truncated = true;
    else tries.push({ span: b.span, off: b.off, slot, len, gen });
  }
  if (tries.length === 2 && tries[1].gen > tries[0].gen) tries.reverse();
  return { tries, truncated };
}
