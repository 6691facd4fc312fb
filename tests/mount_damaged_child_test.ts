// One damaged or half-created object never makes its directory unreadable through the mount:
// `ls` lists every other name, and only the damaged name itself reports an error.
import { assertEquals, ignore, sh, shRun, withMount } from "./mount_helpers.ts";

async function objectFiles(dir: string): Promise<string[]> {
  const out = await sh(`find ${dir}/o -name '*.m' | sort`);
  return out ? out.split("\n") : [];
}

Deno.test({
  name: "ls of a directory with a damaged and a never-written subdirectory lists the rest",
  ignore,
  fn: async () => {
    let dataDir = "";
    let tmp = "";
    const made: Record<string, string> = {};
    await withMount(async (m) => {
      dataDir = m.dataDir;
      tmp = m.tmp;
      await sh(`mkdir ${m.mnt}/d && echo one > ${m.mnt}/d/x && echo two > ${m.mnt}/d/y`);
      await sh(`mkdir ${m.mnt}/e`);
      for (const name of ["d/bad", "d/unwritten", "e/unwritten"]) {
        const before = new Set(await objectFiles(dataDir));
        await sh(`mkdir ${m.mnt}/${name}`);
        made[name] = (await objectFiles(dataDir)).find((p) => !before.has(p))!;
      }
    }, { keepTmp: true });
    try {
      // Both record slots of one flipped (damage); the other emptied (a power cut's debris).
      const bad = await Deno.readFile(made["d/bad"]);
      for (let at = 40; at < bad.length; at += 512) bad[at] ^= 0x55;
      await Deno.writeFile(made["d/bad"], bad);
      await Deno.writeFile(made["d/unwritten"], new Uint8Array(0));
      await Deno.writeFile(made["e/unwritten"], new Uint8Array(0));
      await withMount(async (m) => {
        const ls = await shRun(`ls -1 ${m.mnt}/d`);
        assertEquals(ls.code, 0, ls.stderr);
        // The damaged name is listed (without attributes). The never-written one is absent
        // where the kernel asks for attributes; a plain listing does not read its inode file.
        const listed = ls.stdout.trim().split("\n").filter((x) => x !== "unwritten").sort();
        assertEquals(listed, ["bad", "x", "y"]);
        const plus = await sh(`ls -1 --color=never -l ${m.mnt}/d 2>/dev/null | tail -n +2 || true`);
        assertEquals(plus.includes("unwritten"), false);
        assertEquals(await sh(`cat ${m.mnt}/d/x ${m.mnt}/d/y`), "one\ntwo");
        const st = await shRun(`stat ${m.mnt}/d/bad`);
        assertEquals(st.code !== 0 && /Input\/output error/.test(st.stderr), true, st.stderr);
        assertEquals((await shRun(`stat ${m.mnt}/d/unwritten`)).code !== 0, true);
        // `rm -r` removes a directory holding only a never-written child; a damaged name
        // keeps its directory (it is data for fsck to judge).
        const rm = await shRun(`rm -rf ${m.mnt}/e`);
        assertEquals(rm.code, 0, rm.stderr);
        assertEquals(await sh(`ls -1 ${m.mnt}`), "d");
        const rmd = await shRun(`rm -rf ${m.mnt}/d`);
        assertEquals(rmd.code !== 0, true);
        const left = (await sh(`ls -1 ${m.mnt}/d`)).split("\n");
        assertEquals(left.filter((x) => x !== "unwritten"), ["bad"]);
      }, { dataDir });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
