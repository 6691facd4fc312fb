/**
 * Sealed blobs (docs/format.md, "Sealed blobs"): inode records and pointer entries, as
 *
 * ```
 * magic(4) || version(1) = 0x01 || nonce || ciphertext || tag(16)
 * ```
 *
 * sealed under K_obj = HMAC(K_meta, owner) with the owner as associated data, where the owner is
 * `magic ||` the place the blob belongs to ({@link blobOwner}): a blob copied to another place
 * fails to open. Sealing itself is `src/store/sealed_blob.ts` (it needs the keys).
 *
 * | magic  | blob                                          | owner after the magic          |
 * | ------ | --------------------------------------------- | ------------------------------ |
 * | `RNCM` | record slot of an inode file, object place    | u64(ino)                       |
 * | `RNCL` | record slot of an inode file, entry place     | u64(parent) \|\| entry file name |
 * | `RNCE` | pointer entry                                 | u64(parent) \|\| entry file name |
 * @module
 */
import { concat, u64le } from "../../util/codec.ts";
import { BLOB_VERSION } from "./version.ts";

const ascii = new TextEncoder();

/** Magic of a record slot of an inode file in its object place (`o/<sh>/<name>.m`). */
export const OBJECT_RECORD_MAGIC: Uint8Array = ascii.encode("RNCM");
/** Magic of a record slot of an inode file in an entry place (sealed for that name). */
export const ENTRY_RECORD_MAGIC: Uint8Array = ascii.encode("RNCL");
/** Magic of a pointer entry. */
export const POINTER_MAGIC: Uint8Array = ascii.encode("RNCE");

/** Bytes before the nonce: magic and version. */
export const BLOB_HEADER_BYTES = 5;
/** Bytes of the authentication tag at the end. */
export const BLOB_TAG_BYTES = 16;

/** Why a blob could not be opened: the caller turns this into EIO and logs the path. */
export class CorruptObjectError extends Error {}

/** The place part of the owner of a record in the object place of inode `ino`. */
export function objectPlaceAd(ino: bigint): Uint8Array {
  return u64le(ino);
}

/**
 * The place part of the owner of a blob in entry file `file` of directory `parent`: a pointer
 * entry, or a record slot of the inode file living there.
 */
export function entryPlaceAd(parent: bigint, file: string): Uint8Array {
  return concat(u64le(parent), ascii.encode(file));
}

/** The owner of a blob: its associated data, and what its sealing key is derived from. */
export function blobOwner(magic: Uint8Array, ad: Uint8Array): Uint8Array {
  return concat(magic, ad);
}

/** Bytes of a blob whose plaintext is `plaintextLength` bytes. */
export function blobLength(nonceLength: number, plaintextLength: number): number {
  return BLOB_HEADER_BYTES + nonceLength + plaintextLength + BLOB_TAG_BYTES;
}

/** A blob from its magic, nonce and `ciphertext || tag`. */
export function frameBlob(magic: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array {
  return concat(magic, Uint8Array.of(BLOB_VERSION), nonce, sealed);
}

/**
 * The nonce and `ciphertext || tag` of a blob of kind `magic` (views); CorruptObjectError when
 * it is too short, of another kind or of an unknown version.
 */
export function splitBlob(
  magic: Uint8Array,
  blob: Uint8Array,
  nonceLength: number,
): { nonce: Uint8Array; sealed: Uint8Array } {
  if (blob.length < blobLength(nonceLength, 0)) throw new CorruptObjectError("truncated");
  for (let i = 0; i < magic.length; i++) {
    if (blob[i] !== magic[i]) throw new CorruptObjectError("wrong magic");
  }
  if (blob[4] !== BLOB_VERSION) throw new CorruptObjectError(`unknown version ${blob[4]}`);
  const at = BLOB_HEADER_BYTES;
  return {
    nonce: blob.subarray(at, at + nonceLength),
    sealed: blob.subarray(at + nonceLength),
  };
}
