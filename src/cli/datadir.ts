/** Creating and opening data dirs for the commands, with the test KDF cost applied. */
import type { CipherName } from "../crypto/aead.ts";
import { EncryptedFs } from "../fs/encrypted_fs.ts";
import { kdfCostFromEnv } from "./kdf.ts";
import { log } from "./log.ts";

/** Damaged objects are worth a warning each, not a failed mount. */
function onDamaged(path: string, reason: string): void {
  log("store").warn("damaged object {path}: {reason}", { path, reason });
}

/** Creates a data dir in an empty or missing `dataDir` and opens it; the caller closes it. */
export async function createAndOpen(
  dataDir: string,
  password: string,
  cipher: CipherName | undefined,
  keyIdleMs = 0,
): Promise<{ fs: EncryptedFs; recoveryCode: string }> {
  return await EncryptedFs.create(dataDir, password, {
    cipher,
    kdfCost: kdfCostFromEnv(),
    onDamaged,
    keyIdleMs,
  });
}

/**
 * Creates a data dir and closes it again; returns its recovery code. Through EncryptedFs rather
 * than the bare key file so that the root directory exists and a first mount may be read-only.
 */
export async function createOnly(
  dataDir: string,
  password: string,
  cipher: CipherName | undefined,
): Promise<string> {
  const { fs, recoveryCode } = await createAndOpen(dataDir, password, cipher);
  await fs.close();
  return recoveryCode;
}

/** Opens an existing data dir; the caller closes it. */
export async function openExisting(
  dataDir: string,
  password: string,
  readOnly: boolean,
  keyIdleMs = 0,
): Promise<EncryptedFs> {
  return await EncryptedFs.open(dataDir, { password }, { readOnly, onDamaged, keyIdleMs });
}
