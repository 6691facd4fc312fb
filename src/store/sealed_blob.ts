/**
 * Sealing and opening small objects (inode records, directory entries) with the data dir's
 * metadata keys. The bytes (magic, version, nonce, ciphertext, tag) and the owners are
 * `format/blob.ts`; here is only the cryptography, which needs the keys.
 */
import { randomBytes } from "../crypto/random.ts";
import type { StoreKeys } from "./keys.ts";
import type { AeadKey } from "../crypto/aead.ts";
import { blobOwner, CorruptObjectError, frameBlob, splitBlob } from "./format/blob.ts";

/** Seals `plaintext` as a blob of kind `magic` (4 ASCII bytes) for the place `ad`. */
export async function sealBlob(
  keys: StoreKeys,
  magic: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  const nonce = randomBytes(keys.metaAead.nonceLength);
  const owner = blobOwner(magic, ad);
  const sealed = await keys.metaAead.seal(await keys.metaKey(owner), nonce, plaintext, owner);
  return frameBlob(magic, nonce, sealed);
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
  const { nonce, sealed } = splitBlob(magic, blob, keys.metaAead.nonceLength);
  const owner = blobOwner(magic, ad);
  const pt = await keys.metaAead.open(await (key ?? keys.metaKey(owner)), nonce, sealed, owner);
  if (!pt) throw new CorruptObjectError("authentication failed");
  return pt;
}

/** The sealing key of every blob of kind `magic` with associated data `ad`. */
export function blobKey(keys: StoreKeys, magic: Uint8Array, ad: Uint8Array): Promise<AeadKey> {
  return keys.metaKey(blobOwner(magic, ad));
}
