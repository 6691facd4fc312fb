/**
 * Key derivation from the master key: HKDF-SHA256 (RFC 5869) and a keyed hash (HMAC-SHA256),
 * both native through `node:crypto`. Every purpose gets its own subkey with its own HKDF `info`
 * label: one key is never used for two purposes (a finding against EncFS and gocryptfs).
 */

import { createHmac, hkdfSync } from "node:crypto";
import { type _HMAC, hmac } from "@noble/hashes/hmac.js";
import { type _SHA256, sha256 } from "@noble/hashes/sha2.js";

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * HKDF-SHA256 of `key` with the UTF-8 `info` label and optional `salt` (default: none, which
 * RFC 5869 treats as 32 zero bytes); returns `length` bytes (default 32, at most 8160).
 */
export function hkdf(key: Uint8Array, info: string, salt?: Uint8Array, length = 32): Uint8Array {
  return hkdfBytes(key, encoder.encode(info), salt, length);
}

/** {@link hkdf} with a binary `info` (at most 1024 bytes, the limit of `node:crypto`). */
export function hkdfBytes(
  key: Uint8Array,
  info: Uint8Array,
  salt?: Uint8Array,
  length = 32,
): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new RangeError("HKDF-SHA256 length must be 1..8160");
  }
  const out = hkdfSync("sha256", key, salt ?? EMPTY, info, length);
  return new Uint8Array(out);
}

/**
 * HMAC-SHA256 of `data` under `key`, truncated to `length` bytes (default 32, at least 16 so
 * a truncated MAC still resists forgery).
 */
export function keyedHash(key: Uint8Array, data: Uint8Array, length = 32): Uint8Array {
  if (!Number.isInteger(length) || length < 16 || length > 32) {
    throw new RangeError("keyed hash length must be 16..32");
  }
  const mac = createHmac("sha256", key).update(data).digest();
  const out = new Uint8Array(length);
  out.set(mac.subarray(0, length));
  mac.fill(0);
  return out;
}

/** Independent subkeys, one per purpose, derived from the master key. */
export interface Subkeys {
  /** Encrypts file content chunks. */
  content: Uint8Array;
  /** Encrypts and keys the lookup of directory entry names. */
  names: Uint8Array;
  /** Encrypts inode records and other metadata. */
  meta: Uint8Array;
  /** Derives on-disk object identifiers (keyed, so they cannot be confirmed by a dictionary). */
  objects: Uint8Array;
}

/** HKDF `info` labels of the subkeys; part of the on-disk format (version 1). */
export const SUBKEY_LABELS: Readonly<Record<keyof Subkeys, string>> = Object.freeze({
  content: "rencfs v1 content",
  names: "rencfs v1 names",
  meta: "rencfs v1 meta",
  objects: "rencfs v1 objects",
});

/** Derives the 32-byte subkeys of every purpose from the 32-byte master key. */
export function deriveSubkeys(master: Uint8Array): Subkeys {
  if (master.length !== 32) throw new RangeError("master key must be 32 bytes");
  return {
    content: hkdf(master, SUBKEY_LABELS.content),
    names: hkdf(master, SUBKEY_LABELS.names),
    meta: hkdf(master, SUBKEY_LABELS.meta),
    objects: hkdf(master, SUBKEY_LABELS.objects),
  };
}

/**
 * HMAC-SHA256 under one fixed key, with the keyed inner and outer states computed once: each
 * digest then costs a third of a fresh {@link keyedHash} (which matters on every lookup).
 * The output equals `keyedHash(key, data, length)`.
 */
export class KeyedHasher {
  readonly #base: _HMAC<_SHA256>;
  // The keyed states are copied into this one working instance for each digest rather than
  // into a fresh clone: nothing is allocated on the lookup path but the result. Digesting
  // wipes the copy (noble destroys it after digestInto), as it did the clones.
  readonly #work: _HMAC<_SHA256>;
  readonly #out = new Uint8Array(32);

  constructor(key: Uint8Array) {
    this.#base = hmac.create(sha256, key);
    this.#work = this.#base.clone();
  }

  /** HMAC-SHA256 of `data`, truncated to `length` bytes (16..32). */
  digest(data: Uint8Array, length = 32): Uint8Array {
    if (!Number.isInteger(length) || length < 16 || length > 32) {
      throw new RangeError("keyed hash length must be 16..32");
    }
    const out = this.#out;
    this.#base._cloneInto(this.#work).update(data).digestInto(out);
    const mac = out.slice(0, length);
    out.fill(0);
    return mac;
  }

  /** Zeroes the keyed states. */
  destroy(): void {
    this.#base.destroy();
    this.#work.destroy();
  }
}
