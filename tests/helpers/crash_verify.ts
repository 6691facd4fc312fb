/**
 * Checks the tree found after a crash against the workload's journal (tests/helpers/
 * crash_workload.ts): the durability contract of issue #10.
 *
 * - fsync(file) makes the file's content, size and path durable: its ancestors exist, and the
 *   names it or they had before renames are gone.
 * - fsync(directory) makes that directory's entries durable (each name it ever held is there or
 *   gone as at the fsync; a file's content too when the file was fsynced since its last change),
 *   and its own path as for a file.
 * - A later claim about a path supersedes an earlier one. After its last claim a path may be in
 *   the claimed state or any state a later operation gave it.
 * - A file changed after its last claim may hold any content, after a power cut (unsynced writes
 *   may be torn) and after a kill of the daemon alone (its records of the last few seconds, sizes
 *   among them, are lost while the chunks it wrote stay: docs/format.md, "Crash consistency").
 * - Nothing reads an error, and no entry appears that the workload never made.
 */
import type { ClaimState, JournalLine, PathState, WalkState } from "./crash_journal.ts";

/** How the round ended: power cut of the ext4 image, or kill -9 of the daemon alone. */
export type CrashMode = "power" | "kill";

/** One broken invariant. */
export interface Violation {
  /** `error`: reading failed; `lost`: a durable claim does not hold; `torn`: content matches no
   * state the file had; `phantom`: an entry the workload never made; `changed`: an earlier round's
   * recovered tree changed. */
  kind: "error" | "lost" | "torn" | "phantom" | "changed";
  path: string;
  detail: string;
}

function show(s: ClaimState | WalkState | undefined): string {
  if (s === undefined || s === "a") return "absent";
  if (s === "d") return "directory";
  if (s === "f") return "a file (any content)";
  if ("err" in s) return `error (${s.err})`;
  if ("other" in s) return `other (${s.other})`;
  return `file len ${s.len} sha ${s.sha.slice(0, 12)}`;
}

function sameFile(a: PathState | ClaimState, b: WalkState): boolean {
  return typeof a === "object" && typeof b === "object" && "len" in b &&
    a.len === b.len && a.sha === b.sha;
}

interface Claim {
  at: number;
  state: ClaimState;
  /** The state the path had when claimed (for "f": the content it had then). */
  exact: PathState | undefined;
  desc: string;
}

/** Parses a journal; tolerates a torn last line (the writer may die mid-line). */
export function parseJournal(text: string): JournalLine[] {
  const out: JournalLine[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    try {
      out.push(JSON.parse(line) as JournalLine);
    } catch {
      // only the last line can be torn
    }
  }
  return out;
}

/**
 * Violations of the contract by the tree `found` (relative to the mount root, from `walk`) for
 * the round whose journal is `journal` and whose directory is `prefix`. Paths outside `prefix`
 * are not looked at here.
 */
