/**
 * Authenticated encryption with associated data (AEAD): one small interface over the three
 * ciphers rencfs supports, each with a fast native backend (the hot path) and a pure-JS
 * reference backend from `@noble/ciphers` (cross-checks in tests).
 *
 * Backends, chosen by `scripts/bench-aead.ts` (figures: docs/performance.md, "Choices in the
 * code"):
 * - chacha20-poly1305: `node:crypto` createCipheriv, native and synchronous, several times faster
 *   than noble. Synchronous: a large chunk blocks the event loop for a fraction of a millisecond.
 * - aes-256-gcm: WebCrypto `crypto.subtle`, native and off the JS thread, the fastest for bulk
 *   data once several chunks are in flight (`node:crypto` GCM and noble are much slower). Keep
 *   several chunks in flight to get its speed.
 * - xchacha20-poly1305: HChaCha20 subkey (`@noble/ciphers` `hchacha`, a microsecond) + native
 *   chacha20-poly1305 with nonce `0x00000000 || nonce[16..24]`, the construction of
 *   draft-irtf-cfrg-xchacha-03 §2.3: same speed as chacha20-poly1305.
 *
 * Sealed output is always `ciphertext || 16-byte tag`. `open` returns `null` for any failure
 * (wrong length, bad tag): it never throws on bad data and never returns unauthenticated bytes.
 * Every result of `seal` and `open` owns its whole ArrayBuffer (offset 0, shared with nothing),
 * so it may be transferred to or from a worker. Inputs may be subarray views; they are not
 * modified or retained.
 *
 * Key material handed to WebCrypto or `node:crypto` is copied by them into ordinary
 * (unlocked, swappable) memory; the threat model must say so.
 */

import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { type DirectAead, singleChunkAead } from "./direct_aead.ts";
import { madeGarbage } from "../util/garbage.ts";

export { type DirectAead, directAead, hchacha20, singleChunkAead } from "./direct_aead.ts";
import { gcm } from "@noble/ciphers/aes.js";

/** The AEAD ciphers rencfs supports. */
export type CipherName = "chacha20-poly1305" | "aes-256-gcm" | "xchacha20-poly1305";

/** Every supported cipher (the order of help texts; the default is {@link DEFAULT_CIPHER}). */
export const CIPHERS: readonly CipherName[] = Object.freeze(
  [
    "chacha20-poly1305",
    "aes-256-gcm",
    "xchacha20-poly1305",
  ] as const,
);

/**
 * The cipher a new data dir uses unless told otherwise. Its 192-bit random nonces never collide
 * in practice (q²/2¹⁹³ for q seals under one key), where the 96-bit ones of the other two bound
 * the writes per file key (q²/2⁹⁷); same speed as chacha20-poly1305 (docs/threat-model.md §4).
 */
export const DEFAULT_CIPHER: CipherName = "xchacha20-poly1305";

/** Whether `s` names a supported cipher. */
export function isCipherName(s: string): s is CipherName {
  return (CIPHERS as readonly string[]).includes(s);
}

/** An imported key: opaque, usable only with the {@link Aead} of the same cipher/backend. */
export interface AeadKey {
  readonly cipher: CipherName;
}

/** One AEAD cipher through one backend. */
export interface Aead {
  readonly name: CipherName;
  /** Nonce length in bytes: 12 (ChaCha20-Poly1305, AES-256-GCM) or 24 (XChaCha20-Poly1305). */
  readonly nonceLength: number;
  readonly tagLength: 16;
  /**
   * Imports a 32-byte raw key; the key object keeps its own copy (the caller may zero `raw`).
   * Rejects on a wrong key length.
   */
  importKey(raw: Uint8Array): Promise<AeadKey>;
  /**
   * Encrypts; returns `ciphertext || 16-byte tag`. Rejects on a wrong nonce length or a key
   * imported by another backend or disposed.
   */
  seal(
    key: AeadKey,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array,
  ): Promise<Uint8Array>;
  /**
   * Decrypts `ciphertext || tag`; returns the plaintext, or `null` when authentication fails or
   * an input has the wrong length (never throws for bad data, never returns unauthenticated bytes).
   */
  open(
    key: AeadKey,
    nonce: Uint8Array,
    sealed: Uint8Array,
    ad: Uint8Array,
  ): Promise<Uint8Array | null>;
}

/** Key length of every supported cipher. */
export const KEY_LENGTH = 32;
/** Tag length of every supported cipher. */
export const TAG_LENGTH = 16;

const NONCE_LENGTH: Record<CipherName, number> = {
  "chacha20-poly1305": 12,
  "aes-256-gcm": 12,
  "xchacha20-poly1305": 24,
};

// A key holding raw bytes (node:crypto and noble take the raw key on every call).
interface RawKey extends AeadKey {
  readonly backend: string;
  readonly raw: Uint8Array;
  disposed: boolean;
}

