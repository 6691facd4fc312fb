// A full backing disk under the kernel's writeback cache: write() itself fails with ENOSPC
// (not a later write-back the kernel would drop), the file's size is what write() accepted,
// and every accepted byte reads back, before and after a remount. Needs root (a small tmpfs).
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { assertEquals, ignore, KDF_COST, PASSWORD, sh, shRun, withMount } from "./mount_helpers.ts";

Deno.test({
  name: "a full disk makes write() fail with ENOSPC; the size is true and every byte kept",
  ignore,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "rencfs-fullmount-" });
    const disk = `${tmp}/disk`;
    await Deno.mkdir(disk);
    await sh(`mount -t tmpfs -o size=48m tmpfs ${disk}`);
    try {
      const dataDir = `${disk}/data`;
      await (await EncryptedFs.create(dataDir, PASSWORD, { kdfCost: KDF_COST })).fs.close();
      const src = `${tmp}/src`;
      await sh(`head -c 96M /dev/urandom > ${src}`);
      const copied: Record<string, number> = {};
      await withMount(async (m) => {
        await sh(`echo kept > ${m.mnt}/kept && sync ${m.mnt}/kept`);
        // Big writes, then (after removing them) small ones: the limit holds for both.
        for (const bs of ["1M", "4k"]) {
          const f = `${m.mnt}/f${bs}`;
          const dd = await shRun(`timeout 120 dd if=${src} of=${f} bs=${bs} 2>&1`);
          const out = dd.stdout;
          assertEquals(dd.code, 1, out);
          assertEquals(/No space left on device/.test(out), true, out);
          const n = Number(/^(\d+) bytes/m.exec(out)![1]);
          assertEquals(n > 8 << 20, true, `only ${n} bytes before ENOSPC`);
          assertEquals(Number(await sh(`stat -c %s ${f}`)), n);
          assertEquals((await shRun(`cmp -n ${n} ${src} ${f}`)).code, 0);
          assertEquals((await shRun(`sync ${f}`)).code, 0);
          copied[bs] = n;
          if (bs === "1M") await sh(`rm ${f} && sync && sleep 1`);
        }
      }, { dataDir });
      await withMount(async (m) => {
        const f = `${m.mnt}/f4k`;
        assertEquals(Number(await sh(`stat -c %s ${f}`)), copied["4k"]);
        assertEquals((await shRun(`head -c ${copied["4k"]} ${src} | cmp ${f} -`)).code, 0);
        assertEquals(await sh(`cat ${m.mnt}/kept`), "kept");
        // Space comes back with removal, and writing works again.
        await sh(`rm ${f} && sync && sleep 1`);
        await sh(`head -c 4M ${src} > ${m.mnt}/again && cmp -n 4194304 ${src} ${m.mnt}/again`);
      }, { dataDir });
    } finally {
      await shRun(`umount ${disk}`);
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
