/** Reading the mount table (/proc/self/mountinfo) without touching the mount points themselves. */

/** One mount as the kernel lists it. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Undoes the octal escapes the kernel uses for space, tab, newline and backslash. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses the text of a mountinfo file (see proc(5)). */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const fields = line.split(" ");
    // Optional fields end with a lone "-", then come fstype and source.
    const sep = fields.indexOf("-", 6);
    if (fields.length < 5 || sep < 0) continue;
    entries.push({
      mountPoint: unescape(fields[4]),
      fsType: fields[sep + 1] ?? "",
      source: unescape(fields[sep + 2] ?? ""),
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
  const mounts = await readMounts();
  // Later lines are mounted over earlier ones at the same point.
  return mounts.findLast((m) => m.mountPoint === path);
}

/** Whether `entry` is a FUSE mount ("fuse", "fuse.rencfs", "fuseblk" …). */
export function isFuse(entry: MountEntry): boolean {
  return entry.fsType === "fuse" || entry.fsType.startsWith("fuse.") || entry.fsType === "fuseblk";
}
