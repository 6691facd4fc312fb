/**
 * Wrapping the data dir's master key into its key file (`<datadir>/rencfs.conf`) and unwrapping
 * it: the cryptography only. The bytes of the file (fields, canonical form, checksum, the
 * associated data) are `format/keyfile.ts`; the (atomic) file I/O is the caller's.
 *
 * Errors, beyond those of the layout ({@link DamagedKeyFileError}, {@link NotADataDirError},
 * {@link UnsupportedFormatError}): checksum valid but the unwrap fails →
 * {@link WrongPasswordError} (this is also what a header edited *and* re-checksummed gives,
 * since the header is bound into the unwrap); unwrap succeeds but `keyCheck` fails →
 * {@link DamagedKeyFileError} (the header was altered).
 */

import { timingSafeEqual } from "node:crypto";
import { aead, type CipherName, isCipherName } from "../crypto/aead.ts";
import {
  checkKdfParams,
  DEFAULT_KDF_COST,
  deriveKek,
  KDF_SALT_LENGTH,
  passwordBytes,
} from "../crypto/kdf.ts";
import { randomBytes } from "../crypto/random.ts";
import {
  decodeRecoveryCode,
  encodeRecoveryCode,
  InvalidRecoveryCodeError,
} from "../crypto/recovery.ts";
import { hkdf, keyedHash } from "../crypto/subkeys.ts";
import { CHUNK_SIZE_LIMITS, validChunkSize } from "./format/chunk_size.ts";
import {
  copyHeader,
  DamagedKeyFileError,
  KEY_CHECK_HKDF_INFO,
  keyCheckMessage,
  type KeyFileHeader,
  MASTER_KEY_LENGTH,
  NotADataDirError,
  type ParsedKeyFile,
  parseKeyFileBytes as parse,
  serializeKeyFile as serialize,
  UnsupportedFormatError,
  WRAP_CIPHER,
  WRAP_NONCE_LENGTH,
  wrapAd,
  WRAPPED_LENGTH,
} from "./format/keyfile.ts";
import { FORMAT_VERSION } from "./format/version.ts";

// The layout's errors and types, for the callers of this module (the CLI, mod.ts).
export { DamagedKeyFileError, FORMAT_VERSION, NotADataDirError, UnsupportedFormatError };
export type { KeyFileHeader };

/** The password (or the recovery code) does not unlock this key file. */
export class WrongPasswordError extends Error {
  override name = "WrongPasswordError";
}

/** Cost overrides for {@link createKeyFile}; absent fields take {@link DEFAULT_KDF_COST}. */
export type KdfCost = Partial<{ memoryKiB: number; iterations: number; parallelism: number }>;

function damaged(why: string): DamagedKeyFileError {
  return new DamagedKeyFileError(`the key file is damaged: ${why}`);
}

function keyCheckOf(master: Uint8Array, h: KeyFileHeader): Uint8Array {
  const k = hkdf(master, KEY_CHECK_HKDF_INFO);
  try {
    return keyedHash(k, keyCheckMessage(h));
  } finally {
    k.fill(0);
  }
}

function keyCheckMatches(master: Uint8Array, parsed: ParsedKeyFile): boolean {
  return timingSafeEqual(keyCheckOf(master, parsed.header), parsed.keyCheck);
}

async function wrap(
  master: Uint8Array,
  password: string,
  header: KeyFileHeader,
): Promise<Uint8Array> {
  const pw = passwordBytes(password);
  const kek = await deriveKek(pw, header.kdf);
  pw.fill(0);
  try {
    const a = aead(WRAP_CIPHER);
    const key = await a.importKey(kek);
    const nonce = randomBytes(WRAP_NONCE_LENGTH);
    const sealed = await a.seal(key, nonce, master, wrapAd(header));
    const out = new Uint8Array(WRAPPED_LENGTH);
    out.set(nonce, 0);
    out.set(sealed, WRAP_NONCE_LENGTH);
    return out;
  } finally {
    kek.fill(0);
  }
}

// --- public API ---------------------------------------------------------------------------------

/**
 * Creates a key file for a new data dir: a fresh random master key, wrapped under `password`.
 * Returns the file's bytes, the master key (the caller copies it into secret memory and zeroes
 * this copy), the recovery code to show the user once, and the header.
 */
