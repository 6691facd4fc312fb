/** Synchronous, complete writes to stdout and stderr (messages must not interleave or be cut). */

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}

/** Writes `text` to stdout. */
export function writeStdout(text: string): void {
  writeAll(Deno.stdout, text);
}

/** Writes `text` to stderr, ignoring a closed stderr (a detached daemon may have none). */
export function writeStderr(text: string): void {
  try {
    writeAll(Deno.stderr, text);
  } catch {
    // nowhere to report it
  }
}
