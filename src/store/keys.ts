/**
 * The working keys of an unlocked data dir, derived from the master key. Each has one job:
 * content (per-file chunk keys), names (directory entry names), meta (sealing records and
 * entries), objects (naming on-disk objects).
 */
import { type Aead, aead, type AeadKey, type CipherName } from "../crypto/aead.ts";
import { deriveSubkeys, hkdf, keyedHash } from "../crypto/subkeys.ts";
import { base32 } from "../util/base32.ts";
import { concat, u64le } from "../util/codec.ts";

const enc = new TextEncoder();

/** The derived keys and the cipher of one data dir. */
export class StoreKeys {
  readonly aead: Aead;
  readonly #content: Uint8Array;
  readonly #names: Uint8Array;
  readonly #objects: Uint8Array;
  readonly metaKey: AeadKey;

  private constructor(a: Aead, content: Uint8Array, names: Uint8Array, objects: Uint8Array, meta: AeadKey) {
    this.aead = a;
    this.#content = content;
    this.#names = names;
    this.#objects = objects;
    this.metaKey = meta;
  }

  /** Derives every working key from the master key. */
  static async derive(master: Uint8Array, cipher: CipherName): Promise<StoreKeys> {
    const sub = deriveSubkeys(master);
    const a = aead(cipher);
    return new StoreKeys(a, sub.content, sub.names, sub.objects, await a.importKey(sub.meta));
  }

  /** The key of one file's chunks: per-file keys keep random-nonce reuse negligible. */
  fileKey(ino: bigint, fileId: Uint8Array): Promise<AeadKey> {
    return this.aead.importKey(hkdf(this.#content, "rencfs v1 file", concat(u64le(ino), fileId)));
  }

  /** On-disk name of an inode's objects: keyed, so it reveals nothing about the inode number. */
  objectName(ino: bigint): string {
    return base32(keyedHash(this.#objects, u64le(ino), 16));
  }

  /** On-disk name of one directory entry: a keyed hash of the parent and the name, never the name. */
  entryName(dir: bigint, name: Uint8Array): string {
    return base32(keyedHash(this.#names, concat(u64le(dir), name), 16));
  }

  /** Zeroes the raw keys this object holds (imported native copies are out of our reach). */
  wipe(): void {
    this.#content.fill(0);
    this.#names.fill(0);
    this.#objects.fill(0);
  }
}

/** Associated data prefix of every sealed object kind, versioned. */
export function adPrefix(kind: "meta" | "entry" | "chunk"): Uint8Array {
  return enc.encode(`rencfs/v1/${kind}\0`);
}
