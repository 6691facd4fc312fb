/**
 * rencfs: an encrypted filesystem. This module is the library: it keeps a whole POSIX file tree
 * encrypted inside a data dir, usable without FUSE.
 *
 * - {@link EncryptedFs}: create or open a data dir; inode-based POSIX operations (what the FUSE
 *   mount uses).
 * - {@link Vault}: a small path-based API shaped like Deno's file API.
 * - {@link initDataDir}, {@link changePassword}, {@link inspectDataDir}: data dir management.
 * - {@link fsck}: check a data dir object by object, and repair it.
 *
 * @example
 * ```ts
 * import { EncryptedFs, Vault } from "./mod.ts";
 *
 * const dataDir = await Deno.makeTempDir();
 * const { fs, recoveryCode } = await EncryptedFs.create(dataDir, "a long password");
 * console.log("keep this safe:", recoveryCode);
 * const vault = new Vault(fs);
 * await vault.writeTextFile("/hello.txt", "hello, encrypted world");
 * console.log(await vault.readTextFile("/hello.txt"));
 * await fs.close();
 * ```
 * @module
 */
export {
  CipherMismatchError,
  DamagedDataDirError,
  EncryptedFs,
  type OpenOptions,
} from "./src/fs/encrypted_fs.ts";
export { DataDirBusyError } from "./ffi/dirlock.ts";
export { SysError } from "./ffi/sys_error.ts";
export { Vault, VaultFile, type VaultOpenOptions, type VaultStat } from "./src/fs/path_api.ts";
export {
  changePassword,
  type CreateOptions,
  type DataDirState,
  DEFAULT_CHUNK_SIZE,
  initDataDir,
  inspectDataDir,
  type Secret,
} from "./src/store/datadir.ts";
export {
  DamagedKeyFileError,
  FORMAT_VERSION,
  type KeyFileHeader,
  NotADataDirError,
  UnsupportedFormatError,
  WrongPasswordError,
} from "./src/store/keyfile.ts";
export {
  type CheckStats,
  formatProblem,
  formatSummary,
  fsck,
  FsckBusyError,
  type FsckOptions,
  type FsckReport,
  type Problem,
  type ProblemKind,
} from "./src/fsck/fsck.ts";
export { type CipherName, CIPHERS, DEFAULT_CIPHER } from "./src/crypto/aead.ts";
export { Errno, type ErrnoName, FsError } from "./src/fs/errors.ts";
export * from "./src/fs/types.ts";
export { Lease, LeaseReleasedError } from "./src/util/lease.ts";
