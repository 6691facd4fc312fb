import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual as assertNotEquals,
  ok as assert,
  rejects as assertRejects,
} from "node:assert/strict";
import {
  aead,
  allBackends,
  CIPHERS,
  DEFAULT_CIPHER,
  directAead,
  disposeAeadKey,
  hchacha20,
  isCipherName,
  referenceAead,
  singleChunkAead,
} from "../src/crypto/aead.ts";
import type { CipherName } from "../src/crypto/aead.ts";
import { randomBytes } from "../src/crypto/random.ts";
import {
  type AeadVector,
  AES_256_GCM_TC16,
  CHACHA20_POLY1305_RFC8439,
  fromHex,
  HCHACHA20_DRAFT03,
  toHex,
  XCHACHA20_POLY1305_DRAFT03,
} from "../src/crypto/vectors.ts";

const VECTORS: Record<CipherName, AeadVector> = {
  "chacha20-poly1305": CHACHA20_POLY1305_RFC8439,
  "aes-256-gcm": AES_256_GCM_TC16,
  "xchacha20-poly1305": XCHACHA20_POLY1305_DRAFT03,
};

// A small deterministic PRNG so failures are reproducible from the printed seed.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("cipher names", () => {
  assertEquals([...CIPHERS], ["chacha20-poly1305", "aes-256-gcm", "xchacha20-poly1305"]);
  assertEquals(DEFAULT_CIPHER, "xchacha20-poly1305");
  assert(isCipherName("aes-256-gcm"));
  assert(!isCipherName("aes-128-gcm"));
  assert(!isCipherName("toString"));
  for (const c of CIPHERS) {
    assertEquals(aead(c).name, c);
    assertEquals(referenceAead(c).name, c);
    assertEquals(aead(c).tagLength, 16);
    assertEquals(aead(c).nonceLength, c === "xchacha20-poly1305" ? 24 : 12);
  }
});

Deno.test("HChaCha20 known answer (draft-irtf-cfrg-xchacha-03 2.2.1)", () => {
  const v = HCHACHA20_DRAFT03;
  assertEquals(toHex(hchacha20(fromHex(v.key), fromHex(v.input))), v.output);
});

