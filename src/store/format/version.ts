/**
 * Format versions (docs/format.md, "Versioning"): the data dir's `version` in the key file, and
 * the version bytes every object carries so that a later release can migrate object by object.
 * @module
 */

/** The data dir format version this code writes and the highest it reads. */
export const FORMAT_VERSION = 3;

/** Value of the key file's `format` field. */
export const FORMAT_NAME = "rencfs";

/** Version byte of every sealed blob (records, pointer entries); unchanged since format 1. */
export const BLOB_VERSION = 1;

/** Version byte in the header of every inode file; unchanged since format 1. */
export const INODE_FILE_VERSION = 1;

/** Layout byte at the start of every inode record's plaintext; unchanged since format 1. */
export const RECORD_LAYOUT = 1;
