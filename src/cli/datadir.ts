/** Creating and opening data dirs for the commands, with the test KDF cost applied. */
import type { CipherName } from "../crypto/aead.ts";
import { EncryptedFs } from "../fs/encrypted_fs.ts";
import { kdfCostFromEnv } from "./kdf.ts";
import { nonceBoundWarning } from "./cipher.ts";
import { permissionWarnings } from "../store/datadir.ts";
import { log } from "./log.ts";

/** Damaged objects are worth a warning each, not a failed mount. */
function onDamaged(path: string, reason: string): void {
  log("store").warn("damaged object {path}: {reason}", { path, reason });
}

/** A chunk read as its previous version: worth a warning (it may be damage), not an error. */
function onOlderChunk(path: string, chunk: number): void {
  log("store").warn(
    "older version of chunk {chunk} of {path}: its newest version does not open " +
      "(a rewrite cut short by a crash, or damage)",
    { path, chunk },
  );
}

/** Warns about each part of the data dir that other users can reach. */
async function warnPermissions(dataDir: string): Promise<void> {
  for (const warning of await permissionWarnings(dataDir)) {
    log("store").warn("{warning}", { warning });
  }
}

/** Creates a data dir in an empty or missing `dataDir` and opens it; the caller closes it. */
export async function createAndOpen(
  dataDir: string,
  password: string,
  cipher: CipherName | undefined,
  keyIdleMs = 0,
): Promise<{ fs: EncryptedFs; recoveryCode: string }> {
  const warning = cipher && nonceBoundWarning(cipher);
  if (warning) log("store").warn("{warning}", { warning });
  const made = await EncryptedFs.create(dataDir, password, {
    cipher,
    kdfCost: kdfCostFromEnv(),
    onDamaged,
    onOlderChunk,
    keyIdleMs,
  });
  await warnPermissions(dataDir);
  return made;
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
  const fs = await EncryptedFs.open(dataDir, { password }, {
    readOnly,
    onDamaged,
    onOlderChunk,
    keyIdleMs,
  });
  await warnPermissions(dataDir);
  return fs;
}
