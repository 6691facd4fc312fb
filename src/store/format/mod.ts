/**
 * The on-disk format in code: every byte layout, name and path of a data dir, pure (no I/O:
 * `tests/format_pure_test.ts` fails on a `Deno` call or an I/O import anywhere below here). One
 * module per section of docs/format.md, which names its module at the top of each section:
 *
 * | docs/format.md section                       | module                                   |
 * | -------------------------------------------- | ---------------------------------------- |
 * | Versioning                                   | `version.ts`                             |
 * | Layout (names, paths, keyed-name inputs)     | `paths.ts`                               |
 * | Key file: `rencfs.conf`                      | `keyfile.ts`, `chunk_size.ts`            |
 * | Keys (per-file key inputs)                   | `keys.ts` (subkeys: `src/crypto/`)       |
 * | Ciphers                                      | none (`src/crypto/aead.ts`)              |
 * | Sealed blobs                                 | `blob.ts`                                |
 * | Inode file: header, two record slots         | `inode_file.ts`                          |
 * | Inode record plaintext                       | `record.ts`                              |
 * | Pointer entry plaintext                      | `entry.ts`                               |
 * | Content: the chunks of an inode file         | `chunk_slot.ts`                          |
 * | Crash consistency                            | none (rules of the I/O, not bytes)       |
 * | Reading a data dir safely                    | limits in `entry.ts`, `inode_file.ts`    |
 * | Why 64 KiB chunks by default                 | `chunk_size.ts`                          |
 *
 * The I/O stays in `src/store/` (datadir, keyfile, keys, record_store, dir_store, content_file,
 * chunk_io_worker, trash, atomic_file), which imports from here. The modules are imported one by
 * one; this index re-exports them as namespaces for readers and tools.
 * @module
 */
export * as blob from "./blob.ts";
export * as chunkSize from "./chunk_size.ts";
export * as chunkSlot from "./chunk_slot.ts";
export * as entry from "./entry.ts";
export * as inodeFile from "./inode_file.ts";
export * as keyfile from "./keyfile.ts";
export * as keys from "./keys.ts";
export * as paths from "./paths.ts";
export * as record from "./record.ts";
export * as version from "./version.ts";
