import { deepStrictEqual as assertEquals, notDeepStrictEqual, throws } from "node:assert/strict";
import { hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  deriveSubkeys,
  hkdf,
  hkdfBytes,
  keyedHash,
  SUBKEY_LABELS,
  type Subkeys,
} from "../src/crypto/subkeys.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { fromHex, HKDF_SHA256_RFC5869_TC1 as TC1, toHex } from "../src/crypto/vectors.ts";

const enc = new TextEncoder();

Deno.test("HKDF-SHA256: RFC 5869 test case 1", () => {
  const okm = hkdfBytes(fromHex(TC1.ikm), fromHex(TC1.info), fromHex(TC1.salt), TC1.length);
  assertEquals(toHex(okm), TC1.okm);
});

Deno.test("HKDF-SHA256 agrees with @noble/hashes (with and without salt, many lengths)", () => {
  for (const length of [1, 16, 32, 33, 64, 100, 255]) {
    const key = randomBytes(32);
    const salt = randomBytes(length % 2 ? 16 : 0);
    const info = "rencfs test " + length;
    const ours = hkdf(key, info, salt.length ? salt : undefined, length);
    const ref = nobleHkdf(sha256, key, salt.length ? salt : undefined, enc.encode(info), length);
    assertEquals(toHex(ours), toHex(ref));
  }
  assertEquals(hkdf(randomBytes(32), "x").length, 32);
  throws(() => hkdf(randomBytes(32), "x", undefined, 0));
  throws(() => hkdf(randomBytes(32), "x", undefined, 8161));
});

Deno.test("keyedHash = truncated HMAC-SHA256 (agrees with @noble/hashes)", () => {
  for (const n of [0, 1, 64, 65, 1000]) {
    const key = randomBytes(32);
    const data = randomBytes(n);
    const ref = nobleHmac(sha256, key, data);
    assertEquals(toHex(keyedHash(key, data)), toHex(ref));
    assertEquals(toHex(keyedHash(key, data, 16)), toHex(ref.subarray(0, 16)));
  }
  throws(() => keyedHash(randomBytes(32), new Uint8Array(1), 8));
  throws(() => keyedHash(randomBytes(32), new Uint8Array(1), 33));
});

Deno.test("deriveSubkeys: deterministic, labelled, all distinct", () => {
  const master = randomBytes(32);
  const a = deriveSubkeys(master);
  const b = deriveSubkeys(master.slice());
  const names = Object.keys(SUBKEY_LABELS) as (keyof Subkeys)[];
  assertEquals(names, ["content", "names", "meta", "objects"]);
  const seen = new Set<string>([toHex(master)]);
  for (const k of names) {
    assertEquals(a[k].length, 32);
    assertEquals(toHex(a[k]), toHex(b[k]));
    assertEquals(toHex(a[k]), toHex(hkdf(master, `rencfs v1 ${k}`)));
    seen.add(toHex(a[k]));
  }
  assertEquals(seen.size, 5);
  notDeepStrictEqual(toHex(deriveSubkeys(randomBytes(32)).content), toHex(a.content));
  throws(() => deriveSubkeys(randomBytes(16)));
});

Deno.test("KeyedHasher equals HMAC-SHA256 (keyedHash) for every length and input size", async () => {
  const { KeyedHasher, keyedHash } = await import("../src/crypto/subkeys.ts");
  const key = crypto.getRandomValues(new Uint8Array(32));
  const h = new KeyedHasher(key);
  for (const size of [0, 1, 40, 63, 64, 65, 300]) {
    const data = crypto.getRandomValues(new Uint8Array(size));
    for (const len of [16, 24, 32]) {
      const a = h.digest(data, len);
      const b = keyedHash(key, data, len);
      if (a.length !== len || a.some((x, i) => x !== b[i])) {
        throw new Error(`mismatch ${size}/${len}`);
      }
    }
  }
});
