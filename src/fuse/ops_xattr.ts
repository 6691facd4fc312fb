/**
 * Handlers for extended attributes. A request with size 0 asks for the needed size; a value
 * that does not fit the caller's buffer is ERANGE, as for a local filesystem.
 *
 * @module
 */

import type { OpHandlers } from "../../ffi/fuse.ts";
import { copyBytes, copyCString } from "../../ffi/libc.ts";
import { Errno } from "../fs/errors.ts";
import type { OpContext, Req } from "./context.ts";

type XattrOps = Pick<OpHandlers, "setxattr" | "getxattr" | "listxattr" | "removexattr">;

const utf8 = new TextDecoder();

/**
 * POSIX ACLs are not supported (FUSE_CAP_POSIX_ACL is off). Without this the kernel would pass
 * them through as opaque xattrs: `cp -a` would then "set" a file's mode through
 * system.posix_acl_access, the store would keep the blob and the mode would silently stay
 * unchanged. EOPNOTSUPP makes tools fall back to chmod, as on a filesystem mounted noacl.
 */
export function isAclName(name: string): boolean {
  return name === "system.posix_acl_access" || name === "system.posix_acl_default";
}

const utf8e = new TextEncoder();

/** The listxattr wire format: every name followed by a NUL byte. */
export function encodeXattrNames(names: string[]): Uint8Array<ArrayBuffer> {
  const parts = names.map((n) => utf8e.encode(n));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length + 1, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length + 1;
  }
  return out;
}

/** Builds the xattr-operation handlers for `c`. */
export function xattrOps(c: OpContext): XattrOps {
  const { fs, fuse } = c;

  function replySized(req: Req, data: Uint8Array, size: number): void {
    if (size === 0) fuse.fuse_reply_xattr(req, BigInt(data.length));
    else if (data.length > size) fuse.fuse_reply_err(req, Errno.ERANGE);
    else fuse.fuse_reply_buf(req, data, BigInt(data.length));
  }

  return {
    setxattr(req, ino, name, value, size, flags) {
      const n = utf8.decode(copyCString(name));
      const v = copyBytes(value, Number(size));
      if (isAclName(n)) return void fuse.fuse_reply_err(req, Errno.EOPNOTSUPP);
      c.runVoid(req, "setxattr", () => fs.setxattr(ino, n, v, flags));
    },

    getxattr(req, ino, name, size) {
      const n = utf8.decode(copyCString(name));
      if (isAclName(n)) return void fuse.fuse_reply_err(req, Errno.EOPNOTSUPP);
      c.run(req, "getxattr", () => fs.getxattr(ino, n), (v) => replySized(req, v, Number(size)));
    },

    listxattr(req, ino, size) {
      c.run(
        req,
        "listxattr",
        () => fs.listxattr(ino),
        (names) =>
          replySized(req, encodeXattrNames(names.filter((n) => !isAclName(n))), Number(size)),
      );
    },

    removexattr(req, ino, name) {
      const n = utf8.decode(copyCString(name));
      if (isAclName(n)) return void fuse.fuse_reply_err(req, Errno.EOPNOTSUPP);
      c.runVoid(req, "removexattr", () => fs.removexattr(ino, n));
    },
  };
}
