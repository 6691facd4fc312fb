import { type CipherName, CIPHERS, isCipherName } from "../crypto/aead.ts";

/**
 * Reads a `--cipher` value: our names (`chacha20-poly1305` …) or the Rust rencfs spellings
 * (`ChaCha20Poly1305`, `Aes256Gcm`), in any case. Returns undefined for an unknown name.
 */
export function parseCipherName(value: string): CipherName | undefined {
  const lower = value.trim().toLowerCase();
  if (isCipherName(lower)) return lower;
  // Compare without separators so "ChaCha20Poly1305", "aes_256_gcm" … all match.
  const squashed = lower.replace(/[-_ ]/g, "");
  return CIPHERS.find((c) => c.replaceAll("-", "") === squashed);
}

/** The accepted names, for help and error messages. */
export function cipherNamesText(): string {
  return CIPHERS.join(", ");
}

/**
 * The warning to print when a new data dir is created with `cipher`, or undefined. Random
 * 96-bit nonces under one per-file key collide with probability about q²/2⁹⁷ after q chunk
 * writes to that file (1 in 2³³ at 2³² writes, ½ near 2⁴⁸), and a collision lets that file
 * be forged; 192-bit nonces (xchacha20-poly1305, the default) take that limit away. The bound is
 * stated rather than worked around with per-write subkeys: that would be a format change for
 * ciphers kept for compatibility and hardware AES.
 */
export function nonceBoundWarning(cipher: CipherName): string | undefined {
  if (cipher === "xchacha20-poly1305") return undefined;
  return `${cipher} uses random 96-bit nonces: keep each file under about 2^32 chunk writes ` +
    `(2^-33 collision chance per file; 64 KiB chunks: 256 TiB written to one file); ` +
    `xchacha20-poly1305 (the default) has no such limit`;
}
