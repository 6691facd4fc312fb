/**
 * Derivation inputs of the per-file content key (docs/format.md, "Keys"):
 * K_file = HKDF-SHA256(K_content, salt = u64(ino) || file id, info = "rencfs v1 file"). The four
 * subkeys of the master key and their labels are `src/crypto/subkeys.ts`; the keyed names of
 * objects and entries are `paths.ts`.
 * @module
 */
import { concat, u64le } from "../../util/codec.ts";

/** HKDF info of a per-file content key. */
export const FILE_KEY_INFO = "rencfs v1 file";

/** HKDF salt of the content key of inode `ino` with file id `fileId`. */
export function fileKeySalt(ino: bigint, fileId: Uint8Array): Uint8Array {
  return concat(u64le(ino), fileId);
}
