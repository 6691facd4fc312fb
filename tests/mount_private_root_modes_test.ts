/**
 * A mount made by root without --allow-other runs without the kernel's `default_permissions`
 * (src/fuse/mount.ts, needsModeChecks): root processes must still get what a local filesystem
 * gives root, mode bits bypassed except execute. Needs root, /dev/fuse and libfuse3.
 */

import { assertEquals, ignore, sh, withMount } from "./mount_helpers.ts";

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

// What root does with modes: reads and writes without permission, enters a closed directory,
// is refused to execute a file with no x bit (exec and access(2) alike).
const probe = (dir: string) => `
  cd ${q(dir)}
  echo data > closed && chmod 000 closed
  echo "read:$(cat closed)"
  echo more >> closed && echo "write:$(wc -l < closed)"
  mkdir shut && touch shut/in && chmod 000 shut
  echo "list:$(ls shut)"
  printf '#!/bin/sh\\necho ran\\n' > script && chmod 644 script
  test -x script && echo "access-x:yes" || echo "access-x:no"
  test -r closed && test -w closed && echo "access-rw:yes" || echo "access-rw:no"
  test -x shut && echo "access-x-dir:yes" || echo "access-x-dir:no"
  ./script 2>/dev/null && echo "exec:yes" || echo "exec:no"
  chmod 700 script && echo "exec-after-chmod:$(./script)"
  chmod 4755 script && chown 1234:1234 script && echo "owner:$(stat -c '%u:%g %a' script)"
`;

Deno.test({
  name: "mount: root's private mount skips default_permissions and answers as a local fs",
  ignore,
  async fn() {
    await withMount(async ({ mnt, tmp }) => {
      const info = await Deno.readTextFile("/proc/self/mountinfo");
      const line = info.split("\n").find((l) => l.split(" ")[4] === mnt) ?? "";
      assertEquals(line.includes("fuse.rencfs"), true, "mounted");
      assertEquals(line.includes("default_permissions"), false, line);
      const local = `${tmp}/local`;
      await Deno.mkdir(local);
      const want = await sh(probe(local));
      assertEquals(want.split("\n"), [
        "read:data",
        "write:2",
        "list:in",
        "access-x:no",
        "access-rw:yes",
        "access-x-dir:yes",
        "exec:no",
        "exec-after-chmod:ran",
        "owner:1234:1234 755",
      ]);
      assertEquals(await sh(probe(mnt)), want);
    });
  },
});

Deno.test({
  name: "mount: --allow-other keeps default_permissions (tools_test checks what it enforces)",
  ignore,
  async fn() {
    await withMount(async ({ mnt }) => {
      const info = await Deno.readTextFile("/proc/self/mountinfo");
      const line = info.split("\n").find((l) => l.split(" ")[4] === mnt) ?? "";
      assertEquals(line.includes("default_permissions"), true, line);
    }, { allowOther: true });
  },
});
