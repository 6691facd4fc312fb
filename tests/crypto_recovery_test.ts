import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import {
  decodeRecoveryCode,
  encodeRecoveryCode,
  InvalidRecoveryCodeError,
} from "../src/crypto/recovery.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { toHex } from "../src/crypto/vectors.ts";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
// Fixed keys keep the typo tests deterministic (a 20-bit checksum misses 1 typo in 2^20).
const FIXED = [
  new Uint8Array(32),
  new Uint8Array(32).fill(0xff),
  Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 3),
];

function isInvalid(code: string): boolean {
  try {
    decodeRecoveryCode(code);
    return false;
  } catch (e) {
    return e instanceof InvalidRecoveryCodeError;
  }
}

Deno.test("recovery code: shape and round trip", () => {
  for (let i = 0; i < 200; i++) {
    const key = randomBytes(32);
    const code = encodeRecoveryCode(key);
    assert(/^([0-9A-HJKMNP-TV-Z]{4}-){13}[0-9A-HJKMNP-TV-Z]{4}$/.test(code), code);
    assertEquals(toHex(decodeRecoveryCode(code)), toHex(key));
  }
  assertEquals(
    encodeRecoveryCode(new Uint8Array(32)),
    "0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-41JD",
  );
  throws(() => encodeRecoveryCode(new Uint8Array(31)));
});

Deno.test("recovery code: case, spaces, dashes and I/L/O do not matter", () => {
  const key = FIXED[2];
  const code = encodeRecoveryCode(key);
  const variants = [
    code.toLowerCase(),
    code.replaceAll("-", " "),
    code.replaceAll("-", ""),
    `  ${code.replaceAll("-", "\n")}  `,
    code.replaceAll("1", "l").replaceAll("0", "O"),
    code.replaceAll("1", "I").toLowerCase(),
  ];
  for (const v of variants) assertEquals(toHex(decodeRecoveryCode(v)), toHex(key), v);
});

Deno.test("recovery code: every single-character typo and adjacent swap is detected", () => {
  for (const key of FIXED) {
    const chars = encodeRecoveryCode(key).replaceAll("-", "");
    for (let i = 0; i < chars.length; i++) {
      for (const c of ALPHABET) {
        if (c === chars[i]) continue;
        const typo = chars.slice(0, i) + c + chars.slice(i + 1);
        assert(isInvalid(typo), `substitution at ${i}: ${typo}`);
      }
      if (i + 1 < chars.length && chars[i] !== chars[i + 1]) {
        const swap = chars.slice(0, i) + chars[i + 1] + chars[i] + chars.slice(i + 2);
        assert(isInvalid(swap), `swap at ${i}`);
      }
    }
  }
});

Deno.test("recovery code: wrong length and bad characters give clear errors", () => {
  const code = encodeRecoveryCode(FIXED[2]);
  throws(() => decodeRecoveryCode(code.slice(0, -1)), /56 characters.*has 55/);
  throws(() => decodeRecoveryCode(code + "0"), /has 57/);
  throws(() => decodeRecoveryCode(code.replaceAll("-", "").slice(4)), /has 52/);
  throws(() => decodeRecoveryCode(""), InvalidRecoveryCodeError);
  throws(() => decodeRecoveryCode("U" + code.slice(1)), /invalid character "U"/);
  throws(() => decodeRecoveryCode(code.slice(0, 5) + "!" + code.slice(6)), /invalid character/);
});
