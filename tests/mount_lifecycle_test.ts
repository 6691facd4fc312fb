/**
 * Mount life cycle with real mounts: data persists across unmount and reopen, unmount from
 * outside ends the session, a busy mount is refused, or detached and served until its last file
 * is closed (nothing lost, no dead mount left),
 * read-only mounts, and the MountError messages. Needs root, /dev/fuse and libfuse3.
 */

import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { mount, MountError } from "../src/fuse/mount.ts";
import {
  assertEquals,
  assertRejects,
  ignore,
  isMounted,
  KDF_COST,
  PASSWORD,
  sh,
  shRun,
  withMount,
} from "./mount_helpers.ts";

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** A data dir created (and closed) in a temp folder, removed after `fn`. */
async function withDataDir(fn: (dataDir: string, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "rencfs-life-" });
  try {
    const { fs } = await EncryptedFs.create(`${tmp}/data`, PASSWORD, { kdfCost: KDF_COST });
    await fs.close();
    await fn(`${tmp}/data`, tmp);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test({
  name: "mount: data and metadata survive unmount (no fsync), close and a new mount",
  ignore,
  async fn() {
    await withDataDir(async (dataDir) => {
      const listing = (mnt: string) =>
        sh(
          `cd ${q(mnt)} && find . | sort | xargs stat -c '%n %a %h %s %Y %F' && sha256sum a/b/blob`,
        );
      let before = "";
      await withMount(async ({ mnt }) => {
        // Small writes stay in the page cache (writeback): unmount itself must flush them.
        await sh(`
          cd ${q(mnt)}
          mkdir -p a/b && head -c 3000000 /dev/urandom > a/b/blob && echo text > a/t
          for i in $(seq 1 200); do printf 'line %d\\n' $i; done | dd of=a/lines bs=7 status=none
          ln -s b/blob a/link && ln a/t a/t2 && chmod 700 a/b && touch -d @1000000000 a/t
        `);
        before = await listing(mnt);
      }, { dataDir });
      await withMount(async ({ mnt }) => {
        assertEquals(await listing(mnt), before);
        assertEquals(await sh(`sed -n 200p ${q(mnt)}/a/lines`), "line 200");
      }, { dataDir });
    });
  },
});

Deno.test({
  name: "mount: umount from outside ends the session (done resolves) and unmount() is then a no-op",
  ignore,
  async fn() {
    await withMount(async ({ mnt, mount: m }) => {
      await sh(`echo x > ${q(mnt)}/f`);
      await sh(`umount ${q(mnt)}`);
      await m.done;
      assertEquals(await isMounted(mnt), false);
      await m.unmount();
    });
  },
});

Deno.test({
  name: "mount: a busy mount is refused with busy:refuse, else detached and served until closed",
  ignore,
  async fn() {
    await withDataDir(async (dataDir) => {
      await withMount(async ({ mnt, mount: m }) => {
        await sh(`mkdir ${q(mnt)}/d && echo data > ${q(mnt)}/d/f`);
        // A process with its cwd and an open file inside keeps the mount busy; it appends to
        // the file (no fsync) only after the mount was detached, then closes it.
        const holder = new Deno.Command("bash", {
          args: [
            "-c",
            `cd ${q(mnt)}/d && exec 3>>f && echo ready && read -r go && echo appended >&3 && ` +
            `exec 3>&- && cd / && echo closed`,
          ],
          stdout: "piped",
          stdin: "piped",
        }).spawn();
        const reader = holder.stdout.getReader();
        const writer = holder.stdin.getWriter();
        try {
          await reader.read(); // "ready"
          await assertRejects(
            () => m.unmount({ busy: "refuse" }),
            (e) => e instanceof MountError && /cannot unmount/.test(e.message),
          );
          assertEquals(await isMounted(mnt), true);
          assertEquals(await sh(`cat ${q(mnt)}/d/f`), "data"); // still served
          const unmounted = m.unmount();
          // The kernel detaches before the unmount command returns: wait for both.
          await waitFor("lazy detach", async () => !(await isMounted(mnt)) && m.detached);
          const users = await m.users();
          assertEquals(users, { openFiles: 1, processes: 1 });
          const early = await Promise.race([
            m.done.then(() => "ended"),
            new Promise((r) => setTimeout(() => r("serving"), 300)),
          ]);
          assertEquals(early, "serving");
          await writer.write(new TextEncoder().encode("go\n"));
          await unmounted;
          await m.done;
          // The mount point is an ordinary, usable directory again (not "transport endpoint
          // is not connected").
          assertEquals((await shRun(`ls -A ${q(mnt)}`)).code, 0);
        } finally {
          try {
            holder.kill("SIGKILL");
          } catch {
            // it has ended
          }
          await holder.status;
          reader.releaseLock();
          writer.releaseLock();
          await holder.stdout.cancel().catch(() => {});
          await holder.stdin.close().catch(() => {});
        }
      }, { dataDir });
      await withMount(async ({ mnt }) => {
        assertEquals(await sh(`cat ${q(mnt)}/d/f`), "data\nappended");
      }, { dataDir });
    });
  },
});

Deno.test({
  name: "mount: read-only mount serves data and refuses changes with EROFS",
  ignore,
  async fn() {
    await withDataDir(async (dataDir) => {
      await withMount(async ({ mnt }) => {
        await sh(`echo kept > ${q(mnt)}/f`);
      }, { dataDir });
      await withMount(async ({ mnt }) => {
        assertEquals(await sh(`cat ${q(mnt)}/f`), "kept");
        const w = await shRun(`echo no > ${q(mnt)}/g`);
        assertEquals(w.code !== 0 && /Read-only file system/.test(w.stderr), true);
        const t = await shRun(`touch ${q(mnt)}/f`);
        assertEquals(t.code !== 0 && /Read-only file system/.test(t.stderr), true);
        assertEquals(await sh(`grep -F ${q(mnt)} /proc/mounts | grep -c '[ ,]ro[ ,]'`), "1");
      }, { dataDir, readOnly: true });
    });
  },
});

Deno.test({
  name: "mount: MountError for a missing mount point, a file, or an existing mount point",
  ignore,
  async fn() {
    await withMount(async ({ mnt, fs, tmp }) => {
      await Deno.writeTextFile(`${tmp}/file`, "");
      const cases: [string, RegExp][] = [
        [`${tmp}/missing`, /^mount point .*\/missing does not exist$/],
        [`${tmp}/file`, /^mount point .*\/file is not a directory$/],
        [mnt, /is already a mount point$/],
      ];
      for (const [path, re] of cases) {
        await assertRejects(
          () => mount(fs, path),
          (e) => e instanceof MountError && re.test(e.message),
        );
      }
      await waitFor("mount still answers", async () => (await shRun(`ls ${q(mnt)}`)).code === 0);
    });
  },
});
