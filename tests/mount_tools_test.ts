/**
 * Real mounts driven by ordinary tools (coreutils, tar, sha256sum, attr, setpriv) in
 * subprocesses: what users do, checked against what a local filesystem would answer.
 * Needs root, /dev/fuse and libfuse3; skipped otherwise.
 */

import { assertEquals, hasCommand, ignore, sh, shRun, withMount } from "./mount_helpers.ts";

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

Deno.test({
  name: "mount: files, dirs, hard and symbolic links, times, modes, owners, fifo",
  ignore,
  async fn() {
    await withMount(async ({ mnt }) => {
      const out = await sh(`
        cd ${q(mnt)}
        export TZ=UTC
        echo hello > a
        mkdir -p d/e/f
        cp a d/b && mv d/b d/e/c
        ln a hard && ln -s a sym
        echo "cat:$(cat a) sym:$(readlink sym) via:$(cat sym) links:$(stat -c %h a) c:$(cat d/e/c)"
        rm hard
        echo "links:$(stat -c %h a)"
        touch -d '2001-02-03 04:05:06.123456789' a
        echo "mtime:$(stat -c %y a)"
        chown 1000:1001 a && chmod 4750 a
        echo "mode:$(stat -c %a a) owner:$(stat -c %u:%g a)"
        truncate -s 100000 a
        echo "size:$(stat -c %s a) head:$(head -c 5 a) zeros:$(tail -c 99994 a | tr -d '\\0' | wc -c)"
        truncate -s 2 a
        echo "short:$(cat a)"
        mkfifo p
        echo "fifo:$(stat -c %F p) dir:$(stat -c %F d) nlink-d:$(stat -c %h d)"
        rm -r d
        echo "ls:$(ls | tr '\\n' ' ')"
      `);
      assertEquals(out.split("\n"), [
        "cat:hello sym:a via:hello links:2 c:hello",
        "links:1",
        "mtime:2001-02-03 04:05:06.123456789 +0000",
        "mode:4750 owner:1000:1001",
        "size:100000 head:hello zeros:0",
        "short:he",
        "fifo:fifo dir:directory nlink-d:3",
        "ls:a p sym",
      ]);
    });
  },
});

Deno.test({
  name: "mount: data survives cp, partial overwrites, tar and cp -a (sha256 and metadata)",
  ignore,
  async fn() {
    await withMount(async ({ mnt, tmp }) => {
      const src = `${tmp}/src`;
      await sh(`
        mkdir -p ${q(src)}/sub/deeper
        head -c 10485761 /dev/urandom > ${q(src)}/big
        head -c 70000 /dev/urandom > ${q(src)}/sub/mid
        : > ${q(src)}/empty
        for i in $(seq 1 50); do echo "small $i" > ${q(src)}/sub/deeper/s$i; done
        ln -s ../big ${q(src)}/sub/link
        chmod 751 ${q(src)}/sub && chmod 600 ${q(src)}/sub/mid
        touch -d '1999-12-31 23:59:59' ${q(src)}/sub/mid
      `);
      // Plain copies and a tar round trip.
      await sh(`
        cp ${q(src)}/big ${q(mnt)}/big
        mkdir ${q(mnt)}/tar && tar -C ${q(src)} -cf - . | tar -C ${q(mnt)}/tar -xpf -
        cp -a ${q(src)} ${q(mnt)}/cpa
      `);
      const sums = async (dir: string) =>
        await sh(`cd ${q(dir)} && find . -type f -print0 | sort -z | xargs -0 sha256sum`);
      const meta = async (dir: string) =>
        await sh(`cd ${q(dir)} && find . -print0 | sort -z | xargs -0 stat -c '%n %F %a %Y'`);
      assertEquals(await sh(`sha256sum < ${q(mnt)}/big`), await sh(`sha256sum < ${q(src)}/big`));
      assertEquals(await sums(`${mnt}/tar`), await sums(src));
      assertEquals(await meta(`${mnt}/tar`), await meta(src));
      assertEquals(await meta(`${mnt}/cpa`), await meta(src));
      // The same partial overwrites, extensions and truncations inside and outside the mount.
      const edits = (f: string) => `
        dd if=/dev/zero of=${q(f)} bs=1 count=3 seek=5 conv=notrunc status=none
        printf 'XYZ' | dd of=${q(f)} bs=1 seek=65535 conv=notrunc status=none
        head -c 300000 /dev/zero | tr '\\0' 'q' | dd of=${
        q(f)
      } bs=4096 seek=2000 conv=notrunc status=none
        truncate -s 9000000 ${q(f)}
        printf 'tail' >> ${q(f)}
      `;
      await sh(`cp ${q(src)}/big ${q(tmp)}/edited && ${edits(`${tmp}/edited`)}`);
      await sh(edits(`${mnt}/big`));
      assertEquals(await sh(`sha256sum < ${q(mnt)}/big`), await sh(`sha256sum < ${q(tmp)}/edited`));
      // dd through the page cache with fsync, then read back after dropping caches is the
      // benchmark path; a smaller version checks it end to end.
      await sh(`dd if=${q(src)}/big of=${q(mnt)}/dd bs=1M conv=fsync status=none`);
      assertEquals(await sh(`sha256sum < ${q(mnt)}/dd`), await sh(`sha256sum < ${q(src)}/big`));
      assertEquals(await sh(`cmp ${q(mnt)}/tar/sub/link ${q(src)}/big && echo same`), "same");
    });
  },
});

