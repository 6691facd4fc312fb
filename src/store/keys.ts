/**
 * The working keys of an unlocked data dir, derived from the master key. Each has one job:
 * content (per-file chunk keys), names (directory entry names), meta (sealing records and
 * entries), objects (naming on-disk objects).
 */
import { type Aead, aead, type AeadKey, type CipherName, smallAead } from "../crypto/aead.ts";
import { SecretBuffer } from "../../ffi/memory.ts";
import { deriveSubkeys, hkdf, KeyedHasher, type Subkeys } from "../crypto/subkeys.ts";
import { base32 } from "../util/base32.ts";
import { concat, u64le } from "../util/codec.ts";
import { ChunkIo } from "./chunk_io.ts";

const enc = new TextEncoder();

/** The derived keys and the cipher of one data dir. */
export class StoreKeys {
  readonly aead: Aead;
  /** Low-latency backend of the same cipher, for records and entries. */
  readonly metaAead: Aead;
  readonly #content: Uint8Array;
  readonly #namesMac: KeyedHasher;
  readonly #objectsMac: KeyedHasher;
  readonly #metaMac: KeyedHasher;
  // Object names of recently used inodes (each costs an HMAC); bounded.
  readonly #objectNames = new Map<bigint, string>();
  // The locked pages holding the raw subkeys; disposing them zeroes the keys.
  readonly #secrets: SecretBuffer[];
  /** Chunk crypto and I/O, off the JS thread. */
  readonly chunks: ChunkIo;

  private constructor(a: Aead, sub: Subkeys, secrets: SecretBuffer[]) {
    this.aead = a;
    this.metaAead = smallAead(a.name);
    this.#content = sub.content;
    this.#namesMac = new KeyedHasher(sub.names);
    this.#objectsMac = new KeyedHasher(sub.objects);
    this.#metaMac = new KeyedHasher(sub.meta);
    this.#secrets = secrets;
    this.chunks = new ChunkIo();
  }

  /** Derives every working key from the master key. */
  static derive(master: Uint8Array, cipher: CipherName): StoreKeys {
    // The raw subkeys live in locked, non-dumpable pages (where FFI allows) for the mount's
    // lifetime; the derivation's own copies are zeroed by takeFrom.
    const secrets: SecretBuffer[] = [];
    const keep = (k: Uint8Array) => {
      const b = SecretBuffer.takeFrom(k);
      secrets.push(b);
      return b.bytes;
    };
    const sub = deriveSubkeys(master);
    const locked: Subkeys = {
      content: keep(sub.content),
      names: keep(sub.names),
      objects: keep(sub.objects),
      meta: keep(sub.meta),
    };
    return new StoreKeys(aead(cipher), locked, secrets);
  }

  /**
   * The sealing key of one record or entry, derived from K_meta and the object's owner (its
   * associated data): random 96-bit nonces then only need to stay unique per object, not across
   * every metadata write the data dir will ever see.
   */
  metaKey(owner: Uint8Array): Promise<AeadKey> {
    return this.metaAead.importKey(this.#metaMac.digest(owner, 32));
  }

  /** The raw key of one file's chunks: per-file keys keep random-nonce reuse negligible. */
  fileKey(ino: bigint, fileId: Uint8Array): Uint8Array {
    return hkdf(this.#content, "rencfs v1 file", concat(u64le(ino), fileId));
  }

  /** On-disk name of an inode's objects: keyed, so it reveals nothing about the inode number. */
  objectName(ino: bigint): string {
    let name = this.#objectNames.get(ino);
    if (name === undefined) {
      name = base32(this.#objectsMac.digest(u64le(ino), 16));
      if (this.#objectNames.size >= 65536) this.#objectNames.clear();
      this.#objectNames.set(ino, name);
    }
    return name;
  }

  /** On-disk name of one directory entry: a keyed hash of the parent and the name, never the name. */
  entryName(dir: bigint, name: Uint8Array): string {
    return base32(this.#namesMac.digest(concat(u64le(dir), name), 16));
  }

  /** Zeroes the raw keys this object holds (imported native copies are out of our reach). */
  wipe(): void {
    this.chunks.close();
    this.#namesMac.destroy();
    this.#objectsMac.destroy();
    this.#metaMac.destroy();
    this.#objectNames.clear();
    for (const b of this.#secrets) b.dispose(); // zeroes every raw subkey
  }
}

/** Associated data prefix of every sealed object kind, versioned. */
export function adPrefix(kind: "meta" | "entry" | "chunk"): Uint8Array {
  return enc.encode(`rencfs/v1/${kind}\0`);
}
