/**
 * One chunk slot of a content file: `len(u32 LE) || nonce || ciphertext(len) || tag`, at a fixed
 * size per data dir (see `content_file.ts`). Shared by the JS thread (single chunks) and the
 * chunk worker (batches), so both read and write the same layout.
 */
import { randomBytes } from "../crypto/random.ts";

/** Bytes of the length field at the start of every chunk slot. */
export const LEN_BYTES = 4;
/** Bytes of the authentication tag after the ciphertext. */
const TAG_BYTES = 16;
/** {@link slotLength}: the slot was never written (zero length, or past the end of the file). */
export const CHUNK_UNWRITTEN = -1;
/** {@link slotLength}: the slot claims more bytes than it or the file holds. */
export const CHUNK_TRUNCATED = -2;
/** A read's chunk length: the chunk failed authentication. */
export const CHUNK_DAMAGED = -3;

/** Bytes a slot holding `len` plaintext bytes occupies up to its tag. */
export function slotBytes(nonceLength: number, len: number): number {
  return LEN_BYTES + nonceLength + len + TAG_BYTES;
}

/** The associated data of chunk `i`: `template` with its last 8 bytes set to `i` (LE). */
export function chunkAd(template: Uint8Array, i: number): Uint8Array {
  const ad = template.slice();
  new DataView(ad.buffer).setBigUint64(ad.length - 8, BigInt(i), true);
  return ad;
}

/**
 * Starts the slot at `out[off..]` for `len` plaintext bytes: writes the length and a fresh random
 * nonce, and returns the nonce (a view). The sealed bytes go at `off + LEN_BYTES + nonceLength`.
 */
export function startSlot(out: Uint8Array, off: number, nonceLength: number, len: number) {
  new DataView(out.buffer, out.byteOffset).setUint32(off, len, true);
  const nonce = out.subarray(off + LEN_BYTES, off + LEN_BYTES + nonceLength);
  nonce.set(randomBytes(nonceLength));
  return nonce;
}

/**
 * The plaintext length of the slot at `span[off..]`, of which `got` bytes were read; or
 * {@link CHUNK_UNWRITTEN} / {@link CHUNK_TRUNCATED}.
 */
export function slotLength(
  span: Uint8Array,
  off: number,
  got: number,
  nonceLength: number,
  chunkSize: number,
): number {
  if (off + LEN_BYTES > got) return CHUNK_UNWRITTEN;
  const len = new DataView(span.buffer, span.byteOffset).getUint32(off, true);
  if (len === 0) return CHUNK_UNWRITTEN;
  if (len > chunkSize || off + slotBytes(nonceLength, len) > got) return CHUNK_TRUNCATED;
  return len;
}

/** The nonce and `ciphertext || tag` of a slot whose plaintext length is `len` (views). */
export function slotParts(span: Uint8Array, off: number, nonceLength: number, len: number) {
  const at = off + LEN_BYTES;
  return {
    nonce: span.subarray(at, at + nonceLength),
    sealed: span.subarray(at + nonceLength, at + nonceLength + len + TAG_BYTES),
  };
}
