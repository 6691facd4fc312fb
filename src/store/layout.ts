/**
 * Where things live in a data dir. The tree is flat and sharded: every inode's objects sit in
 * `o/<2 chars>/` under a keyed 26-character name, so the layout does not mirror the directory
 * tree and no path component is longer than 40 characters.
 *
 *   rencfs.conf                  key file (format, cipher, chunk size, wrapped master key)
 *   o/<sh>/<name>.m              inode file of a directory or a hard-linked inode: header, two
 *                                record slots, then the content chunks
 *   o/<sh>/<name>.d/<entry>      one file per name in a directory: a sealed pointer entry, or
 *                                (format 2) the inode file of the inode of that one name
 */
export const KEY_FILE = "rencfs.conf";
export const OBJECTS_DIR = "o";

/** Paths of one inode's objects, given its keyed object name. */
export interface ObjectPaths {
  shard: string;
  record: string;
  entries: string;
}

/** The paths of the objects named `name` under data dir `root`. */
export function objectPaths(root: string, name: string): ObjectPaths {
  const shard = `${root}/${OBJECTS_DIR}/${name.slice(0, 2)}`;
  return {
    shard,
    record: `${shard}/${name}.m`,
    entries: `${shard}/${name}.d`,
  };
}
