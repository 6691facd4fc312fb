/**
 * Password → key-encryption key (KEK), with Argon2id (RFC 9106) from `hash-wasm`.
 *
 * The cost parameters come from the key file, which an attacker may edit: {@link checkKdfParams}
 * refuses values that would make unlocking hang or exhaust memory (a denial of service), or
 * that are too weak to be a real setting.
 */

import { argon2id } from "hash-wasm";

/** Argon2id parameters as stored in the key file. */
export interface KdfParams {
  algorithm: "argon2id";
  /** Memory cost in KiB. */
  memoryKiB: number;
  /** Passes over memory (Argon2 `t`). */
  iterations: number;
  /** Lanes (Argon2 `p`). */
  parallelism: number;
  /** Random salt, 16..64 bytes. */
  salt: Uint8Array;
}

/** The cost of a new key file: 64 MiB, 3 passes, 1 lane (RFC 9106 second recommendation). */
export const DEFAULT_KDF_COST: Readonly<
  { memoryKiB: number; iterations: number; parallelism: number }
> = Object.freeze({ memoryKiB: 65536, iterations: 3, parallelism: 1 });

/** Accepted ranges of the Argon2id parameters. */
export const KDF_LIMITS = Object.freeze({
  minMemoryKiB: 8 * 1024,
  maxMemoryKiB: 4 * 1024 * 1024,
  minIterations: 1,
  maxIterations: 100,
  minParallelism: 1,
  maxParallelism: 16,
  minSaltLength: 16,
  maxSaltLength: 64,
});

/** Salt length of new key files. */
export const KDF_SALT_LENGTH = 16;

/** Length of the derived key. */
export const KEK_LENGTH = 32;

/** KDF parameters outside {@link KDF_LIMITS}, or otherwise malformed. */
export class InvalidKdfParamsError extends RangeError {
  override name = "InvalidKdfParamsError";
}

function checkInt(what: string, v: unknown, min: number, max: number): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidKdfParamsError(`KDF ${what} must be a whole number in ${min}..${max}`);
  }
}

/** Throws {@link InvalidKdfParamsError} unless `p` is well-formed and within {@link KDF_LIMITS}. */
export function checkKdfParams(p: KdfParams): void {
  const L = KDF_LIMITS;
  if (p.algorithm !== "argon2id") {
    throw new InvalidKdfParamsError(`unsupported KDF algorithm: ${String(p.algorithm)}`);
  }
  checkInt("memoryKiB", p.memoryKiB, L.minMemoryKiB, L.maxMemoryKiB);
  checkInt("iterations", p.iterations, L.minIterations, L.maxIterations);
  checkInt("parallelism", p.parallelism, L.minParallelism, L.maxParallelism);
  if (!(p.salt instanceof Uint8Array)) throw new InvalidKdfParamsError("KDF salt must be bytes");
  checkInt("salt length", p.salt.length, L.minSaltLength, L.maxSaltLength);
}

/**
 * Encodes a password as KDF input: Unicode NFC (so the same password typed on different systems
 * gives the same key), then UTF-8. Refuses an empty password.
 */
export function passwordBytes(password: string): Uint8Array {
  if (typeof password !== "string" || password.length === 0) {
    throw new RangeError("the password must not be empty");
  }
  return new TextEncoder().encode(password.normalize("NFC"));
}

/** Derives the 32-byte KEK from `password` with Argon2id; validates `params` first. */
export async function deriveKek(password: Uint8Array, params: KdfParams): Promise<Uint8Array> {
  checkKdfParams(params);
  if (password.length === 0) throw new RangeError("the password must not be empty");
  const out = await argon2id({
    password,
    salt: params.salt,
    parallelism: params.parallelism,
    iterations: params.iterations,
    memorySize: params.memoryKiB,
    hashLength: KEK_LENGTH,
    outputType: "binary",
  });
  return out;
}
