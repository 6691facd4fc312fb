// The largest file is what the backing filesystem takes (ext4: 16 TiB, about 8 TiB of plaintext
// in two slots per chunk): a write or truncation past it fails with EFBIG before anything
// changes, as on ext4, instead of failing half-way with the record already grown. Bad offsets
// from library callers are EINVAL, never a NaN size.
import { ok as assert } from "node:assert";
import { assertEquals } from "./helpers/assert.ts";
import { contentEnd, type SlotLayout } from "../src/store/format/chunk_slot.ts";
import { contentBase, MAX_RECORD_BYTES } from "../src/store/format/inode_file.ts";
import {
  MAX_FILE_SIZE,
  maxPlaintextSize,
  probeBackingMaxSize,
} from "../src/store/backing_limit.ts";

const layout: SlotLayout = { chunkSize: 65536, nonceLength: 24, paired: true };

Deno.test("the plaintext limit is the largest chunk count whose slots fit the backing limit", () => {
  const ext4 = 2 ** 44 - 4096;
  const max = maxPlaintextSize(layout, ext4);
  const chunks = max / layout.chunkSize;
  assert(Number.isInteger(chunks));
  const base = contentBase(MAX_RECORD_BYTES);
  assert(base + contentEnd(layout, chunks) <= ext4);
  assert(base + contentEnd(layout, chunks + 1) > ext4);
  assert(max > 7.9 * 2 ** 40 && max < 8 * 2 ** 40, `${max}`);
  assertEquals(maxPlaintextSize(layout, Infinity), MAX_FILE_SIZE);
  assertEquals(maxPlaintextSize(layout, 1000), 0);
});

Deno.test("the backing limit probe stops at ulimit -f and leaves no file behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rencfs-fsize-" });
  try {
    const code = `import { probeBackingMaxSize } from "${new URL(
      "../src/store/backing_limit.ts",
      import.meta.url,
    )}"; console.log(probeBackingMaxSize(${JSON.stringify(dir)}));`;
    const r = await new Deno.Command("bash", {
      args: ["-c", `ulimit -f 2048 && exec "$0" eval "$1"`, Deno.execPath(), code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(r.success, true, new TextDecoder().decode(r.stderr));
    assertEquals(new TextDecoder().decode(r.stdout).trim(), String(2048 * 1024));
    assertEquals([...Deno.readDirSync(dir)], []);
    // Without a limit here: the filesystem's own (Infinity on tmpfs), at least ext4's 16 TiB.
    assert(probeBackingMaxSize(dir) >= 2 ** 44 - 4096);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writes and truncations past the limit fail with EFBIG and change nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rencfs-fsize-" });
  try {
    const child = new URL("./helpers/file_size_limit_child.ts", import.meta.url).pathname;
    // 16 MiB: a file of 64 MiB does not fit, one of 3,000 bytes does.
    const r = await new Deno.Command("bash", {
      args: [
        "-c",
        `ulimit -f 16384 && exec "$0" run -A "$1" "$2"`,
        Deno.execPath(),
        child,
        `${dir}/data`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assertEquals(r.success, true, err);
    assertEquals(JSON.parse(new TextDecoder().decode(r.stdout)), {
      "write at 0": "ok",
      "write at 64 MiB": "EFBIG",
      "write at 2^62": "EFBIG",
      "truncate to 64 MiB": "EFBIG",
      "fallocate to 64 MiB": "EFBIG",
      "write at -1": "EINVAL",
      "write at 1.5": "EINVAL",
      "write at NaN": "EINVAL",
      "read at NaN": "EINVAL",
      "truncate to -1": "EINVAL",
      "size before reopen": 3000,
      "size after reopen": 3000,
      "bytes match": true,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
