/**
 * The data dir's key file (`<datadir>/rencfs.conf`): the bytes only; the caller does the
 * (atomic) file I/O. It holds the settings of the data dir and the master key, wrapped under a
 * key derived from the password.
 *
 * Format: UTF-8 JSON, pretty-printed with 2-space indents and a final newline. The key file's own
 * layout is the same in every version; `version` is the data dir's format (1: rencfs 0.1, every
 * inode an object; 2: inodes with one name live in their entry file; 3: two slots per chunk, see
 * docs/format.md):
 *
 * ```json
 * {
 *   "format": "rencfs",
 *   "version": 3,
 *   "cipher": "xchacha20-poly1305",         // content AEAD, one of CIPHERS
 *   "chunkSize": 262144,                    // plaintext bytes per chunk, multiple of 512,
 *                                           // 512 .. 64 MiB
 *   "created": "2025-01-01T00:00:00.000Z",  // ISO 8601, UTC
 *   "kdf": {
 *     "algorithm": "argon2id",
 *     "memoryKiB": 65536, "iterations": 3, "parallelism": 1,   // within KDF_LIMITS
 *     "salt": "<base64, 16..64 bytes>"
 *   },
 *   "wrappedKey": "<base64: nonce (24) || XChaCha20-Poly1305(kek, masterKey (32)) || tag (16)>",
 *   "keyCheck": "<base64: 32 bytes>",
 *   "checksum": "<64 lowercase hex digits>"
 * }
 * ```
 *
 * - `kek` = Argon2id(NFC-normalized UTF-8 password, kdf) (src/crypto/kdf.ts).
 * - The associated data of `wrappedKey` is `"rencfs key wrap v1\0" || canonical({format,
 *   version, cipher, chunkSize, kdf})`: changing any of these makes the unwrap fail.
 * - `keyCheck` = HMAC-SHA256(HKDF(master, "rencfs v1 key check"), `"rencfs key check v1\0" ||
 *   canonical({format, version, cipher, chunkSize, created, kdf})`): authenticates the whole
 *   header under the master key, and lets a recovery code (the master key) be verified.
 * - `checksum` = SHA-256 of canonical(every field but `checksum`). It is keyless: it detects
 *   damage, not tampering, and so tells a damaged file from a wrong password.
 * - canonical(x) = JSON without whitespace, object keys sorted (recursively), `kdf.salt` as its
 *   base64 string. Base64 is standard, padded, and must be canonical; hex is lowercase.
 *
 * Stable across versions (so any later version can be told apart): `format`, the integer
 * `version`, and `checksum` computed this way.
 *
 * Errors: JSON or UTF-8 invalid, fields missing or malformed, checksum mismatch →
 * {@link DamagedKeyFileError}; `format` other than "rencfs" (with a valid or absent checksum) →
 * {@link NotADataDirError}; `version` greater than {@link FORMAT_VERSION} (checksum valid) →
 * {@link UnsupportedFormatError}; checksum valid but the unwrap fails →
 * {@link WrongPasswordError} (this is also what a header edited *and* re-checksummed gives,
 * since the header is bound into the unwrap); unwrap succeeds but `keyCheck` fails →
 * {@link DamagedKeyFileError} (the header was altered).
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { aead, type CipherName, isCipherName } from "../crypto/aead.ts";
import {
  checkKdfParams,
  DEFAULT_KDF_COST,
  deriveKek,
  KDF_SALT_LENGTH,
  type KdfParams,
  passwordBytes,
} from "../crypto/kdf.ts";
import { randomBytes } from "../crypto/random.ts";
import {
  decodeRecoveryCode,
  encodeRecoveryCode,
  InvalidRecoveryCodeError,
} from "../crypto/recovery.ts";
import { hkdf, keyedHash } from "../crypto/subkeys.ts";

/** The key file format version this code writes and the highest it reads. */
export const FORMAT_VERSION = 3;

/** Value of the `format` field. */
export const FORMAT_NAME = "rencfs";

/** Accepted chunk sizes. */
export const CHUNK_SIZE_LIMITS = Object.freeze({ min: 512, max: 64 * 1024 * 1024, multiple: 512 });

