/**
 * The chunk-size rule (docs/format.md, "Key file" and "Why 64 KiB chunks by default"). Two
 * ranges, on purpose:
 *
 * - **Creation** makes only powers of two from {@link MIN_CHUNK_SIZE} (4 KiB) to
 *   {@link MAX_CHUNK_SIZE} (1 MiB), {@link DEFAULT_CHUNK_SIZE} (64 KiB) unless asked otherwise:
 *   every data dir rencfs has ever made has such a size.
 * - **A key file** is well-formed with any multiple of 512 from 512 bytes to 64 MiB
 *   ({@link CHUNK_SIZE_LIMITS}): the chunk layout works for any such size, so a later release may
 *   widen the creation range without a format bump, and this one still reads what it makes.
 * @module
 */

/** Default plaintext bytes per chunk; docs/format.md gives the measurements behind it. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/** Smallest chunk size made at creation (a power of two). */
export const MIN_CHUNK_SIZE = 4 * 1024;
/** Largest chunk size made at creation (a power of two). */
export const MAX_CHUNK_SIZE = 1024 * 1024;

/** Chunk sizes a key file may hold (what a reader accepts). */
export const CHUNK_SIZE_LIMITS = Object.freeze({ min: 512, max: 64 * 1024 * 1024, multiple: 512 });

/** Whether `n` is a chunk size a key file may hold ({@link CHUNK_SIZE_LIMITS}). */
export function validChunkSize(n: unknown): n is number {
  const L = CHUNK_SIZE_LIMITS;
  return typeof n === "number" && Number.isInteger(n) && n >= L.min && n <= L.max &&
    n % L.multiple === 0;
}

/** Whether a new data dir may be made with chunk size `n` (a power of two, 4 KiB to 1 MiB). */
export function creatableChunkSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_CHUNK_SIZE && n <= MAX_CHUNK_SIZE && (n & (n - 1)) === 0;
}
