/** `rencfs info`: what a data dir is, from its key file alone (no password). */
import { DataDirBusyError, DirLock } from "../../../ffi/dirlock.ts";
import { KEY_BACKUP, readHeader } from "../../store/datadir.ts";
import { parseKeyFile } from "../../store/keyfile.ts";
import { KEY_FILE } from "../../store/format/paths.ts";
import type { InfoArgs } from "../args.ts";
import { CliError } from "../errors.ts";
import { ExitCode } from "../exit_codes.ts";
import { writeStdout } from "../output.ts";
import { checkDataDir } from "../preflight.ts";

/** Who holds the data dir's lock. */
export type InUse = "no" | "read-only" | "read-write";

/** What `rencfs info` reports (the `--json` object). */
export interface DataDirInfo {
  dataDir: string;
  formatVersion: number;
  cipher: string;
  chunkSize: number;
  kdf: { algorithm: string; memoryKiB: number; iterations: number; parallelism: number };
  created: string;
  /** `intact`, or why rencfs.conf cannot be used (then the backup is). */
  keyFile: string;
  /** `identical`, `differs`, `damaged` or `missing`. */
  backup: "identical" | "differs" | "damaged" | "missing";
  /** `read-write`: a mount (or fsck --repair) holds it; `read-only`: read-only mounts or fsck. */
  inUse: InUse;
}

/** Runs `rencfs info`; resolves to the exit code. */
export async function runInfo(args: InfoArgs): Promise<number> {
  const dir = args.dataDir;
  const state = await checkDataDir(dir);
  if (state !== "rencfs") {
    throw new CliError(
      ExitCode.DATA_DIR,
      `data dir ${dir} ${state === "missing" ? "does not exist" : "is empty"}`,
    );
  }
  const read = await readHeader(dir);
  const h = read.header;
  const info: DataDirInfo = {
    dataDir: dir,
    formatVersion: h.version,
    cipher: h.cipher,
    chunkSize: h.chunkSize,
    kdf: {
      algorithm: h.kdf.algorithm,
      memoryKiB: h.kdf.memoryKiB,
      iterations: h.kdf.iterations,
      parallelism: h.kdf.parallelism,
    },
    created: h.created,
    keyFile: read.fromBackup === undefined ? "intact" : `${read.fromBackup} (the backup is used)`,
    backup: await backupState(dir, read.fromBackup === undefined ? read.bytes : undefined),
    inUse: inUse(dir),
  };
  writeStdout(args.json ? `${JSON.stringify(info, null, 2)}\n` : text(info));
  return ExitCode.OK;
}

async function backupState(
  dir: string,
  main: Uint8Array | undefined,
): Promise<DataDirInfo["backup"]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(`${dir}/${KEY_BACKUP}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "missing";
    throw e;
  }
  try {
    parseKeyFile(bytes);
  } catch {
    return "damaged";
  }
  if (main === undefined) return "identical"; // it is the one in use
  return main.length === bytes.length && main.every((b, i) => b === bytes[i])
    ? "identical"
    : "differs";
}

/** Probes the data dir's lock without waiting, the way a mount would take it. */
function inUse(dir: string): InUse {
  for (const [shared, answer] of [[false, "read-only"], [true, "read-write"]] as const) {
    try {
      DirLock.acquire(dir, shared).release();
      return shared ? "read-only" : "no";
    } catch (e) {
      if (!(e instanceof DataDirBusyError)) throw e;
      if (shared) return answer;
    }
  }
  return "no";
}

function text(i: DataDirInfo): string {
  const kib = i.kdf.memoryKiB;
  const memory = kib % 1024 === 0 ? `${kib / 1024} MiB` : `${kib} KiB`;
  const chunk = i.chunkSize % 1024 === 0 ? `${i.chunkSize / 1024} KiB` : `${i.chunkSize} B`;
  const inUse = i.inUse === "no"
    ? "no"
    : i.inUse === "read-write"
    ? "yes, by a read-write mount (or fsck --repair)"
    : "yes, read-only (a read-only mount or fsck)";
  const backup = {
    identical: `${KEY_BACKUP}, identical`,
    differs: `${KEY_BACKUP}, differs from ${KEY_FILE} (the next writable open rewrites it)`,
    damaged: `${KEY_BACKUP}, damaged`,
    missing: "none",
  }[i.backup];
  return [
    `data dir:        ${i.dataDir}`,
    `format version:  ${i.formatVersion}`,
    `cipher:          ${i.cipher}`,
    `chunk size:      ${chunk}`,
    `key derivation:  ${i.kdf.algorithm}, memory ${memory}, ${i.kdf.iterations} ` +
    `pass${i.kdf.iterations === 1 ? "" : "es"}, ` +
    `parallelism ${i.kdf.parallelism}`,
    `created:         ${i.created}`,
    `key file:        ${KEY_FILE}, ${i.keyFile}`,
    `key backup:      ${backup}`,
    `in use:          ${inUse}`,
    "",
  ].join("\n");
}
