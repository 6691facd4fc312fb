/**
 * The key file's bytes (docs/format.md, "Key file"): `rencfs.conf` and its copy
 * `rencfs.conf.bak`. Only the layout lives here; wrapping and unwrapping the master key is
 * `src/store/keyfile.ts`, reading and writing the file `src/store/datadir.ts`.
 *
 * Format: UTF-8 JSON, pretty-printed with 2-space indents and a final newline. The key file's own
 * layout is the same in every version; `version` is the data dir's format (1: rencfs 0.1, every
 * inode an object; 2: inodes with one name live in their entry file; 3: two slots per chunk):
 *
 * ```json
 * {
 *   "format": "rencfs",
 *   "version": 3,
 *   "cipher": "xchacha20-poly1305",         // content AEAD, one of CIPHERS
 *   "chunkSize": 65536,                     // plaintext bytes per chunk (chunk_size.ts)
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
 *   version, cipher, chunkSize, kdf})` ({@link wrapAd}): changing any of these makes the unwrap
 *   fail.
 * - `keyCheck` = HMAC-SHA256(HKDF(master, "rencfs v1 key check"), `"rencfs key check v1\0" ||
 *   canonical({format, version, cipher, chunkSize, created, kdf})`) ({@link keyCheckMessage}):
 *   authenticates the whole header under the master key, and lets a recovery code (the master
 *   key) be verified.
 * - `checksum` = SHA-256 of canonical(every field but `checksum`). It is keyless: it detects
 *   damage, not tampering, and so tells a damaged file from a wrong password.
 * - canonical(x) = JSON without whitespace, object keys sorted (recursively), `kdf.salt` as its
 *   base64 string. Base64 is standard, padded, and must be canonical; hex is lowercase.
 *
 * Stable across versions (so any later version can be told apart): `format`, the integer
 * `version`, and `checksum` computed this way.
 *
 * Errors of {@link parseKeyFileBytes}: JSON or UTF-8 invalid, fields missing or malformed,
 * checksum mismatch → {@link DamagedKeyFileError}; `format` other than "rencfs" (with a valid or
 * absent checksum) → {@link NotADataDirError}; `version` greater than {@link FORMAT_VERSION}
 * (checksum valid) → {@link UnsupportedFormatError}.
 * @module
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { type CipherName, isCipherName } from "../../crypto/aead.ts";
import { checkKdfParams, type KdfParams } from "../../crypto/kdf.ts";
import { validChunkSize } from "./chunk_size.ts";
import { FORMAT_NAME, FORMAT_VERSION } from "./version.ts";

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

/** A key file's header and its two binary fields, decoded. */
export interface ParsedKeyFile {
  header: KeyFileHeader;
  /** `wrappedKey`: nonce || sealed master key || tag ({@link WRAPPED_LENGTH} bytes). */
  wrapped: Uint8Array;
  /** `keyCheck` ({@link KEY_CHECK_LENGTH} bytes). */
  keyCheck: Uint8Array;
}

/** The cipher that wraps the master key, whatever the data dir's cipher. */
export const WRAP_CIPHER: CipherName = "xchacha20-poly1305";
/** Bytes of the master key. */
export const MASTER_KEY_LENGTH = 32;
/** Bytes of the nonce at the start of `wrappedKey`. */
export const WRAP_NONCE_LENGTH = 24;
/** Bytes of `wrappedKey`: nonce, sealed master key, tag. */
export const WRAPPED_LENGTH = WRAP_NONCE_LENGTH + MASTER_KEY_LENGTH + 16;
/** Bytes of `keyCheck`. */
export const KEY_CHECK_LENGTH = 32;
/** HKDF info of the key that computes `keyCheck`. */
export const KEY_CHECK_HKDF_INFO = "rencfs v1 key check";

const WRAP_AD_LABEL = "rencfs key wrap v1\0";
const KEY_CHECK_LABEL = "rencfs key check v1\0";
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

/** JSON without whitespace, object keys sorted recursively (see the module comment). */
function canonical(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

function checksumOf(obj: { [k: string]: Json }): string {
  const rest: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(obj)) if (k !== "checksum") rest[k] = v;
  return createHash("sha256").update(encoder.encode(canonical(rest))).digest("hex");
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

/** The associated data of `wrappedKey`: binds every setting but `created` to the unwrap. */
export function wrapAd(h: KeyFileHeader): Uint8Array {
  return encoder.encode(WRAP_AD_LABEL + canonical(headerJson(h, false)));
}

/** The message `keyCheck` is the HMAC of: the whole header. */
export function keyCheckMessage(h: KeyFileHeader): Uint8Array {
  return encoder.encode(KEY_CHECK_LABEL + canonical(headerJson(h, true)));
}

/** The bytes of a key file: `h`, `wrapped` and `keyCheck`, with its checksum. */
export function serializeKeyFile(
  h: KeyFileHeader,
  wrapped: Uint8Array,
  keyCheck: Uint8Array,
): Uint8Array {
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

function damaged(why: string): DamagedKeyFileError {
  return new DamagedKeyFileError(`the key file is damaged: ${why}`);
}

function isObject(v: unknown): v is { [k: string]: Json } {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Decodes and checks a key file's bytes (structure, checksum, version); see the module comment. */
export function parseKeyFileBytes(bytes: Uint8Array): ParsedKeyFile {
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

/** A deep copy of a header (the salt included). */
export function copyHeader(h: KeyFileHeader): KeyFileHeader {
  return { ...h, kdf: { ...h.kdf, salt: h.kdf.salt.slice() } };
}