export async function createKeyFile(
  password: string,
  opts: { cipher: CipherName; chunkSize: number; kdfCost?: KdfCost; version?: number },
): Promise<{
  bytes: Uint8Array;
  masterKey: Uint8Array;
  recoveryCode: string;
  header: KeyFileHeader;
}> {
  passwordBytes(password).fill(0); // refuses an empty password before any work
  if (!isCipherName(opts.cipher)) throw new RangeError(`unknown cipher: ${opts.cipher}`);
  if (!validChunkSize(opts.chunkSize)) {
    const L = CHUNK_SIZE_LIMITS;
    throw new RangeError(`chunk size must be a multiple of ${L.multiple} in ${L.min}..${L.max}`);
  }
  const header: KeyFileHeader = {
    version: opts.version ?? FORMAT_VERSION,
    cipher: opts.cipher,
    chunkSize: opts.chunkSize,
    created: new Date().toISOString(),
    kdf: {
      algorithm: "argon2id",
      memoryKiB: opts.kdfCost?.memoryKiB ?? DEFAULT_KDF_COST.memoryKiB,
      iterations: opts.kdfCost?.iterations ?? DEFAULT_KDF_COST.iterations,
      parallelism: opts.kdfCost?.parallelism ?? DEFAULT_KDF_COST.parallelism,
      salt: randomBytes(KDF_SALT_LENGTH),
    },
  };
  checkKdfParams(header.kdf);
  const masterKey = randomBytes(MASTER_KEY_LENGTH);
  const wrapped = await wrap(masterKey, password, header);
  const bytes = serialize(header, wrapped, keyCheckOf(masterKey, header));
  return { bytes, masterKey, recoveryCode: encodeRecoveryCode(masterKey), header };
}

/**
 * Reads the header of a key file, checking its structure and checksum (no password needed).
 * Throws {@link DamagedKeyFileError}, {@link UnsupportedFormatError} or {@link NotADataDirError}.
 */
export function parseKeyFile(bytes: Uint8Array): KeyFileHeader {
  return parse(bytes).header;
}

/**
 * Unlocks a key file with the password or the recovery code; returns the master key and the
 * header. Throws {@link WrongPasswordError} (also for a recovery code of another data dir),
 * `InvalidRecoveryCodeError` (a mistyped recovery code), or the errors of {@link parseKeyFile}.
 */
export async function unlockKeyFile(
  bytes: Uint8Array,
  secret: { password: string } | { recoveryCode: string },
): Promise<{ masterKey: Uint8Array; header: KeyFileHeader }> {
  const parsed = parse(bytes);
  let master: Uint8Array;
  if ("recoveryCode" in secret) {
    master = decodeRecoveryCode(secret.recoveryCode);
    if (!keyCheckMatches(master, parsed)) {
      master.fill(0);
      throw new WrongPasswordError(
        "the recovery code does not belong to this data dir (or its key file was altered)",
      );
    }
    return { masterKey: master, header: copyHeader(parsed.header) };
  }
  if (typeof secret.password !== "string" || secret.password.length === 0) {
    throw new WrongPasswordError("wrong password: the password is empty");
  }
  const pw = passwordBytes(secret.password);
  const kek = await deriveKek(pw, parsed.header.kdf);
  pw.fill(0);
  try {
    const a = aead(WRAP_CIPHER);
    const key = await a.importKey(kek);
    const opened = await a.open(
      key,
      parsed.wrapped.subarray(0, WRAP_NONCE_LENGTH),
      parsed.wrapped.subarray(WRAP_NONCE_LENGTH),
      wrapAd(parsed.header),
    );
    if (opened === null) throw new WrongPasswordError("wrong password");
    master = opened;
  } finally {
    kek.fill(0);
  }
  if (master.length !== MASTER_KEY_LENGTH || !keyCheckMatches(master, parsed)) {
    master.fill(0);
    throw damaged("the header does not authenticate under the master key (it was altered)");
  }
  return { masterKey: master, header: copyHeader(parsed.header) };
}

/**
 * Rewraps the master key under `newPassword` with a new salt: same master key, same settings
 * (the data need not be re-encrypted). Throws {@link WrongPasswordError} if `masterKey` does not
 * belong to this key file.
 */
export async function rewrapKeyFile(
  bytes: Uint8Array,
  masterKey: Uint8Array,
  newPassword: string,
): Promise<Uint8Array> {
  passwordBytes(newPassword).fill(0);
  const parsed = parse(bytes);
  if (masterKey.length !== MASTER_KEY_LENGTH || !keyCheckMatches(masterKey, parsed)) {
    throw new WrongPasswordError("the master key does not belong to this key file");
  }
  const header = copyHeader(parsed.header);
  header.kdf.salt = randomBytes(KDF_SALT_LENGTH);
  const wrapped = await wrap(masterKey, newPassword, header);
  return serialize(header, wrapped, keyCheckOf(masterKey, header));
}

/** Whether `masterKey` (e.g. decoded from a recovery code) belongs to this key file. */
export function checkMasterKey(bytes: Uint8Array, masterKey: Uint8Array): boolean {
  return masterKey.length === MASTER_KEY_LENGTH && keyCheckMatches(masterKey, parse(bytes));
}

export { InvalidRecoveryCodeError };