for (const cipher of CIPHERS) {
  const v = VECTORS[cipher];
  for (const { backend, aead: a } of allBackends(cipher)) {
    Deno.test(`${cipher} ${backend}: known answer (${v.source})`, async () => {
      const key = await a.importKey(fromHex(v.key));
      const sealed = await a.seal(key, fromHex(v.nonce), fromHex(v.plaintext), fromHex(v.ad));
      assertEquals(toHex(sealed), v.sealed);
      const opened = await a.open(key, fromHex(v.nonce), fromHex(v.sealed), fromHex(v.ad));
      assert(opened !== null);
      assertEquals(toHex(opened), v.plaintext);
    });
  }

  Deno.test(`${cipher}: fast backend agrees with @noble/ciphers on random sizes`, async () => {
    const fast = aead(cipher);
    const ref = referenceAead(cipher);
    const seed = Date.now() & 0xffffffff;
    const rnd = prng(seed);
    const sizes = [0, 1, 15, 16, 17, 63, 64, 65, 4096, 65536, 65537, 70000];
    for (let i = 0; i < 20; i++) sizes.push(Math.floor(rnd() * 70001));
    for (const size of sizes) {
      const raw = randomBytes(32);
      const fk = await fast.importKey(raw);
      const rk = await ref.importKey(raw);
      const nonce = randomBytes(fast.nonceLength);
      const pt = randomBytes(size);
      const ad = randomBytes(Math.floor(rnd() * 100));
      const a = await fast.seal(fk, nonce, pt, ad);
      const b = await ref.seal(rk, nonce, pt, ad);
      assertEquals(a.length, size + 16, `seed ${seed} size ${size}`);
      assertEquals(toHex(a), toHex(b), `seed ${seed} size ${size}`);
      const back = await fast.open(fk, nonce, b, ad);
      assert(back !== null, `seed ${seed} size ${size}`);
      assertEquals(toHex(back), toHex(pt));
      const back2 = await ref.open(rk, nonce, a, ad);
      assert(back2 !== null);
      assertEquals(back2.length, size);
    }
  });

  Deno.test(`${cipher}: the in-place chunk backend matches the known answer and noble`, async () => {
    // AES-GCM's bulk backend is WebCrypto (asynchronous): only single chunks go in place.
    assertEquals(directAead(cipher) === null, cipher === "aes-256-gcm");
    const d = singleChunkAead(cipher);
    const out = new Uint8Array(7 + fromHex(v.sealed).length + 5).fill(0xee);
    d.sealInto(fromHex(v.key), fromHex(v.nonce), fromHex(v.plaintext), fromHex(v.ad), out, 7);
    assertEquals(toHex(out.subarray(7, out.length - 5)), v.sealed);
    assert(
      out.subarray(0, 7).every((b) => b === 0xee) && out.subarray(-5).every((b) => b === 0xee),
    );
    const ref = referenceAead(cipher);
    for (const size of [0, 1, 4096, 65536]) {
      const raw = randomBytes(32);
      const nonce = randomBytes(d.nonceLength);
      const pt = randomBytes(size);
      const ad = randomBytes(33);
      const sealed = await ref.seal(await ref.importKey(raw), nonce, pt, ad);
      const got = new Uint8Array(size + 16);
      d.sealInto(raw, nonce, pt, ad, got, 0);
      assertEquals(toHex(got), toHex(sealed));
      const back = new Uint8Array(size + 3);
      assert(d.openInto(raw, nonce, sealed, ad, back, 3));
      assertEquals(toHex(back.subarray(3)), toHex(pt));
      // A flipped tag bit: refused, and nothing of the plaintext is written.
      sealed[sealed.length - 1] ^= 1;
      const none = new Uint8Array(size);
      assert(!d.openInto(raw, nonce, sealed, ad, none, 0));
      assert(none.every((b) => b === 0));
    }
  });

  Deno.test(`${cipher}: every single-bit flip of nonce, ciphertext, tag or AD fails`, async () => {
    for (const { backend, aead: a } of allBackends(cipher)) {
      const key = await a.importKey(randomBytes(32));
      const nonce = randomBytes(a.nonceLength);
      const pt = randomBytes(40);
      const ad = randomBytes(12);
      const sealed = await a.seal(key, nonce, pt, ad);
      for (const [what, buf] of [["nonce", nonce], ["sealed", sealed], ["ad", ad]] as const) {
        for (let bit = 0; bit < buf.length * 8; bit++) {
          buf[bit >> 3] ^= 1 << (bit & 7);
          const r = await a.open(key, nonce, sealed, ad);
          buf[bit >> 3] ^= 1 << (bit & 7);
          assertEquals(r, null, `${backend}: flipped bit ${bit} of ${what}`);
        }
      }
      assertNotEquals(await a.open(key, nonce, sealed, ad), null);
    }
  });

  Deno.test(`${cipher}: open() returns null on wrong lengths and wrong key`, async () => {
    for (const { backend, aead: a } of allBackends(cipher)) {
      const key = await a.importKey(randomBytes(32));
      const other = await a.importKey(randomBytes(32));
      const nonce = randomBytes(a.nonceLength);
      const ad = new Uint8Array(0);
      const sealed = await a.seal(key, nonce, randomBytes(33), ad);
      const cases: Array<[string, Uint8Array, Uint8Array]> = [
        ["empty", nonce, new Uint8Array(0)],
        ["shorter than a tag", nonce, sealed.subarray(0, 15)],
        ["truncated", nonce, sealed.subarray(0, sealed.length - 1)],
        ["tag only", nonce, sealed.subarray(sealed.length - 16)],
        ["extended", nonce, new Uint8Array([...sealed, 0])],
        ["short nonce", nonce.subarray(1), sealed],
        ["long nonce", new Uint8Array([...nonce, 0]), sealed],
        ["empty nonce", new Uint8Array(0), sealed],
      ];
      for (const [what, n, s] of cases) {
        assertEquals(await a.open(key, n, s, ad), null, `${backend}: ${what}`);
      }
      assertEquals(await a.open(other, nonce, sealed, ad), null, `${backend}: wrong key`);
    }
  });

  Deno.test(`${cipher}: empty plaintext and empty AD; inputs are not modified`, async () => {
    const a = aead(cipher);
    const raw = randomBytes(32);
    const rawCopy = raw.slice();
    const key = await a.importKey(raw);
    raw.fill(0); // the imported key must not alias the caller's buffer
    const nonce = randomBytes(a.nonceLength);
    const sealed = await a.seal(key, nonce, new Uint8Array(0), new Uint8Array(0));
    assertEquals(sealed.length, 16);
    const opened = await a.open(key, nonce, sealed, new Uint8Array(0));
    assertEquals(opened?.length, 0);
    const ref = await referenceAead(cipher).importKey(rawCopy);
    assertEquals(
      toHex(await referenceAead(cipher).seal(ref, nonce, new Uint8Array(0), new Uint8Array(0))),
      toHex(sealed),
    );
  });

  Deno.test(`${cipher}: sealing a subarray view works (hot path passes views)`, async () => {
    const a = aead(cipher);
    const key = await a.importKey(randomBytes(32));
    const big = randomBytes(5000);
    const view = big.subarray(100, 4196);
    const nonce = randomBytes(a.nonceLength);
    const ad = big.subarray(0, 8);
    const sealed = await a.seal(key, nonce, view, ad);
    const framed = new Uint8Array(sealed.length + 50);
    framed.set(sealed, 50);
    const opened = await a.open(key, nonce, framed.subarray(50), ad);
    assert(opened !== null);
    assertEquals(toHex(opened), toHex(view));
  });

  Deno.test(`${cipher}: misuse throws (bad key length, bad nonce, foreign key)`, async () => {
    const a = aead(cipher);
    await assertRejects(() => a.importKey(randomBytes(16)));
    const key = await a.importKey(randomBytes(32));
    await assertRejects(() =>
      a.seal(key, randomBytes(a.nonceLength + 1), new Uint8Array(1), new Uint8Array(0))
    );
    const foreign = await referenceAead(cipher).importKey(randomBytes(32));
    await assertRejects(() =>
      a.seal(foreign, randomBytes(a.nonceLength), new Uint8Array(1), new Uint8Array(0))
    );
  });
}