interface WebCryptoKey extends AeadKey {
  readonly backend: "webcrypto";
  key: CryptoKey | null;
}

/**
 * Forgets an imported key: zeroes the copy held by the node:crypto and noble backends (a
 * WebCrypto key cannot be wiped; it is dropped for the garbage collector). Using the key
 * afterwards rejects. Idempotent.
 */
export function disposeAeadKey(key: AeadKey): void {
  const k = key as Partial<RawKey> & Partial<WebCryptoKey>;
  if (k.raw instanceof Uint8Array) {
    k.raw.fill(0);
    k.disposed = true;
  }
  if (k.backend === "webcrypto") k.key = null;
}

function checkRawKey(raw: Uint8Array): void {
  if (!(raw instanceof Uint8Array) || raw.length !== KEY_LENGTH) {
    throw new RangeError(`AEAD key must be ${KEY_LENGTH} bytes`);
  }
}

function unwrapRaw(key: AeadKey, cipher: CipherName, backend: string): Uint8Array {
  const k = key as Partial<RawKey>;
  if (k.cipher !== cipher || k.backend !== backend || !(k.raw instanceof Uint8Array)) {
    throw new TypeError(`key was not imported by the ${backend} ${cipher} backend`);
  }
  if (k.disposed) throw new TypeError("AEAD key used after disposeAeadKey");
  return k.raw;
}

function checkNonce(nonce: Uint8Array, len: number): void {
  if (!(nonce instanceof Uint8Array) || nonce.length !== len) {
    throw new RangeError(`nonce must be ${len} bytes`);
  }
}

// ---------------------------------------------------------------------------------------------
// Synchronous backends share one wrapper: misuse (bad key or nonce length) becomes a rejected
// promise rather than a synchronous throw, as with the async WebCrypto backend.

abstract class SyncAead implements Aead {
  readonly tagLength = 16 as const;
  readonly nonceLength: number;
  constructor(readonly name: CipherName, private readonly backend: string) {
    this.nonceLength = NONCE_LENGTH[name];
  }

  protected abstract sealSync(
    raw: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array,
  ): Uint8Array;
  /** Called only with a nonce of the right length and `sealed` at least a tag long. */
  protected abstract openSync(
    raw: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    ad: Uint8Array,
  ): Uint8Array | null;

