/**
 * The working keys of an unlocked data dir, derived from the master key. Each has one job:
 * content (per-file chunk keys), names (directory entry names), meta (sealing records and
 * entries), objects (naming on-disk objects).
 *
 * Where they live: the raw subkeys in one locked, non-dumpable page ({@link SecretBuffer}),
 * inaccessible (PROT_NONE) except for the few microseconds each use takes; the keyed HMAC
 * states in the JS heap. With an idle time ({@link KeyOptions.idleMs}), a copy of the subkeys
 * is parked in the kernel's process keyring (`ffi/keyring.ts`) and, once no key was used for
 * that long, every copy this process holds is wiped: the subkeys, the HMAC states and the
 * per-file keys of open files ({@link KeyHolder}). The next use reads them back from the
 * keyring (tens of microseconds). The keyring entry lives as long as the keys (until
 * {@link StoreKeys.wipe}); the kernel drops it when the process ends, however it ends.
 */
import { type Aead, aead, type AeadKey, type CipherName, smallAead } from "../crypto/aead.ts";
import { SecretBuffer, SecretSlab, trimFreedMemory, wipeDeadStack } from "../../ffi/memory.ts";
import { keyringAvailable, ProcessKey } from "../../ffi/keyring.ts";
import { deriveSubkeys, hkdf, KeyedHasher, type Subkeys } from "../crypto/subkeys.ts";
import { FILE_KEY_INFO, fileKeySalt } from "./format/keys.ts";
import { entryNameInput, keyedName, NAME_DIGEST_BYTES, objectNameInput } from "./format/paths.ts";
import { ChunkIo } from "./chunk_io.ts";
import { collectGarbage } from "../util/gc.ts";
import { bytesEqual } from "../util/bytes.ts";

/** Subkey order in the secret page and the keyring payload: 32 bytes each. */
const ORDER = ["content", "names", "meta", "objects"] as const satisfies readonly (
  keyof Subkeys
)[];
const SUBKEYS_LENGTH = ORDER.length * 32;
/** Entry names {@link StoreKeys.entryName} remembers. */
const RECENT_ENTRY_NAMES = 4;

/** How long the keys may stay in process memory unused. */
export interface KeyOptions {
  /**
   * Milliseconds without any key use after which the process's copies are wiped (re-read from
   * the kernel keyring on the next use). 0 or absent: kept until {@link StoreKeys.wipe}.
   */
  idleMs?: number;
}

/** Something holding key material derived from these keys (an open file's key). */
export interface KeyHolder {
  /** Zeroes the key material; it is derived again on the next use. */
  forgetKey(): void;
}

/** The subkeys are gone from the process and could not be read back from the keyring. */
export class KeysUnavailableError extends Error {
  override name = "KeysUnavailableError";
}

interface Hashers {
  names: KeyedHasher;
  objects: KeyedHasher;
  meta: KeyedHasher;
}

/** The derived keys and the cipher of one data dir. */
export class StoreKeys {
  readonly aead: Aead;
  /** Low-latency backend of the same cipher, for records and entries. */
  readonly metaAead: Aead;
  // The raw subkeys (ORDER), PROT_NONE between uses; null while wiped for idleness.
  #secret: SecretBuffer | null;
  #hashers: Hashers | null;
  // Object names of recently used inodes (each costs an HMAC); bounded. Not secret: they are
  // the names on disk.
  readonly #objectNames = new Map<bigint, string>();
  /** The last entry names computed, newest first (see entryName). */
  readonly #recentEntries: { dir: bigint; name: Uint8Array; file: string }[] = [];
  readonly #parked: ProcessKey | null;
  readonly #holders = new Set<KeyHolder>();
  // Per-file keys of open files, in locked pages.
  readonly #fileKeys = new SecretSlab(32);
  readonly #idleMs: number;
  #lastUse = performance.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #wiped = false;
  /** Times the keys were wiped for idleness (for tests and logs). */
  idleWipes = 0;
  /** Chunk crypto and I/O, off the JS thread. */
  readonly chunks: ChunkIo;

