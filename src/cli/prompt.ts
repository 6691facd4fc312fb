/** Reading secrets from the terminal (no echo) and lines from a non-terminal stdin. */
import { CliError } from "./errors.ts";
import { ExitCode } from "./exit_codes.ts";
import { writeStderr } from "./output.ts";

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const BACKSPACE = 0x08;
const LF = 0x0a;
const CR = 0x0d;
const CTRL_U = 0x15;
const ESC = 0x1b;
const DEL = 0x7f;

const decoder = new TextDecoder();

/** Whether stdin is a terminal we can prompt on. */
export function stdinIsTerminal(): boolean {
  return Deno.stdin.isTerminal();
}

/**
 * Input bytes not consumed yet: both the terminal reader and the line reader share it, so that a
 * pasted "password\r" or piped "old\nnew\n" is consumed line by line.
 */
let pending = new Uint8Array(0);
let stdinEof = false;

async function fill(): Promise<boolean> {
  if (stdinEof) return false;
  const buf = new Uint8Array(4096);
  const n = await Deno.stdin.read(buf);
  if (n === null) {
    stdinEof = true;
    return false;
  }
  const next = new Uint8Array(pending.length + n);
  next.set(pending);
  next.set(buf.subarray(0, n), pending.length);
  pending = next;
  return true;
}

/** Drops the trailing UTF-8 character of `bytes` (for backspace). */
function dropLastChar(bytes: number[]): void {
  while (bytes.length > 0 && (bytes[bytes.length - 1] & 0xc0) === 0x80) bytes.pop();
  bytes.pop();
}

/**
 * Asks for a secret on the terminal: prints `prompt` to stderr and reads a line from stdin in
 * raw mode so that nothing is echoed. Handles backspace and Ctrl-U; Ctrl-C exits with 130,
 * Ctrl-D on an empty line is an error.
 */
export async function promptSecret(prompt: string): Promise<string> {
  const bytes: number[] = [];
  // Raw mode before the prompt: whatever is typed once the prompt shows is never echoed.
  Deno.stdin.setRaw(true);
  try {
    writeStderr(prompt);
    for (;;) {
      if (pending.length === 0 && !(await fill())) {
        throw new CliError(ExitCode.ERROR, "no input on the terminal");
      }
      let i = 0;
      while (i < pending.length) {
        const b = pending[i++];
        if (b === CR || b === LF) {
          // A CRLF pair from a paste counts as one line end.
          if (b === CR && pending[i] === LF) i++;
          pending = pending.slice(i);
          return decoder.decode(new Uint8Array(bytes));
        }
        if (b === CTRL_C) {
          throw new CliError(ExitCode.INTERRUPTED, "interrupted");
        }
        if (b === CTRL_D) {
          if (bytes.length === 0) throw new CliError(ExitCode.ERROR, "no input (end of file)");
        } else if (b === DEL || b === BACKSPACE) {
          dropLastChar(bytes);
        } else if (b === CTRL_U) {
          bytes.length = 0;
        } else if (b === ESC) {
          // Skip an escape sequence (arrow keys …): ESC [ params final-byte.
          if (pending[i] === 0x5b) {
            i++;
            while (i < pending.length && (pending[i] < 0x40 || pending[i] > 0x7e)) i++;
            i++;
          }
        } else if (b >= 0x20) {
          bytes.push(b);
        }
      }
      pending = new Uint8Array(0);
    }
  } finally {
    Deno.stdin.setRaw(false);
    writeStderr("\n");
  }
}

/**
 * Reads one line of stdin (without its line end); undefined at end of input. For scripts that
 * pipe the password in.
 */
export async function readStdinLine(): Promise<string | undefined> {
  for (;;) {
    const nl = pending.indexOf(LF);
    if (nl >= 0) {
      const line = pending.subarray(0, nl);
      pending = pending.slice(nl + 1);
      return stripCr(decoder.decode(line));
    }
    if (!(await fill())) {
      if (pending.length === 0) return undefined;
      const line = decoder.decode(pending);
      pending = new Uint8Array(0);
      return stripCr(line);
    }
  }
}

/** The first line of `text`, without its line end. */
export function firstLine(text: string): string {
  const nl = text.indexOf("\n");
  return stripCr(nl >= 0 ? text.slice(0, nl) : text);
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** Whether stdin and stderr are both a terminal: a question can be asked and answered. */
export function canAsk(): boolean {
  return Deno.stdin.isTerminal() && Deno.stderr.isTerminal();
}

/**
 * Asks a yes/no question on the terminal (echoed, as a normal line); only `y` or `yes` (any
 * case) is yes. End of input is no.
 */
export async function confirm(question: string): Promise<boolean> {
  writeStderr(`${question} [y/N] `);
  const answer = await readStdinLine();
  if (answer === undefined) writeStderr("\n");
  return /^\s*y(es)?\s*$/i.test(answer ?? "");
}
