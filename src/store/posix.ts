/**
 * The POSIX numbers the on-disk objects carry: the root directory's inode number and the file
 * type bits of `mode`. They live here, below `fs/`, because the store writes and reads them
 * (records, entry files, the data dir's root); `src/fs/types.ts` re-exports them for everyone
 * else.
 * @module
 */

/** Inode number of the root directory (FUSE's FUSE_ROOT_ID). */
export const ROOT_INO = 1n;

/** File type bits of `mode` (as in `<sys/stat.h>`). */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
