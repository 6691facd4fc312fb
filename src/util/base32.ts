/** RFC 4648 base32, lower case, no padding: file-name safe on every filesystem and cloud. */
const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** Encodes bytes as lower-case base32 without padding. */
export function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}
