/**
 * The checker: walks the tree from the root through the store's own readers (`DirStore`,
 * `RecordStore`, `ContentFile`), so every object is judged exactly as the mount would judge
 * it, then compares what it reached with what is on disk (orphans) and every count with what
 * it counted. Each problem carries the repairs that fix it; nothing is changed until
 * {@link Checker.applyRepairs} runs them.
 */
import type { InodeRecord } from "../store/inode_record.ts";
import type { KeyFileHeader } from "../store/keyfile.ts";
import type { StoreKeys } from "../store/keys.ts";
import { type CheckOptions, CheckState, type Info } from "./check_state.ts";
import { childCounts, compareCounts } from "./counts.ts";
import { OrphanSearch } from "./orphans.ts";
import type { CheckStats, Problem } from "./problems.ts";
import { PHASES } from "./repair.ts";
import { scanDataDir } from "./scan.ts";
import { TreeWalk } from "./walk.ts";

export type { CheckOptions } from "./check_state.ts";

/** One pass over a data dir: what is wrong, and (planned) what would fix it. */
export class Checker {
  readonly problems: Problem[];
  /** Repairs that fix no problem of their own (e.g. "created /lost+found"). */
  readonly notes: string[];
  readonly stats: CheckStats;
  readonly #s: CheckState;
  readonly #walk: TreeWalk;
  readonly #orphans: OrphanSearch;

  constructor(root: string, keys: StoreKeys, header: KeyFileHeader, opts: CheckOptions) {
    this.#s = new CheckState(root, keys, header, opts);
    this.problems = this.#s.problems;
    this.notes = this.#s.notes;
    this.stats = this.#s.stats;
    this.#walk = new TreeWalk(this.#s);
    this.#orphans = new OrphanSearch(this.#s, this.#walk);
  }

  /** Runs every check; nothing on disk changes. */
  async run(): Promise<this> {
    const s = this.#s;
    s.inv = scanDataDir(s.root);
    this.stats.quarantined = s.inv.quarantined;
    for (const d of s.inv.debris) {
      s.tick();
      s.problem("debris", d.path, d.why, "removed", ["remove", () => s.rm(d.path)]);
    }
    for (const st of s.inv.strays) {
      s.problem("stray", st.path, st.why, "moved to q/", ["remove", () => s.q(st.path)]);
    }
    await this.#walk.walkRoot();
    await this.#walk.drain();
    await this.#orphans.run();
    this.#counts();
    // Whatever the walk did not open (e.g. the folders of objects that are removed) was
    // still listed and looked at by the scan.
    this.stats.objects = Math.max(this.stats.objects, s.inv.total);
    s.opts.onProgress?.(this.stats.objects, this.stats.objects);
    return this;
  }

  /** Runs the planned repairs, phase by phase; marks each problem repaired or failed. */
  async applyRepairs(): Promise<void> {
    for (const phase of PHASES) {
      for (const a of this.#s.actions) {
        if (a.phase !== phase) continue;
        if (a.problems.some((p) => p.repairError !== undefined)) continue; // an earlier step failed
        try {
          await a.run();
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          for (const p of a.problems) p.repairError = why;
        }
      }
    }
    for (const p of this.problems) {
      p.repaired = p.fix !== undefined && p.repairError === undefined;
    }
  }

  // ---------------------------------------------------------------- counts

  /** Link counts, subdirectory and entry counts and parents, against the names counted. */
  #counts(): void {
    const kids = childCounts(this.#s.inodes.values());
    const pathOf = (ino: bigint) => this.#s.inodes.get(ino)?.path ?? `inode ${ino}`;
    for (const info of this.#s.inodes.values()) {
      const { want, found, fix } = compareCounts(info, kids, pathOf);
      if (info.fresh) {
        // A rebuilt or new directory: written once, with the counts just found.
        const problems = [this.#s.freshProblems.get(info.ino)].filter((p) => p !== undefined);
        this.#s.act("records", () => this.#create(info, want), problems);
        continue;
      }
      if (found.length === 0 || !info.loaded) continue;
      const problems = found.map((f) => this.#s.problem(f.kind, info.path, f.detail, fix));
      this.#s.act("records", () => this.#write(info, want), problems);
    }
  }

  /** Writes a corrected record into the free slot, as the store does for every update. */
  async #write(info: Info, want: InodeRecord): Promise<void> {
    const loaded = info.loaded!;
    want.seq = loaded.rec.seq + 1n;
    const other = loaded.slot === 0 ? 1 : 0;
    await this.#s.records.update(want, other, loaded.slotSize, info.place, {
      durable: true,
      name: loaded.name,
    });
  }

  async #create(info: Info, want: InodeRecord): Promise<void> {
    await this.#s.records.create(want, info.place, { durable: true });
  }
}