/** The password (or the recovery code) does not unlock this key file. */
export class WrongPasswordError extends Error {
  override name = "WrongPasswordError";
}

/** The key file is corrupt, truncated, or was altered. */
export class DamagedKeyFileError extends Error {
  override name = "DamagedKeyFileError";
}

/** The key file was written by a newer rencfs. */
export class UnsupportedFormatError extends Error {
  override name = "UnsupportedFormatError";
}

/** The file is not a rencfs key file at all. */
export class NotADataDirError extends Error {
  override name = "NotADataDirError";
}

/** The settings stored in a key file. */
export interface KeyFileHeader {
  version: number;
  cipher: CipherName;
  chunkSize: number;
  created: string;
  kdf: KdfParams;
}

/** Cost overrides for {@link createKeyFile}; absent fields take {@link DEFAULT_KDF_COST}. */
export type KdfCost = Partial<{ memoryKiB: number; iterations: number; parallelism: number }>;

const WRAP_CIPHER: CipherName = "xchacha20-poly1305";
const MASTER_KEY_LENGTH = 32;
const WRAP_NONCE_LENGTH = 24;
const WRAPPED_LENGTH = WRAP_NONCE_LENGTH + MASTER_KEY_LENGTH + 16;
const KEY_CHECK_LENGTH = 32;
const WRAP_AD_LABEL = "rencfs key wrap v1\0";
const KEY_CHECK_LABEL = "rencfs key check v1\0";
const KEY_CHECK_HKDF_INFO = "rencfs v1 key check";
const TOP_FIELDS = [
  "format",
  "version",
  "cipher",
  "chunkSize",
  "created",
  "kdf",
  "wrappedKey",
  "keyCheck",
  "checksum",
];
const KDF_FIELDS = ["algorithm", "memoryKiB", "iterations", "parallelism", "salt"];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const HEX64 = /^[0-9a-f]{64}$/;

const encoder = new TextEncoder();

// JSON value as read from the file.
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

// --- canonical serialization and encodings ------------------------------------------------------

/** JSON without whitespace, object keys sorted recursively (see the module comment). */
function canonical(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

function sha256Hex(s: string): string {
  return createHash("sha256").update(encoder.encode(s)).digest("hex");
}

function checksumOf(obj: { [k: string]: Json }): string {
  const rest: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(obj)) if (k !== "checksum") rest[k] = v;
  return sha256Hex(canonical(rest));
}

function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
}

/** Strict base64: standard alphabet, padded, canonical (re-encodes to the same text). */
function fromBase64(s: string): Uint8Array | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return null;
  const b = Buffer.from(s, "base64");
  if (b.toString("base64") !== s) return null;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
}

function headerJson(h: KeyFileHeader, withCreated: boolean): { [k: string]: Json } {
  const o: { [k: string]: Json } = {
    format: FORMAT_NAME,
    version: h.version,
    cipher: h.cipher,
    chunkSize: h.chunkSize,
    kdf: {
      algorithm: h.kdf.algorithm,
      memoryKiB: h.kdf.memoryKiB,
      iterations: h.kdf.iterations,
      parallelism: h.kdf.parallelism,
      salt: toBase64(h.kdf.salt),
    },
  };
  if (withCreated) o.created = h.created;
  return o;
}

function wrapAd(h: KeyFileHeader): Uint8Array {
  return encoder.encode(WRAP_AD_LABEL + canonical(headerJson(h, false)));
}

function keyCheckOf(master: Uint8Array, h: KeyFileHeader): Uint8Array {
  const k = hkdf(master, KEY_CHECK_HKDF_INFO);
  try {
    return keyedHash(k, encoder.encode(KEY_CHECK_LABEL + canonical(headerJson(h, true))));
  } finally {
    k.fill(0);
  }
}

// --- serialization ------------------------------------------------------------------------------

function serialize(h: KeyFileHeader, wrapped: Uint8Array, keyCheck: Uint8Array): Uint8Array {
  // Insertion order = the documented field order of the pretty file.
  const obj: { [k: string]: Json } = {
    format: FORMAT_NAME,
    version: h.version,
    cipher: h.cipher,
    chunkSize: h.chunkSize,
    created: h.created,
    kdf: headerJson(h, false).kdf,
    wrappedKey: toBase64(wrapped),
    keyCheck: toBase64(keyCheck),
  };
  obj.checksum = checksumOf(obj);
  return encoder.encode(JSON.stringify(obj, null, 2) + "\n");
}