export function verifyRound(
  journal: JournalLine[],
  found: Record<string, WalkState>,
  prefix: string,
  mode: CrashMode,
): Violation[] {
  const history = new Map<string, { at: number; state: PathState }[]>();
  const claims = new Map<string, Claim>();
  const current = new Map<string, PathState>();
  // Per file number: the ids ever at a path, and each file's states since its content was
  // last claimed (intermediate ones too).
  const idsAt = new Map<string, Set<number>>();
  const fileStates = new Map<number, PathState[]>();
  const note = (p: string, state: PathState) => {
    if (typeof state !== "object" || state.id === undefined) return;
    if (!idsAt.has(p)) idsAt.set(p, new Set());
    idsAt.get(p)!.add(state.id);
    if (!fileStates.has(state.id)) fileStates.set(state.id, []);
    fileStates.get(state.id)!.push(state);
  };
  let lastOp = -1;
  journal.forEach((line, at) => {
    if (line.t === "op") {
      lastOp = at;
      for (const [p, state] of Object.entries(line.i ?? {})) note(p, state);
      for (const [p, state] of Object.entries(line.e)) {
        if (!history.has(p)) history.set(p, []);
        history.get(p)!.push({ at, state });
        current.set(p, state);
        note(p, state);
      }
    } else if (line.t === "sync") {
      for (const [p, state] of Object.entries(line.c)) {
        claims.set(p, { at, state, exact: current.get(p), desc: `#${line.n} ${line.d}` });
        if (typeof state === "object" && state.id !== undefined) fileStates.set(state.id, [state]);
      }
    }
  });
  /** Whether `actual` is a state one of the files ever at `p` had since its last claim. */
  const someFileState = (p: string, actual: WalkState) =>
    [...(idsAt.get(p) ?? [])].some((id) =>
      (fileStates.get(id) ?? []).some((st) => sameFile(st, actual))
    );
  // The operation logged last may have been under way: done, undone, or half done.
  const inFlight = journal.slice(lastOp + 1).some((l) => l.t === "sync" || l.t === "end")
    ? -1
    : lastOp;

  const out: Violation[] = [];
  const under = (p: string) => p === prefix || p.startsWith(`${prefix}/`);
  const paths = new Set<string>([...history.keys(), ...claims.keys()].filter(under));
  for (const p of Object.keys(found)) {
    if (!under(p)) continue;
    const s = found[p];
    if (typeof s === "object" && "err" in s) {
      out.push({ kind: "error", path: p, detail: s.err });
    } else if (!history.has(p)) {
      out.push({ kind: "phantom", path: p, detail: `${show(s)}, never made by the workload` });
    } else {
      paths.add(p);
    }
  }
  for (const p of paths) {
    const actual = found[p] ?? "a";
    if (typeof actual === "object" && ("err" in actual)) continue;
    if (!found[p] && parentUnreadable(p, found)) continue;
    const claim = claims.get(p);
    const later = (history.get(p) ?? []).filter((h) => h.at > (claim?.at ?? -1));
    const touchedInFlight = later.some((h) => h.at === inFlight);
    const candidates: (ClaimState | PathState)[] = [
      claim ? claim.state : "a",
      ...later.map((h) => h.state),
    ];
    const why = claim ? ` (claimed by ${claim.desc}: ${show(claim.state)})` : "";
    if (actual === "a" || actual === "d") {
      if (!candidates.includes(actual)) {
        out.push({ kind: "lost", path: p, detail: `is ${show(actual)}${why}` });
      }
      continue;
    }
    if ("other" in actual) {
      out.push({ kind: "phantom", path: p, detail: `is ${show(actual)}` });
      continue;
    }
    if (candidates.some((c) => sameFile(c, actual))) continue;
    const anyFile = (c: ClaimState | PathState) => c === "f" || typeof c === "object";
    if (!candidates.some(anyFile)) {
      out.push({ kind: "lost", path: p, detail: `is ${show(actual)}${why}` });
    } else if (claim?.state === "f" || later.some((h) => anyFile(h.state))) {
      continue; // changed after its last fsync: any content
    } else if (mode === "kill" && (touchedInFlight || someFileState(p, actual))) {
      continue;
    } else if (claim && later.length === 0) {
      out.push({ kind: "lost", path: p, detail: `is ${show(actual)}${why}` });
    } else {
      const states = candidates.map(show).join("; ");
      const sameLength = [...(idsAt.get(p) ?? [])].some((id) =>
        (fileStates.get(id) ?? []).some((st) => typeof st === "object" && st.len === actual.len)
      );
      out.push({
        kind: "torn",
        path: p,
        detail: `is ${show(actual)}, none of the states it had: ${states}` +
          (sameLength ? " (the length of one of them, other bytes)" : ""),
      });
    }
  }
  return collapseLost(out.sort((a, b) => a.path.localeCompare(b.path)));
}

/** One line for a lost directory rather than one per entry below it. */
function collapseLost(sorted: Violation[]): Violation[] {
  const out: Violation[] = [];
  let gone: Violation | undefined;
  let below = 0;
  const flush = () => {
    if (gone && below > 0) gone.detail += `; and ${below} claimed entries below it`;
    below = 0;
  };
  for (const v of sorted) {
    if (gone && v.kind === "lost" && v.path.startsWith(`${gone.path}/`)) {
      below++;
      continue;
    }
    flush();
    gone = v.kind === "lost" && v.detail.startsWith("is absent") ? v : undefined;
    out.push(v);
  }
  flush();
  return out;
}

function parentUnreadable(p: string, found: Record<string, WalkState>): boolean {
  for (let q = p; q.includes("/");) {
    q = q.slice(0, q.lastIndexOf("/"));
    const s = found[q];
    if (typeof s === "object" && "err" in s) return true;
  }
  return false;
}

/** Differences between an earlier round's tree as recovered then and as found now. */
export function verifyUnchanged(
  before: Record<string, WalkState>,
  found: Record<string, WalkState>,
  prefix: string,
): Violation[] {
  const out: Violation[] = [];
  const under = (p: string) => p === prefix || p.startsWith(`${prefix}/`);
  const keys = new Set([...Object.keys(before), ...Object.keys(found)].filter(under));
  for (const p of [...keys].sort()) {
    const a = before[p];
    const b = found[p];
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      out.push({ kind: "changed", path: p, detail: `was ${show(a)}, now ${show(b)}` });
    }
  }
  return out;
}
