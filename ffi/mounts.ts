/**
 * The mount table of this process's mount namespace (`/proc/self/mountinfo`, proc(5)), read
 * without touching the mount points themselves: a dead FUSE mount fails every stat, and a
 * mount's own serving thread must never ask itself. The one parser of it, for the CLI and the
 * FUSE adapter alike.
 *
 * @module
 */

/** One mount as the kernel lists it. */
export interface MountEntry {
  /** Device number "major:minor"; a FUSE mount's bdi (/sys/class/bdi/…) is named after it. */
  dev: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Undoes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` `\`). */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Parses the text of a mountinfo file. Each line: mount ID, parent ID, major:minor, root, mount
 * point, options, optional fields ended by a lone `-`, then fstype, source and super options.
 * Malformed lines are skipped.
 */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0) continue;
    entries.push({
      dev: f[2],
      mountPoint: unescapeMountField(f[4]),
      fsType: f[sep + 1] ?? "",
      source: unescapeMountField(f[sep + 2] ?? ""),
    });
  }
  return entries;
}

/** The current mount table of this process's mount namespace. */
export async function readMounts(): Promise<MountEntry[]> {
  return parseMountInfo(await Deno.readTextFile("/proc/self/mountinfo"));
}

/** The topmost mount at `path` (an absolute, canonical path), if any. */
export async function findMount(path: string): Promise<MountEntry | undefined> {
  // Later lines are mounted over earlier ones at the same point.
  return (await readMounts()).findLast((m) => m.mountPoint === path);
}

/** Whether `entry` is a FUSE mount ("fuse", "fuse.rencfs", "fuseblk" …). */
export function isFuse(entry: MountEntry): boolean {
  return entry.fsType === "fuse" || entry.fsType.startsWith("fuse.") || entry.fsType === "fuseblk";
}
