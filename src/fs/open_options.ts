/**
 * What `EncryptedFs.open` and `EncryptedFs.create` take, and the errors particular to opening a
 * data dir (re-exported by encrypted_fs.ts).
 * @module
 */
import type { CipherName } from "../crypto/aead.ts";

/** The data dir unlocked, but its root directory is missing or damaged. */
export class DamagedDataDirError extends Error {}

/** The data dir was made with another cipher than the one asked for. */
export class CipherMismatchError extends Error {}

/** Options for opening a data dir. */
export interface OpenOptions {
  readOnly?: boolean;
  /** Called once per damaged object (path and reason), e.g. to log it. */
  onDamaged?: (path: string, reason: string) => void;
  /**
   * Called once per file (backing path) with a chunk whose newest version does not open while
   * its previous one does, which reads then return (format 3): a rewrite cut short by a crash,
   * or damage. E.g. to log it.
   */
  onOlderChunk?: (path: string, chunk: number) => void;
  /** The cipher the caller expects; a data dir made with another one is refused. */
  cipher?: CipherName;
  /** Milliseconds between background writes of dirty records (default 5000). */
  flushIntervalMs?: number;
  /**
   * Milliseconds without key use after which the process's key material is wiped, to be read
   * back from the kernel keyring on the next use (`StoreKeys`); 0 or absent: never.
   */
  keyIdleMs?: number;
}
