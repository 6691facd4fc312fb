/**
 * Where the recovery code of a new data dir goes, and showing it once. It is the master key: it
 * goes to a terminal or to a file the user named, never to a log, a pipe or a redirected stderr
 * (a service manager would store it).
 */
import { dirname } from "node:path";
import { CliError, UsageError } from "./errors.ts";
import { ExitCode } from "./exit_codes.ts";
import { writeStderr, writeStdout } from "./output.ts";

const WARNING = "Store the recovery code somewhere safe, away from the data dir. It is " +
  "shown only this once and is the only way to regain access when the password is lost " +
  "(rencfs passwd --recovery-code).";

/** Where a recovery code goes. */
export type RecoveryCodeTarget =
  /** A file named with --recovery-code-file (created 0600, never overwritten). */
  | { kind: "file"; path: string }
  /** The code alone on stdout, the explanation on stderr (`init`). */
  | { kind: "stdout" }
  /** Framed by explanations, on whichever of stderr or stdout is a terminal (`mount`). */
  | { kind: "terminal"; stream: "stderr" | "stdout" }
  /** No terminal and no file: not shown at all (`mount`). */
  | { kind: "nowhere" };

/** `mount`: the named file, else the terminal (stderr first), else nowhere. */
export function mountRecoveryTarget(file: string | undefined): RecoveryCodeTarget {
  if (file !== undefined) return { kind: "file", path: file };
  if (Deno.stderr.isTerminal()) return { kind: "terminal", stream: "stderr" };
  if (Deno.stdout.isTerminal()) return { kind: "terminal", stream: "stdout" };
  return { kind: "nowhere" };
}

/**
 * `init`: the named file (`-`: stdout, as asked), else stdout when it is a terminal. Without
 * either, a usage error before anything is created: `init` exists to hand out the code, and a
 * redirected stdout may well be a log.
 */
export function initRecoveryTarget(file: string | undefined): RecoveryCodeTarget {
  if (file === "-") return { kind: "stdout" };
  if (file !== undefined) return { kind: "file", path: file };
  if (Deno.stdout.isTerminal()) return { kind: "stdout" };
  throw new UsageError(
    "stdout is not a terminal: say where the recovery code goes with --recovery-code-file " +
      "FILE (created 0600), or --recovery-code-file - to print it to stdout anyway",
    "init",
  );
}

/** Refuses a recovery code file that exists or whose folder does not (exit 2), early. */
export async function checkRecoveryTarget(target: RecoveryCodeTarget): Promise<void> {
  if (target.kind !== "file") return;
  const { path } = target;
  try {
    await Deno.lstat(path);
    throw new UsageError(`--recovery-code-file ${path} exists; it is never overwritten`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  try {
    if (!(await Deno.stat(dirname(path))).isDirectory) throw new Error("not a directory");
  } catch {
    throw new UsageError(`--recovery-code-file ${path}: its folder does not exist`);
  }
}

/** A recovery code destination made ready before the data dir is created. */
export class RecoveryCodeSink {
  private constructor(
    private readonly target: RecoveryCodeTarget,
    private file: Deno.FsFile | undefined,
  ) {}

  /** Creates the file (exclusively, 0600) now, so that a data dir is never made without it. */
  static async open(target: RecoveryCodeTarget): Promise<RecoveryCodeSink> {
    if (target.kind !== "file") return new RecoveryCodeSink(target, undefined);
    try {
      const f = await Deno.open(target.path, { write: true, createNew: true, mode: 0o600 });
      return new RecoveryCodeSink(target, f);
    } catch (e) {
      throw new CliError(
        ExitCode.ERROR,
        `cannot create --recovery-code-file ${target.path}: ${(e as Error).message}`,
      );
    }
  }

  /** The data dir was not created: remove the empty file. */
  async abort(): Promise<void> {
    if (!this.file || this.target.kind !== "file") return;
    this.file.close();
    this.file = undefined;
    await Deno.remove(this.target.path).catch(() => {});
  }

  /** Hands out the code of the data dir just created at `dataDir`. */
  async deliver(code: string, dataDir: string): Promise<void> {
    const t = this.target;
    switch (t.kind) {
      case "file": {
        const f = this.file!;
        this.file = undefined;
        try {
          const bytes = new TextEncoder().encode(`${code}\n`);
          for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
          await f.sync();
        } finally {
          f.close();
        }
        writeStderr(
          `rencfs: new data dir created at ${dataDir}; its recovery code is in ${t.path} ` +
            `(mode 0600).\nrencfs: warning: ${WARNING} Then delete ${t.path}.\n`,
        );
        return;
      }
      case "stdout":
        writeStderr("rencfs: new data dir created. Recovery code:\n");
        writeStdout(`${code}\n`);
        writeStderr(`rencfs: warning: ${WARNING}\n`);
        return;
      case "terminal": {
        const write = t.stream === "stderr" ? writeStderr : writeStdout;
        write(
          `rencfs: new data dir created. Recovery code:\n\n    ${code}\n\n` +
            `rencfs: warning: ${WARNING}\n`,
        );
        return;
      }
      case "nowhere":
        writeStderr(
          `rencfs: warning: created a new data dir at ${dataDir}. Its recovery code was not ` +
            `shown: there is no terminal and it never goes to logs, and it cannot be shown ` +
            `later. To have one, unmount, remove ${dataDir} before putting data in it, and ` +
            `create it with: rencfs init --data-dir ${dataDir} --recovery-code-file FILE\n`,
        );
        return;
    }
  }
}
