/**
 * `--log-level TRACE`: one line per filesystem operation the FUSE adapter asks for (its name,
 * inode numbers, handles, offsets, the result or errno, the time it took). Names, symlink
 * targets, xattr names and values are plaintext: they are left out unless `--log-names`; data is
 * never logged, only its length.
 */
import type { Logger } from "@logtape/logtape";
import { FsError } from "../fs/errors.ts";
import type { FileSystem } from "../fs/types.ts";
import { Lease } from "../util/lease.ts";

/** The parameters of each traced operation, by kind (see {@link formatArg}). */
const OPS: Readonly<Record<string, readonly string[]>> = {
  lookup: ["parent", "name"],
  getattr: ["ino"],
  setattr: ["ino", "changes", "fh"],
  mknod: ["parent", "name", "mode", "rdev"],
  mkdir: ["parent", "name", "mode"],
  symlink: ["parent", "name", "target"],
  link: ["ino", "newparent", "newname"],
  unlink: ["parent", "name"],
  rmdir: ["parent", "name"],
  rename: ["parent", "name", "newparent", "newname", "flags"],
  readlink: ["ino"],
  create: ["parent", "name", "mode", "flags"],
  open: ["ino", "flags"],
  read: ["ino", "fh", "off", "len"],
  readPieces: ["ino", "fh", "off", "len"],
  write: ["ino", "fh", "off", "data"],
  flush: ["ino", "fh"],
  fsync: ["ino", "fh", "datasync"],
  release: ["ino", "fh"],
  fallocate: ["ino", "fh", "off", "len", "mode"],
  opendir: ["ino"],
  readdir: ["ino", "fh", "off", "limit", "plus"],
  releasedir: ["ino", "fh"],
  fsyncdir: ["ino", "fh"],
  statfs: [],
  getxattr: ["ino", "xattr"],
  setxattr: ["ino", "xattr", "value", "flags"],
  listxattr: ["ino"],
  removexattr: ["ino", "xattr"],
  forget: ["ino", "n"],
};

/** Parameters holding plaintext names. */
const NAMES = new Set(["name", "newname", "target", "xattr"]);
/** Parameters holding plaintext content. */
const DATA = new Set(["data", "value"]);
const OCTAL = new Set(["mode", "flags"]);

const decoder = new TextDecoder();

function formatArg(kind: string, v: unknown, logNames: boolean): string {
  if (NAMES.has(kind)) {
    const bytes = typeof v === "string" ? new TextEncoder().encode(v) : v as Uint8Array;
    return logNames ? JSON.stringify(decoder.decode(bytes)) : `<${bytes.length} bytes>`;
  }
  if (DATA.has(kind)) return `<${(v as Uint8Array).length} bytes>`;
  if (kind === "changes") return Object.keys(v as object).join(",") || "-";
  if (OCTAL.has(kind) && typeof v === "number") return `0${v.toString(8)}`;
  return String(v);
}

function formatResult(op: string, v: unknown): string {
  if (v === undefined) return "ok";
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (v instanceof Lease) return `${v.bytes} bytes`;
  if (Array.isArray(v)) {
    return `${v.length} ${op === "listxattr" ? "names" : "entries"}`;
  }
  if (typeof v === "number") return op === "write" ? `${v} bytes` : `fh=${v}`;
  if (typeof v === "object" && v !== null) {
    const o = v as { ino?: bigint; attr?: { ino: bigint }; fh?: number };
    if (o.attr) return `ino=${o.attr.ino} fh=${o.fh}`;
    if (o.ino !== undefined) return `ino=${o.ino}`;
  }
  return "ok";
}

function errnoOf(e: unknown): string {
  return e instanceof FsError ? e.code : `EIO (${e instanceof Error ? e.message : String(e)})`;
}

/** `fs` with every operation of {@link OPS} logged at TRACE on `logger`. */
export function traced(fs: FileSystem, logger: Logger, logNames: boolean): FileSystem {
  const wrappers = new Map<string, unknown>();
  const line = (op: string, args: unknown[], result: string, t0: number) => {
    const params = OPS[op];
    const text = params.map((p, i) => `${p}=${formatArg(p, args[i], logNames)}`).join(" ");
    const ms = (performance.now() - t0).toFixed(3);
    logger.trace("{line}", { line: `${op}${text ? " " + text : ""} -> ${result} ${ms} ms` });
  };
  return new Proxy(fs, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof prop !== "string" || typeof value !== "function") return value;
      const known = wrappers.get(prop);
      if (known) return known;
      const fn = value as (...a: unknown[]) => unknown;
      let wrapper: unknown;
      if (!(prop in OPS)) {
        wrapper = fn.bind(target);
      } else {
        wrapper = (...args: unknown[]) => {
          const t0 = performance.now();
          let out: unknown;
          try {
            out = fn.apply(target, args);
          } catch (e) {
            line(prop, args, errnoOf(e), t0);
            throw e;
          }
          if (!(out instanceof Promise)) {
            line(prop, args, formatResult(prop, out), t0);
            return out;
          }
          return out.then(
            (v) => {
              line(prop, args, formatResult(prop, v), t0);
              return v;
            },
            (e) => {
              line(prop, args, errnoOf(e), t0);
              throw e;
            },
          );
        };
      }
      wrappers.set(prop, wrapper);
      return wrapper;
    },
  });
}
