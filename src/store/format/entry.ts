/**
 * The plaintext of a pointer entry (docs/format.md, "Pointer entry plaintext"): a sealed blob of
 * kind `RNCE` (blob.ts) in an entry file, naming the inode of that name:
 *
 * ```
 * u64 child ino || u32 type bits (S_IFDIR …) || u32 length || name bytes || padding
 * ```
 *
 * padded (`Writer.pad`) to a multiple of {@link ENTRY_QUANTUM}. An entry file starting with
 * `RNCI` is an inode file instead (inode_file.ts). Reading and writing entry files is
 * `src/store/dir_store.ts`.
 * @module
 */
import { Reader, Writer } from "../../util/codec.ts";

/** Entries are padded to a multiple of this many bytes: name lengths leak only as a bucket. */
export const ENTRY_QUANTUM = 64;
/** Largest pointer entry file: a 255-byte name and fixed fields fit many times over. */
export const MAX_ENTRY_BYTES = 4096;

/** What a pointer entry names. */
export interface Pointer {
  ino: bigint;
  /** Type bits (S_IFDIR …). */
  type: number;
  name: Uint8Array;
}

/** The plaintext of a pointer entry. */
export function encodePointer(p: Pointer): Uint8Array {
  return new Writer().u64(p.ino).u32(p.type).bytes(p.name).pad(ENTRY_QUANTUM).finish();
}

/** Decodes a pointer entry's plaintext; DecodeError when malformed (only if forged). */
export function decodePointer(pt: Uint8Array): Pointer {
  const rd = new Reader(pt);
  const p = { ino: rd.u64(), type: rd.u32(), name: rd.bytes() };
  rd.pad();
  rd.end();
  return p;
}
