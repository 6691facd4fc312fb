/**
 * `mount --idle DURATION`: unmount once the mount has had no request for that long and no
 * process has a file open or its working directory in it. The unmount is the clean one, and a
 * mount that turns out busy is left mounted (never detached lazily for this).
 */
import type { Mount } from "../fuse/mount.ts";
import { describeUsers } from "../fuse/mount_users.ts";
import { formatDuration } from "./duration.ts";
import { log } from "./log.ts";

const logger = log("mount");

/** Starts watching `m`; returns the function that stops it. */
export function watchIdle(m: Mount, idleMs: number): () => void {
  let seen = m.activity().started;
  let lastActive = Date.now();
  let busy = false;
  const check = async () => {
    const now = m.activity();
    if (now.started !== seen || now.inFlight > 0) {
      seen = now.started;
      lastActive = Date.now();
      return;
    }
    if (Date.now() - lastActive < idleMs) return;
    const users = await m.users();
    const after = m.activity();
    // Counting users stats their files, which this mount answers: not activity of theirs.
    seen = after.started;
    // With no user found, the count stat-ed nothing in this mount: a request meanwhile is real
    // activity (absorbing it unmounted right after a file was used).
    if (
      users.openFiles === 0 && users.processes === 0 && (now.started !== seen || after.inFlight > 0)
    ) {
      lastActive = Date.now();
      return;
    }
    if (users.openFiles > 0 || users.processes > 0) {
      logger.debug("idle for {d} but still in use ({users}): staying mounted", {
        d: formatDuration(idleMs),
        users: describeUsers(users),
      });
      lastActive = Date.now();
      return;
    }
    logger.info("no activity for {d}: unmounting {mountPoint} (--idle)", {
      d: formatDuration(idleMs),
      mountPoint: m.mountPoint,
    });
    await m.unmount({ busy: "refuse" }).catch((e) => {
      logger.info("idle unmount refused ({e}): staying mounted", { e });
      lastActive = Date.now();
    });
  };
  // Checked often enough for the unmount to follow within a tenth of the idle time.
  const period = Math.min(Math.max(idleMs / 10, 200), 10_000);
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    check().finally(() => busy = false);
  }, period);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