  importKey(raw: Uint8Array): Promise<AeadKey> {
    try {
      checkRawKey(raw);
      const key: RawKey = {
        cipher: this.name,
        backend: this.backend,
        raw: raw.slice(),
        disposed: false,
      };
      return Promise.resolve(key);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  seal(key: AeadKey, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array) {
    try {
      const raw = unwrapRaw(key, this.name, this.backend);
      checkNonce(nonce, this.nonceLength);
      return Promise.resolve(this.sealSync(raw, nonce, plaintext, ad));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  open(key: AeadKey, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array) {
    try {
      const raw = unwrapRaw(key, this.name, this.backend);
      if (nonce.length !== this.nonceLength || sealed.length < TAG_LENGTH) {
        return Promise.resolve(null);
      }
      return Promise.resolve(this.openSync(raw, nonce, sealed, ad));
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

// The node:crypto backends of the Aead interface: the in-place calls into fresh buffers.
class NodeAead extends SyncAead {
  readonly #d: DirectAead;
  constructor(name: CipherName) {
    super(name, "node");
    this.#d = singleChunkAead(name);
  }
  protected sealSync(raw: Uint8Array, nonce: Uint8Array, pt: Uint8Array, ad: Uint8Array) {
    const out = new Uint8Array(pt.length + TAG_LENGTH);
    this.#d.sealInto(raw, nonce, pt, ad, out, 0);
    return out;
  }
  protected openSync(raw: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array) {
    const out = new Uint8Array(sealed.length - TAG_LENGTH);
    return this.#d.openInto(raw, nonce, sealed, ad, out, 0) ? out : null;
  }
}

// ---------------------------------------------------------------------------------------------
// WebCrypto AES-256-GCM. Async: throughput needs several calls in flight (see the bench).

// WebCrypto's types want ArrayBuffer-backed views; ours may be typed ArrayBufferLike.
type BufferSource8 = Uint8Array<ArrayBuffer>;

class WebCryptoGcm implements Aead {
  readonly name: CipherName = "aes-256-gcm";
  readonly nonceLength = 12;
  readonly tagLength = 16 as const;

  async importKey(raw: Uint8Array): Promise<AeadKey> {
    checkRawKey(raw);
    const key = await crypto.subtle.importKey(
      "raw",
      raw.slice(),
      { name: "AES-GCM" },
      false,
      ["encrypt", "decrypt"],
    );
    const k: WebCryptoKey = { cipher: this.name, backend: "webcrypto", key };
    return k;
  }

  private unwrap(key: AeadKey): CryptoKey {
    const k = key as Partial<WebCryptoKey>;
    if (k.cipher !== this.name || k.backend !== "webcrypto") {
      throw new TypeError(`key was not imported by the webcrypto ${this.name} backend`);
    }
    if (!(k.key instanceof CryptoKey)) throw new TypeError("AEAD key used after disposeAeadKey");
    return k.key;
  }

  async seal(
    key: AeadKey,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array,
  ): Promise<Uint8Array> {
    const k = this.unwrap(key);
    checkNonce(nonce, this.nonceLength);
    const out = await crypto.subtle.encrypt(
      {
        name: "AES-GCM",
        iv: nonce as BufferSource8,
        additionalData: ad as BufferSource8,
        tagLength: 128,
      },
      k,
      plaintext as BufferSource8,
    );
    madeGarbage(out.byteLength); // most results are copied out and dropped (src/util/garbage.ts)
    return new Uint8Array(out);
  }

  async open(
    key: AeadKey,
    nonce: Uint8Array,
    sealed: Uint8Array,
    ad: Uint8Array,
  ): Promise<Uint8Array | null> {
    const k = this.unwrap(key);
    if (nonce.length !== this.nonceLength || sealed.length < TAG_LENGTH) return null;
    try {
      const out = await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: nonce as BufferSource8,
          additionalData: ad as BufferSource8,
          tagLength: 128,
        },
        k,
        sealed as BufferSource8,
      );
      madeGarbage(out.byteLength);
      return new Uint8Array(out);
    } catch {
      return null;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// @noble/ciphers reference backend (pure JS, audited): for cross-checks, not speed.

type NobleFactory = (
  key: Uint8Array,
  nonce: Uint8Array,
  ad?: Uint8Array,
) => { encrypt(p: Uint8Array): Uint8Array; decrypt(c: Uint8Array): Uint8Array };

const NOBLE: Record<CipherName, NobleFactory> = {
  "chacha20-poly1305": chacha20poly1305 as unknown as NobleFactory,
  "aes-256-gcm": gcm as unknown as NobleFactory,
  "xchacha20-poly1305": xchacha20poly1305 as unknown as NobleFactory,
};

class NobleAead extends SyncAead {
  constructor(name: CipherName) {
    super(name, "noble");
  }
  protected sealSync(raw: Uint8Array, nonce: Uint8Array, pt: Uint8Array, ad: Uint8Array) {
    return NOBLE[this.name](raw, nonce, ad).encrypt(pt);
  }
  protected openSync(raw: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array) {
    try {
      return NOBLE[this.name](raw, nonce, ad).decrypt(sealed);
    } catch {
      return null;
    }
  }
}

// ---------------------------------------------------------------------------------------------

const FAST: Record<CipherName, Aead> = {
  "chacha20-poly1305": new NodeAead("chacha20-poly1305"),
  "aes-256-gcm": new WebCryptoGcm(),
  "xchacha20-poly1305": new NodeAead("xchacha20-poly1305"),
};

const REFERENCE: Record<CipherName, Aead> = {
  "chacha20-poly1305": new NobleAead("chacha20-poly1305"),
  "aes-256-gcm": new NobleAead("aes-256-gcm"),
  "xchacha20-poly1305": new NobleAead("xchacha20-poly1305"),
};

/** The fastest correct backend of `name`; the one the hot path uses. */
export function aead(name: CipherName): Aead {
  const a = FAST[name];
  if (!a) throw new RangeError(`unknown cipher: ${name}`);
  return a;
}

/** The pure-JS `@noble/ciphers` backend of `name`, for cross-checks. */
export function referenceAead(name: CipherName): Aead {
  const a = REFERENCE[name];
  if (!a) throw new RangeError(`unknown cipher: ${name}`);
  return a;
}

/** Every backend of `name` (fast, reference, and measured alternatives), for the bench and tests. */
/**
 * The backend for small messages (records, entries, a 4 KiB chunk): synchronous `node:crypto`
 * for every cipher. WebCrypto's per-call cost (a thread hop per message, plus an async key
 * import) would dominate metadata operations; for bulk data it is the fast one.
 */
const SMALL: Record<CipherName, Aead> = {
  "chacha20-poly1305": FAST["chacha20-poly1305"],
  "xchacha20-poly1305": FAST["xchacha20-poly1305"],
  "aes-256-gcm": new NodeAead("aes-256-gcm"),
};

/** The backend with the lowest latency for messages of a few KiB (see {@link SMALL}). */
export function smallAead(name: CipherName): Aead {
  return SMALL[name];
}

export function allBackends(name: CipherName): ReadonlyArray<{ backend: string; aead: Aead }> {
  const list = [
    { backend: "fast", aead: FAST[name] },
    { backend: "noble", aead: REFERENCE[name] },
  ];
  if (name === "aes-256-gcm") {
    list.push({ backend: "node:crypto", aead: new NodeAead("aes-256-gcm") });
  }
  return list;
}