Deno.test("xchacha20-poly1305 equals HChaCha20 subkey + chacha20-poly1305 (draft 2.3)", async () => {
  const raw = randomBytes(32);
  const nonce = randomBytes(24);
  const pt = randomBytes(1000);
  const ad = randomBytes(10);
  const x = aead("xchacha20-poly1305");
  const sealed = await x.seal(await x.importKey(raw), nonce, pt, ad);
  const c = aead("chacha20-poly1305");
  const sub = hchacha20(raw, nonce.subarray(0, 16));
  const n12 = new Uint8Array(12);
  n12.set(nonce.subarray(16), 4);
  assertEquals(toHex(await c.seal(await c.importKey(sub), n12, pt, ad)), toHex(sealed));
});

Deno.test("randomBytes: sizes, and more than 65536 bytes", async () => {
  const { randomBytes: rb } = await import("../src/crypto/random.ts");
  assertEquals(rb(0).length, 0);
  const big = rb(200_000);
  assertEquals(big.length, 200_000);
  // Each 64 KiB piece was filled (a zero tail would mean a skipped chunk).
  assert(big.subarray(199_000).some((b) => b !== 0));
  assert(big.subarray(65536, 66536).some((b) => b !== 0));
  assertNotEquals(toHex(rb(32)), toHex(rb(32)));
});

Deno.test("disposeAeadKey: the key no longer works, and open/seal reject", async () => {
  for (const cipher of CIPHERS) {
    for (const { backend, aead: a } of allBackends(cipher)) {
      const key = await a.importKey(randomBytes(32));
      const nonce = randomBytes(a.nonceLength);
      const sealed = await a.seal(key, nonce, new Uint8Array(3), new Uint8Array(0));
      disposeAeadKey(key);
      disposeAeadKey(key);
      await assertRejects(
        () => a.seal(key, nonce, new Uint8Array(3), new Uint8Array(0)),
        TypeError,
        backend,
      );
      await assertRejects(() => a.open(key, nonce, sealed, new Uint8Array(0)), TypeError);
    }
  }
});

Deno.test("results own their whole ArrayBuffer (safe to transfer to a worker)", async () => {
  for (const cipher of CIPHERS) {
    for (const { backend, aead: a } of allBackends(cipher)) {
      const key = await a.importKey(randomBytes(32));
      for (const size of [0, 1, 100, 4096, 65536]) {
        const nonce = randomBytes(a.nonceLength);
        const sealed = await a.seal(key, nonce, randomBytes(size), new Uint8Array(3));
        const opened = await a.open(key, nonce, sealed, new Uint8Array(3));
        for (const out of [sealed, opened]) {
          assert(out !== null);
          const what = `${cipher} ${backend} size ${size}`;
          assertEquals(out.byteOffset, 0, what);
          assertEquals(out.buffer.byteLength, out.length, what);
          assertEquals(Object.getPrototypeOf(out), Uint8Array.prototype, what);
        }
      }
    }
  }
});
