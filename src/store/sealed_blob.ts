/**
 * Small sealed objects (inode records, directory entries): `magic(4) || version(1) || nonce ||
 * ciphertext || tag`, with associated data naming the kind, the format version and what the
 * blob belongs to, so a blob moved to another place fails to open.
 */
import { randomBytes } from "../crypto/random.ts";
import type { StoreKeys } from "./keys.ts";
import type { AeadKey } from "../crypto/aead.ts";
import { concat } from "../util/codec.ts";

/** On-disk format version of sealed blobs and chunks. */
export const BLOB_VERSION = 1;

/** Why a blob could not be opened: the caller turns this into EIO and logs the path. */
export class CorruptObjectError extends Error {}

/** Seals `plaintext` as a blob of kind `magic` (4 ASCII bytes). */
export async function sealBlob(
  keys: StoreKeys,
  magic: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  const nonce = randomBytes(keys.metaAead.nonceLength);
  const owner = concat(magic, ad);
  const sealed = await keys.metaAead.seal(await keys.metaKey(owner), nonce, plaintext, owner);
  return concat(magic, Uint8Array.of(BLOB_VERSION), nonce, sealed);
}

/**
 * Opens a blob sealed by {@link sealBlob}; throws CorruptObjectError on any mismatch. `key`:
 * the blob's sealing key when the caller already derived it (several blobs of one owner).
 */
export async function openBlob(
  keys: StoreKeys,
  magic: Uint8Array,
  ad: Uint8Array,
  blob: Uint8Array,
  key?: Promise<AeadKey>,
): Promise<Uint8Array> {
  const n = keys.metaAead.nonceLength;
  if (blob.length < 5 + n + 16) throw new CorruptObjectError("truncated");
  for (let i = 0; i < 4; i++) {
    if (blob[i] !== magic[i]) throw new CorruptObjectError("wrong magic");
  }
  if (blob[4] !== BLOB_VERSION) throw new CorruptObjectError(`unknown version ${blob[4]}`);
  const owner = concat(magic, ad);
  const pt = await keys.metaAead.open(
    await (key ?? keys.metaKey(owner)),
    blob.subarray(5, 5 + n),
    blob.subarray(5 + n),
    owner,
  );
  if (!pt) throw new CorruptObjectError("authentication failed");
  return pt;
}

/** The sealing key of every blob of kind `magic` with associated data `ad`. */
export function blobKey(keys: StoreKeys, magic: Uint8Array, ad: Uint8Array): Promise<AeadKey> {
  return keys.metaKey(concat(magic, ad));
}
