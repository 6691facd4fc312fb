/**
 * Published known-answer test vectors for the primitives of src/crypto, as hex strings. Kept
 * beside the code so a self-test (e.g. `rencfs selftest`) can run them too, not only `deno test`.
 */

/** A known-answer AEAD vector: `sealed` is `ciphertext || tag`. */
export interface AeadVector {
  readonly source: string;
  readonly key: string;
  readonly nonce: string;
  readonly ad: string;
  readonly plaintext: string;
  readonly sealed: string;
}

// "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future,
// sunscreen would be it." — the plaintext of RFC 8439 §2.8.2 and draft-irtf-cfrg-xchacha A.3.1.
const SUNSCREEN = "4c616469657320616e642047656e746c656d656e206f662074686520636c6173" +
  "73206f66202739393a204966204920636f756c64206f6666657220796f75206f" +
  "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73" +
  "637265656e20776f756c642062652069742e";

const KEY_80_9F = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";

/** RFC 8439 §2.8.2, ChaCha20-Poly1305 AEAD. */
export const CHACHA20_POLY1305_RFC8439: AeadVector = {
  source: "RFC 8439 section 2.8.2",
  key: KEY_80_9F,
  nonce: "070000004041424344454647",
  ad: "50515253c0c1c2c3c4c5c6c7",
  plaintext: SUNSCREEN,
  sealed: "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6" +
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36" +
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
    "3ff4def08e4b7a9de576d26586cec64b6116" +
    "1ae10b594f09e26a7e902ecbd0600691",
};

/** McGrew–Viega "The Galois/Counter Mode of Operation", test case 16 (AES-256, 96-bit IV). */
export const AES_256_GCM_TC16: AeadVector = {
  source: "GCM spec (McGrew, Viega) test case 16",
  key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
  nonce: "cafebabefacedbaddecaf888",
  ad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
  plaintext: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
  sealed: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" +
    "76fc6ece0f4e1768cddf8853bb2d551b",
};

/** draft-irtf-cfrg-xchacha-03 appendix A.3.1, XChaCha20-Poly1305 AEAD. */
export const XCHACHA20_POLY1305_DRAFT03: AeadVector = {
  source: "draft-irtf-cfrg-xchacha-03 A.3.1",
  key: KEY_80_9F,
  nonce: "404142434445464748494a4b4c4d4e4f5051525354555657",
  ad: "50515253c0c1c2c3c4c5c6c7",
  plaintext: SUNSCREEN,
  sealed: "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb" +
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452" +
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
    "21f9664c97637da9768812f615c68b13b52e" +
    "c0875924c1c7987947deafd8780acf49",
};

/** draft-irtf-cfrg-xchacha-03 §2.2.1, HChaCha20. */
export const HCHACHA20_DRAFT03 = {
  source: "draft-irtf-cfrg-xchacha-03 section 2.2.1",
  key: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
  input: "000000090000004a0000000031415927",
  output: "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc",
} as const;

/** RFC 5869 appendix A.1, HKDF-SHA256 test case 1. */
export const HKDF_SHA256_RFC5869_TC1 = {
  source: "RFC 5869 A.1",
  ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
  salt: "000102030405060708090a0b0c",
  info: "f0f1f2f3f4f5f6f7f8f9",
  length: 42,
  okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf" +
    "34007208d5b887185865",
} as const;

/** Decodes a hex string (test vectors only; throws on malformed input). */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error("bad hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Encodes bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
