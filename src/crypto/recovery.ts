/**
 * The recovery code: the 32-byte master key written out once for the user, so the data can be
 * unlocked without the password.
 *
 * Format: Crockford base32 (alphabet `0-9 A-Z` without I, L, O, U) of the 256-bit key, 52
 * symbols (the last carries 4 zero padding bits), followed by 4 checksum symbols, the first 20
 * bits of SHA-256("rencfs recovery v1" || key). 56 symbols shown in 14 groups of 4 separated by
 * "-":
 *
 *   `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-CCCC`
 *
 * Decoding ignores case, spaces and dashes, and reads I/L as 1 and O as 0 (Crockford's rule, for
 * misread handwriting). A mistyped symbol fails the checksum except with probability 2^-20.
 */

import { createHash } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const KEY_LENGTH = 32;
const KEY_SYMBOLS = 52; // ceil(256 / 5)
const CHECK_SYMBOLS = 4; // 20 bits
const TOTAL_SYMBOLS = KEY_SYMBOLS + CHECK_SYMBOLS;
const GROUP = 4;
const CHECK_LABEL = new TextEncoder().encode("rencfs recovery v1");

const DECODE: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (let i = 0; i < ALPHABET.length; i++) m.set(ALPHABET[i], i);
  m.set("I", 1);
  m.set("L", 1);
  m.set("O", 0);
  return m;
})();

/** A recovery code that is malformed, has the wrong length, or fails its checksum. */
export class InvalidRecoveryCodeError extends Error {
  override name = "InvalidRecoveryCodeError";
}

function checksum(key: Uint8Array): number[] {
  const h = createHash("sha256").update(CHECK_LABEL).update(key).digest();
  const bits = (h[0] << 12) | (h[1] << 4) | (h[2] >> 4); // first 20 bits
  return [15, 10, 5, 0].map((s) => (bits >> s) & 31);
}

/** Encodes a 32-byte master key as a recovery code (see the module comment). */
export function encodeRecoveryCode(master: Uint8Array): string {
  if (master.length !== KEY_LENGTH) throw new RangeError("master key must be 32 bytes");
  const symbols: number[] = [];
  let acc = 0;
  let nbits = 0;
  for (const byte of master) {
    acc = ((acc << 8) | byte) & 0xfff; // keep at most 12 bits: never more than 4 + 8 pending
    nbits += 8;
    while (nbits >= 5) {
      nbits -= 5;
      symbols.push((acc >> nbits) & 31);
    }
  }
  if (nbits > 0) symbols.push((acc << (5 - nbits)) & 31);
  symbols.push(...checksum(master));
  const chars = symbols.map((s) => ALPHABET[s]).join("");
  const groups: string[] = [];
  for (let i = 0; i < chars.length; i += GROUP) groups.push(chars.slice(i, i + GROUP));
  return groups.join("-");
}

/**
 * Decodes a recovery code back to the 32-byte master key. Case, spaces and dashes do not matter.
 * Throws {@link InvalidRecoveryCodeError} on a wrong character, a wrong length or a checksum
 * mismatch (a typo).
 */
export function decodeRecoveryCode(code: string): Uint8Array {
  if (typeof code !== "string") throw new InvalidRecoveryCodeError("recovery code must be text");
  const cleaned = code.replace(/[\s\-]+/g, "").toUpperCase();
  const symbols: number[] = [];
  for (let i = 0; i < cleaned.length; i++) {
    const v = DECODE.get(cleaned[i]);
    if (v === undefined) {
      throw new InvalidRecoveryCodeError(
        `invalid character ${JSON.stringify(cleaned[i])} in the recovery code ` +
          `(symbol ${i + 1}; allowed: digits and letters except U)`,
      );
    }
    symbols.push(v);
  }
  if (symbols.length !== TOTAL_SYMBOLS) {
    throw new InvalidRecoveryCodeError(
      `a recovery code has ${TOTAL_SYMBOLS} characters (${TOTAL_SYMBOLS / GROUP} groups of ` +
        `${GROUP}); this one has ${symbols.length}`,
    );
  }
  const key = new Uint8Array(KEY_LENGTH);
  let acc = 0;
  let nbits = 0;
  let out = 0;
  for (let i = 0; i < KEY_SYMBOLS; i++) {
    acc = ((acc << 5) | symbols[i]) & 0xfff; // at most 7 + 5 pending bits
    nbits += 5;
    if (nbits >= 8) {
      nbits -= 8;
      key[out++] = (acc >> nbits) & 0xff;
    }
  }
  const padding = acc & ((1 << nbits) - 1);
  const expected = checksum(key);
  const given = symbols.slice(KEY_SYMBOLS);
  if (padding !== 0 || expected.some((s, i) => s !== given[i])) {
    key.fill(0);
    throw new InvalidRecoveryCodeError(
      "the recovery code does not check out: a character is mistyped or missing",
    );
  }
  return key;
}
