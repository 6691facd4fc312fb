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