interface ParsedKeyFile {
  header: KeyFileHeader;
  wrapped: Uint8Array;
  keyCheck: Uint8Array;
}

function damaged(why: string): DamagedKeyFileError {
  return new DamagedKeyFileError(`the key file is damaged: ${why}`);
}

function isObject(v: unknown): v is { [k: string]: Json } {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function parse(bytes: Uint8Array): ParsedKeyFile {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("key file bytes must be a Uint8Array");
  if (bytes.length === 0) throw damaged("it is empty");
  let obj: unknown;
  try {
    obj = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw damaged("it is not valid JSON (truncated or corrupted)");
  }
  if (!isObject(obj)) throw damaged("it is not a JSON object");

  const hasChecksum = Object.hasOwn(obj, "checksum");
  const checksumOk = typeof obj.checksum === "string" && HEX64.test(obj.checksum) &&
    obj.checksum === checksumOf(obj);

  if (obj.format !== FORMAT_NAME) {
    if (!hasChecksum || checksumOk) {
      throw new NotADataDirError('not a rencfs key file (its format field is not "rencfs")');
    }
    throw damaged("checksum mismatch");
  }
  if (!checksumOk) throw damaged(hasChecksum ? "checksum mismatch" : "the checksum is missing");

  const version = obj.version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    throw damaged("bad version field");
  }
  if (version > FORMAT_VERSION) {
    throw new UnsupportedFormatError(
      `made by a newer rencfs: format version ${version}, this rencfs reads up to ${FORMAT_VERSION}`,
    );
  }

  for (const k of Object.keys(obj)) {
    if (!TOP_FIELDS.includes(k)) throw damaged(`unknown field ${k}`);
  }
  for (const k of TOP_FIELDS) if (!Object.hasOwn(obj, k)) throw damaged(`missing field ${k}`);

  const { cipher, chunkSize, created, kdf, wrappedKey, keyCheck } = obj;
  if (typeof cipher !== "string" || !isCipherName(cipher)) {
    throw damaged(`unknown cipher ${JSON.stringify(cipher)}`);
  }
  if (!validChunkSize(chunkSize)) throw damaged("bad chunkSize");
  if (typeof created !== "string" || !ISO_UTC.test(created) || isNaN(Date.parse(created))) {
    throw damaged("bad created date");
  }
  if (!isObject(kdf)) throw damaged("bad kdf field");
  for (const k of Object.keys(kdf)) if (!KDF_FIELDS.includes(k)) throw damaged(`unknown kdf.${k}`);
  const salt = typeof kdf.salt === "string" ? fromBase64(kdf.salt) : null;
  if (!salt) throw damaged("bad kdf.salt");
  const params = {
    algorithm: kdf.algorithm,
    memoryKiB: kdf.memoryKiB,
    iterations: kdf.iterations,
    parallelism: kdf.parallelism,
    salt,
  } as KdfParams;
  try {
    checkKdfParams(params);
  } catch (e) {
    // The checksum matched, so these were written on purpose: refuse them (a huge cost is a DoS).
    throw damaged((e as Error).message);
  }
  const wrapped = typeof wrappedKey === "string" ? fromBase64(wrappedKey) : null;
  if (!wrapped || wrapped.length !== WRAPPED_LENGTH) throw damaged("bad wrappedKey");
  const check = typeof keyCheck === "string" ? fromBase64(keyCheck) : null;
  if (!check || check.length !== KEY_CHECK_LENGTH) throw damaged("bad keyCheck");

  return {
    header: { version, cipher, chunkSize: chunkSize as number, created, kdf: params },
    wrapped,
    keyCheck: check,
  };
}

function validChunkSize(n: unknown): n is number {
  const L = CHUNK_SIZE_LIMITS;
  return typeof n === "number" && Number.isInteger(n) && n >= L.min && n <= L.max &&
    n % L.multiple === 0;
}

function copyHeader(h: KeyFileHeader): KeyFileHeader {
  return { ...h, kdf: { ...h.kdf, salt: h.kdf.salt.slice() } };
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