  private constructor(
    a: Aead,
    secret: SecretBuffer,
    parked: ProcessKey | null,
    idleMs: number,
  ) {
    this.aead = a;
    this.metaAead = smallAead(a.name);
    this.#secret = secret;
    this.#hashers = hashersOf(secret);
    this.#parked = parked;
    this.#idleMs = parked ? idleMs : 0;
    this.chunks = new ChunkIo();
    if (this.#idleMs > 0) {
      const every = Math.max(100, Math.min(this.#idleMs / 4, 5000));
      const timer = setInterval(() => this.#checkIdle(), every);
      Deno.unrefTimer(timer as unknown as number);
      this.#timer = timer;
    }
  }

  /**
   * Derives every working key from the master key (which the caller zeroes). With
   * `opts.idleMs`, parks the subkeys in the kernel keyring; where that fails (no keyring, no
   * FFI) the keys simply stay in memory: see {@link idleWipe}.
   */
  static derive(master: Uint8Array, cipher: CipherName, opts: KeyOptions = {}): StoreKeys {
    const sub = deriveSubkeys(master);
    const secret = SecretBuffer.alloc(SUBKEYS_LENGTH);
    ORDER.forEach((k, i) => {
      secret.bytes.set(sub[k], i * 32);
      sub[k].fill(0);
    });
    let parked: ProcessKey | null = null;
    const idleMs = opts.idleMs ?? 0;
    if (idleMs > 0 && keyringAvailable()) {
      try {
        parked = ProcessKey.add(`rencfs:${crypto.randomUUID()}`, secret.bytes);
      } catch {
        parked = null;
      }
    }
    secret.noAccess();
    return new StoreKeys(aead(cipher), secret, parked, idleMs);
  }

  /** Whether the keys are wiped after {@link KeyOptions.idleMs} (false: no keyring here). */
  get idleWipe(): boolean {
    return this.#idleMs > 0;
  }

  /** Whether the process holds no subkey right now (wiped for idleness, or for good). */
  get dormant(): boolean {
    return this.#secret === null;
  }

  /** Records a use of key material (every chunk read or write): postpones the idle wipe. */
  touch(): void {
    this.#lastUse = performance.now();
  }

  /** Registers an open file's key, wiped along with the subkeys when idle. */
  hold(h: KeyHolder): void {
    this.#holders.add(h);
  }

  /** Unregisters a key holder (its file closed). */
  release(h: KeyHolder): void {
    this.#holders.delete(h);
  }

  #checkIdle(): void {
    if (this.#secret === null && this.#holders.size === 0) return;
    if (performance.now() - this.#lastUse < this.#idleMs) return;
    this.wipeIdle();
  }

  /**
   * Wipes every copy of key material this process holds (subkeys, HMAC states, open files'
   * keys) and asks the chunk workers to collect their garbage; the next use reads the subkeys
   * back from the keyring. A no-op unless {@link idleWipe}.
   */
  wipeIdle(): void {
    if (!this.#parked || this.#wiped) return;
    this.#forget();
    for (const h of this.#holders) h.forgetKey();
    // Dead cipher and HMAC objects still hold key copies in native memory until collected,
    // here and in the chunk workers (trim collects there).
    this.chunks.trim();
    collectGarbage();
    trimFreedMemory();
    // Native cipher code leaves key copies in dead stack frames of this thread.
    wipeDeadStack();
    this.idleWipes++;
  }

  #forget(): void {
    this.#recentEntries.length = 0;
    if (this.#hashers) {
      for (const h of Object.values(this.#hashers)) h.destroy();
      this.#hashers = null;
    }
    this.#secret?.dispose();
    this.#secret = null;
  }

  // The subkeys, read back from the keyring after an idle wipe.
  #keys(): { secret: SecretBuffer; hashers: Hashers } {
    this.#lastUse = performance.now();
    if (this.#secret && this.#hashers) return { secret: this.#secret, hashers: this.#hashers };
    if (this.#wiped || !this.#parked) throw new KeysUnavailableError("the keys were wiped");
    const secret = SecretBuffer.alloc(SUBKEYS_LENGTH);
    try {
      this.#parked.readInto(secret.bytes);
    } catch (e) {
      secret.dispose();
      throw new KeysUnavailableError(
        `cannot read the keys back from the kernel keyring (${(e as Error).message}): ` +
          "unmount and mount again",
        { cause: e },
      );
    }
    secret.noAccess();
    this.#secret = secret;
    this.#hashers = hashersOf(secret);
    return { secret, hashers: this.#hashers };
  }

  /**
   * The sealing key of one record or entry, derived from K_meta and the object's owner (its
   * associated data): random 96-bit nonces then only need to stay unique per object, not across
   * every metadata write the data dir will ever see.
   */
  metaKey(owner: Uint8Array): Promise<AeadKey> {
    const raw = this.#keys().hashers.meta.digest(owner, 32);
    try {
      return this.metaAead.importKey(raw); // copies raw before returning
    } finally {
      raw.fill(0);
    }
  }

  /**
   * The raw key of one file's chunks (per-file keys keep random-nonce reuse negligible), in a
   * locked slot: hand it back with {@link releaseFileKey} once the file closes.
   */
  fileKey(ino: bigint, fileId: Uint8Array): Uint8Array {
    const { secret } = this.#keys();
    const raw = secret.use((b) => hkdf(b.subarray(0, 32), FILE_KEY_INFO, fileKeySalt(ino, fileId)));
    const slot = this.#fileKeys.take();
    slot.set(raw);
    raw.fill(0);
    return slot;
  }

  /** Zeroes a key from {@link fileKey} and frees its slot. */
  releaseFileKey(key: Uint8Array): void {
    this.#fileKeys.give(key);
  }

  /** On-disk name of an inode's objects: keyed, so it reveals nothing about the inode number. */
  objectName(ino: bigint): string {
    let name = this.#objectNames.get(ino);
    if (name === undefined) {
      const digest = this.#keys().hashers.objects.digest(objectNameInput(ino), NAME_DIGEST_BYTES);
      name = keyedName(digest);
      if (this.#objectNames.size >= 65536) this.#objectNames.clear();
      this.#objectNames.set(ino, name);
    }
    return name;
  }

  /** On-disk name of one directory entry: a keyed hash of the parent and the name, never the name. */
  entryName(dir: bigint, name: Uint8Array): string {
    // A creation asks for the name its LOOKUP just computed (LOOKUP, then CREATE or MKDIR): the
    // last few are remembered, which saves an HMAC per new file.
    const recent = this.#recentEntries;
    for (let i = 0; i < recent.length; i++) {
      const r = recent[i];
      if (r.dir === dir && bytesEqual(r.name, name)) return r.file;
    }
    const input = entryNameInput(dir, name);
    const file = keyedName(this.#keys().hashers.names.digest(input, NAME_DIGEST_BYTES));
    if (recent.length >= RECENT_ENTRY_NAMES) recent.pop();
    recent.unshift({ dir, name: name.slice(), file });
    return file;
  }

  /**
   * Zeroes the raw keys this object holds and drops the keyring copy (imported native copies
   * are out of our reach). Idempotent.
   */
  wipe(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.chunks.close();
    this.#forget();
    for (const h of this.#holders) h.forgetKey();
    this.#holders.clear();
    this.#fileKeys.dispose();
    this.#objectNames.clear();
    this.#parked?.destroy();
    this.#wiped = true;
  }
}

// The keyed HMAC states, made from the subkeys with the page briefly readable.
function hashersOf(secret: SecretBuffer): Hashers {
  return secret.use((b) => ({
    names: new KeyedHasher(b.subarray(32, 64)),
    meta: new KeyedHasher(b.subarray(64, 96)),
    objects: new KeyedHasher(b.subarray(96, 128)),
  }));
}
