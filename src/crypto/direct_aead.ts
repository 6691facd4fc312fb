/**
 * The synchronous AEAD calls of the hot path, writing straight into the caller's buffer:
 * ChaCha20-Poly1305 and AES-256-GCM through `node:crypto`, and XChaCha20-Poly1305 as HChaCha20
 * (`@noble/ciphers`) over ChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 §2.3). The promise-based
 * `Aead` interface and its other backends are in `aead.ts`, which re-exports these.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { hchacha } from "@noble/ciphers/chacha.js";
import type { CipherName } from "./aead.ts";
import { madeGarbage } from "../util/garbage.ts";

const TAG_LENGTH = 16;

// ---------------------------------------------------------------------------------------------
// XChaCha20-Poly1305 = HChaCha20(key, nonce[0..16]) as the key of ChaCha20-Poly1305 with nonce
// 0^4 || nonce[16..24] (draft-irtf-cfrg-xchacha-03 §2.3).

// "expand 32-byte k" as little-endian words.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

// Word scratch for hchacha20, reused (it runs for every XChaCha20 seal and open, several per
// file operation): on a little-endian host, bytes are copied straight into the words' memory.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const keyWords = new Uint32Array(8);
const inputWords = new Uint32Array(4);
const outWords = new Uint32Array(8);
const keyBytes = new Uint8Array(keyWords.buffer);
const inputBytes = new Uint8Array(inputWords.buffer);
const outBytes = new Uint8Array(outWords.buffer);

function readWordsLE(bytes: Uint8Array, into: Uint32Array): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, into.length * 4);
  for (let i = 0; i < into.length; i++) into[i] = dv.getUint32(i * 4, true);
}

/**
 * HChaCha20 (draft-irtf-cfrg-xchacha-03 §2.2): derives a 32-byte subkey from a 32-byte key
 * and a 16-byte input. Exposed for tests.
 */
export function hchacha20(key: Uint8Array, input16: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new RangeError("AEAD key must be 32 bytes");
  }
  if (input16.length !== 16) throw new RangeError("HChaCha20 input must be 16 bytes");
  if (LITTLE_ENDIAN) {
    keyBytes.set(key);
    inputBytes.set(input16);
  } else {
    readWordsLE(key, keyWords);
    readWordsLE(input16, inputWords);
  }
  hchacha(SIGMA, keyWords, inputWords, outWords);
  keyWords.fill(0);
  const bytes = new Uint8Array(32);
  if (LITTLE_ENDIAN) bytes.set(outBytes);
  else {
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < 8; i++) dv.setUint32(i * 4, outWords[i], true);
  }
  outWords.fill(0);
  return bytes;
}

function xNonce(nonce: Uint8Array): Uint8Array {
  const n = new Uint8Array(12);
  n.set(nonce.subarray(16, 24), 4);
  return n;
}

// ---------------------------------------------------------------------------------------------
// node:crypto (ChaCha20-Poly1305, XChaCha20 over it, AES-256-GCM), writing straight into the
// caller's buffer: about twice the throughput of allocating and copying each result once more
// and going through a promise per chunk. The Aead interface's node backends (NodeAead, below)
// are these calls into fresh buffers.

/** Synchronous seal/open that write into a buffer the caller owns. */
export interface DirectAead {
  readonly nonceLength: number;
  /** Writes `ciphertext || tag` of `pt` at `out[at..]`. `raw`: the 32-byte key. */
  sealInto(
    raw: Uint8Array,
    nonce: Uint8Array,
    pt: Uint8Array,
    ad: Uint8Array,
    out: Uint8Array,
    at: number,
  ): void;
  /**
   * Opens `sealed` (`ciphertext || tag`) into `out[at..]`; false (and nothing of the plaintext
   * left in `out`) when authentication fails.
   */
  openInto(
    raw: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    ad: Uint8Array,
    out: Uint8Array,
    at: number,
  ): boolean;
}

type NodeCipher = "chacha20-poly1305" | "aes-256-gcm";

function nodeInto(
  alg: NodeCipher,
  keyOf: (raw: Uint8Array, nonce: Uint8Array) => [Uint8Array, Uint8Array],
): Omit<DirectAead, "nonceLength"> {
  const opts = { authTagLength: TAG_LENGTH };
  return {
    sealInto(raw, nonce, pt, ad, out, at) {
      const [k, n] = keyOf(raw, nonce);
      const c = alg === "aes-256-gcm"
        ? createCipheriv(alg, k, n, opts)
        : createCipheriv(alg, k, n, opts);
      if (k !== raw) k.fill(0);
      c.setAAD(ad, { plaintextLength: pt.length });
      const body = c.update(pt);
      out.set(body, at);
      const fin = c.final();
      out.set(fin, at + body.length);
      out.set(c.getAuthTag(), at + body.length + fin.length);
      madeGarbage(body.length); // the result, dead once copied (src/util/garbage.ts)
    },
    openInto(raw, nonce, sealed, ad, out, at) {
      if (sealed.length < TAG_LENGTH) return false;
      const ctLen = sealed.length - TAG_LENGTH;
      const [k, n] = keyOf(raw, nonce);
      try {
        const d = alg === "aes-256-gcm"
          ? createDecipheriv(alg, k, n, opts)
          : createDecipheriv(alg, k, n, opts);
        d.setAuthTag(sealed.subarray(ctLen));
        d.setAAD(ad, { plaintextLength: ctLen });
        const body = d.update(sealed.subarray(0, ctLen));
        madeGarbage(body.length);
        d.final(); // throws on a bad tag: body is then never copied out
        out.set(body, at);
        return true;
      } catch {
        return false;
      } finally {
        if (k !== raw) k.fill(0);
      }
    },
  };
}

const DIRECT: Record<CipherName, DirectAead> = {
  "chacha20-poly1305": {
    nonceLength: 12,
    ...nodeInto("chacha20-poly1305", (raw, nonce) => [raw, nonce]),
  },
  "xchacha20-poly1305": {
    nonceLength: 24,
    ...nodeInto(
      "chacha20-poly1305",
      (raw, nonce) => [hchacha20(raw, nonce.subarray(0, 16)), xNonce(nonce)],
    ),
  },
  // node:crypto AES-GCM is the slow backend for bulk data (WebCrypto is faster with several
  // chunks in flight), but the quickest way to do one chunk synchronously.
  "aes-256-gcm": { nonceLength: 12, ...nodeInto("aes-256-gcm", (raw, nonce) => [raw, nonce]) },
};

/**
 * The synchronous in-place backend of `name` for bulk data, or null where the fast backend is
 * asynchronous (AES-256-GCM: WebCrypto, several chunks in flight).
 */
export function directAead(name: CipherName): DirectAead | null {
  return name === "aes-256-gcm" ? null : DIRECT[name];
}

/** The synchronous in-place backend of `name` for a single chunk (any cipher). */
export function singleChunkAead(name: CipherName): DirectAead {
  return DIRECT[name];
}
