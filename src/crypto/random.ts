/** Cryptographically secure random bytes from the platform CSPRNG. */

// crypto.getRandomValues refuses more than 65536 bytes per call.
const MAX_CHUNK = 65536;

/** Returns `n` random bytes (`crypto.getRandomValues`, called in 64 KiB pieces). */
export function randomBytes(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError("randomBytes: n must be a whole number");
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += MAX_CHUNK) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + MAX_CHUNK)));
  }
  return out;
}
