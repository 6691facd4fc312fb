/**
 * Set-user-ID and set-group-ID bits are cleared as a local filesystem clears them: by a write, a
 * truncation (truncate(2) or O_TRUNC) or an fallocate(2) from a user without CAP_FSETID, and by
 * a change of owner; not by root's writes. `security.capability` goes with any write. The mount
 * does the clearing itself (FUSE_HANDLE_KILLPRIV_V2, src/fuse/init_reply.ts), which spares the
 * kernel's `security.capability` lookup before every write(2). Needs root, /dev/fuse, libfuse3,
 * setpriv.
 */

import { assertEquals, hasCommand, ignore, sh, withMount } from "./mount_helpers.ts";

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const USER = 2001;
const CAP = "0x0100000200200000000000000000000000000000"; // cap_net_raw+p, version 2

// Each case starts from a fresh file owned by root, group USER (so USER is in the group), with
// the given mode; the script prints the mode after the change.
const probe = (dir: string, caps: boolean) => `
  cd ${q(dir)}
  user() { setpriv --reuid=${USER} --regid=${USER} --clear-groups sh -c "$1"; }
  fresh() { rm -f f; echo data > f; chown 0:${USER} f; chmod "$1" f; }
  fresh 6777; user 'echo x >> f'; echo "user write: $(stat -c %a f)"
  fresh 6767; user 'echo x >> f'; echo "user write, no group x: $(stat -c %a f)"
  fresh 6777; echo x >> f; echo "root write: $(stat -c %a f)"
  fresh 6777; user 'truncate -s 1 f'; echo "user truncate: $(stat -c %a f)"
  fresh 6777; user ': > f'; echo "user O_TRUNC: $(stat -c %a f)"
  fresh 6777; : > f; echo "root O_TRUNC: $(stat -c %a f)"
  fresh 6777; truncate -s 3 f; echo "root truncate: $(stat -c %a f)"
  fresh 6777; user 'fallocate -l 8192 f'; echo "user fallocate: $(stat -c %a f)"
  fresh 6777; fallocate -l 8192 f; echo "root fallocate: $(stat -c %a f)"
  fresh 6777; chown ${USER} f; echo "chown: $(stat -c %a f)"
  fresh 6767; chown ${USER} f; echo "chown, no group x: $(stat -c %a f)"
  fresh 0777; user 'echo x >> f'; chmod 4777 f; user 'echo y >> f'
  echo "set-ID after a first write: $(stat -c %a f)"
  mkdir d && chmod 2777 d && chown ${USER} d; echo "directory chown: $(stat -c %a d)"
  if ${caps}; then
    fresh 0777; setfattr -n security.capability -v ${CAP} f; user 'echo x >> f'
    getfattr -n security.capability f >/dev/null 2>&1 && echo "caps: kept" || echo "caps: removed"
  fi
`;

Deno.test({
  name: "mount: writes, truncations and chown clear set-ID bits as a local filesystem does",
  ignore,
  async fn() {
    if (!(await hasCommand("setpriv"))) {
      console.warn("skipped: setpriv missing (util-linux)");
      return;
    }
    const caps = await hasCommand("setfattr") && await hasCommand("getfattr");
    await withMount(async ({ mnt, tmp }) => {
      await Deno.chmod(tmp, 0o755); // reachable by USER
      const local = `${tmp}/local`;
      await Deno.mkdir(local);
      await Deno.chmod(local, 0o777);
      await Deno.chmod(mnt, 0o777);
      const want = await sh(probe(local, caps));
      const got = await sh(probe(mnt, caps));
      assertEquals(got.split("\n"), want.split("\n"));
      // The modes themselves, so that a local filesystem with other rules is noticed.
      assertEquals(want.split("\n").slice(0, 4), [
        "user write: 777",
        "user write, no group x: 2767",
        "root write: 6777",
        "user truncate: 777",
      ]);
    }, { allowOther: true });
  },
});

Deno.test({
  name: "mount: repeated writes to a file do not each ask for security.capability",
  ignore,
  async fn() {
    await withMount(async ({ mnt, fs }) => {
      let asked = 0;
      const getxattr = fs.getxattr.bind(fs);
      fs.getxattr = (ino, name) => {
        if (name === "security.capability") asked++;
        return getxattr(ino, name);
      };
      await sh(`cd ${q(mnt)} && for i in $(seq 100); do echo line $i >> f; done && sync`);
      // Once for the new inode, before the kernel remembers it has none.
      assertEquals(asked <= 2, true, `asked ${asked} times for 100 writes`);
    });
  },
});