Deno.test({
  name: "mount: extended attributes with setfattr/getfattr",
  ignore,
  async fn() {
    if (!(await hasCommand("setfattr"))) {
      console.warn("skipped: setfattr/getfattr missing (apt-get install attr)");
      return;
    }
    await withMount(async ({ mnt }) => {
      const out = await sh(`
        cd ${q(mnt)}
        touch f && mkdir d
        setfattr -n user.one -v first f
        setfattr -n user.two -v 0x00ff10 f
        setfattr -n user.dir -v yes d
        getfattr --absolute-names -d -e hex f | sed 1d
        getfattr --only-values -n user.one f; echo
        setfattr -x user.one f
        getfattr --absolute-names -d f | sed 1d
        getfattr -n user.dir --only-values d; echo
        getfattr -n user.missing f 2>&1 | grep -o 'No such attribute' || true
      `);
      assertEquals(out.split("\n"), [
        "user.one=0x6669727374",
        "user.two=0x00ff10",
        "",
        "first",
        "user.two=0sAP8Q",
        "",
        "yes",
        "No such attribute",
      ]);
    });
  },
});

Deno.test({
  name: "mount: a large directory lists completely, and rm -r empties it while listing",
  ignore,
  async fn() {
    await withMount(async ({ mnt }) => {
      const out = await sh(`
        cd ${q(mnt)}
        mkdir big && cd big
        seq -f 'a-rather-long-file-name-to-fill-the-readdir-buffer-%05g' 2000 | xargs touch
        mkdir sub1 sub2
        echo "ls:$(ls | wc -l) ls-l:$(ls -l | tail -n +2 | wc -l) find:$(find . | wc -l)"
        echo "sorted-unique:$(ls -f | sort -u | wc -l)"
        cd .. && rm -r big
        echo "after:$(ls -A | wc -l)"
      `);
      assertEquals(out.split("\n"), [
        "ls:2002 ls-l:2002 find:2003",
        "sorted-unique:2004",
        "after:0",
      ]);
    });
  },
});

Deno.test({
  name:
    "mount: the kernel enforces permission bits (default_permissions); new files get the caller's ids",
  ignore,
  async fn() {
    if (!(await hasCommand("setpriv"))) {
      console.warn("skipped: setpriv missing (util-linux)");
      return;
    }
    await withMount(async ({ mnt, tmp }) => {
      const as = (uid: number, cmd: string) =>
        `setpriv --reuid=${uid} --regid=${uid} --clear-groups bash -c ${q(cmd)}`;
      await Deno.chmod(tmp, 0o755); // reachable by the other users
      await sh(`
        cd ${q(mnt)}
        echo secret > private && chmod 600 private && chown 2001:2001 private
        mkdir pub && chmod 777 pub
        mkdir closed && chmod 700 closed && chown 2001:2001 closed
      `);
      const owner = await shRun(as(2001, `cat ${mnt}/private`));
      const other = await shRun(as(2002, `cat ${mnt}/private`));
      assertEquals(owner.stdout.trim(), "secret");
      assertEquals(other.code !== 0 && /Permission denied/.test(other.stderr), true);
      const cd = await shRun(as(2002, `ls ${mnt}/closed`));
      assertEquals(cd.code !== 0 && /Permission denied/.test(cd.stderr), true);
      const test = await sh(as(2002, `test -r ${mnt}/private && echo r || echo no-r`));
      assertEquals(test, "no-r");
      await sh(as(2003, `umask 027 && touch ${mnt}/pub/mine && mkdir ${mnt}/pub/dir`));
      const ids = await sh(`stat -c '%u:%g %a' ${q(mnt)}/pub/mine ${q(mnt)}/pub/dir`);
      assertEquals(ids.split("\n"), ["2003:2003 640", "2003:2003 750"]);
      const chown = await shRun(as(2003, `chown 2004 ${mnt}/pub/mine`));
      assertEquals(chown.code !== 0 && /Operation not permitted/.test(chown.stderr), true);
    }, { allowOther: true });
  },
});
