/**
 * Child process of the crash tests (tests/helpers/power_cut.ts), run with `deno run -A`:
 *
 * - `run ROOT REL JOURNAL SEED`: a workload, deterministic from SEED, in the new directory
 *   ROOT/REL (ROOT is the rencfs mount point). Before each operation it appends to JOURNAL the
 *   state every path it touches will have afterwards (`op` line); after each fsync that returned,
 *   what that fsync made durable (`sync` line). It runs until killed, or until an operation fails
 *   (`err` line), or after its operation budget (`end` line).
 * - `walk ROOT`: lists every directory, stats every entry and reads every regular file under
 *   ROOT; prints one JSON object, relative path -> state or error.
 *
 * Names are never reused: a path that becomes absent stays absent, so a claim that a path is
 * absent can never be undone by a later operation. The journal lives outside the crashed file
 * system and is written with one write(2) per line, which a kill or an ext4 shutdown of the
 * image cannot undo.
 */
import { type ClaimState, type JournalLine, type PathState, sha, walk } from "./crash_journal.ts";
import {
  ancestors,
  isAncestorOrSelf,
  newNode,
  type Node,
  pathOf,
  stateOf,
  subtree,
} from "./crash_tree.ts";
import { prng } from "./prng.ts";

/** The workload: a model of the tree it made, and the journal it keeps. */
class Workload {
  readonly #root: string;
  readonly #journal: Deno.FsFile;
  readonly #rand: () => number;
  readonly #mountRoot = newNode("d", "", null);
  #n = 0;
  #fresh = 0;
  #bytes = 0;

  constructor(root: string, journal: Deno.FsFile, seed: number) {
    this.#root = root;
    this.#journal = journal;
    this.#rand = prng(seed);
  }

  #log(line: JournalLine): void {
    const bytes = new TextEncoder().encode(JSON.stringify(line) + "\n");
    let off = 0;
    while (off < bytes.length) off += this.#journal.writeSync(bytes.subarray(off));
  }

  #abs(n: Node | string): string {
    return `${this.#root}/${typeof n === "string" ? n : pathOf(n)}`;
  }

  #int(lo: number, hi: number): number {
    return lo + Math.floor(this.#rand() * (hi - lo + 1));
  }

  #chance(p: number): boolean {
    return this.#rand() < p;
  }

  #pick<T>(items: T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.#rand() * items.length)];
  }

  #bytesOf(len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i += 4) {
      const v = (this.#rand() * 4294967296) >>> 0;
      out[i] = v;
      if (i + 1 < len) out[i + 1] = v >>> 8;
      if (i + 2 < len) out[i + 2] = v >>> 16;
      if (i + 3 < len) out[i + 3] = v >>> 24;
    }
    return out;
  }

  /** A size: empty, small, around a chunk, or several chunks (64 KiB chunks by default). */
  #size(): number {
    const r = this.#rand();
    if (r < 0.1) return 0;
    if (r < 0.6) return this.#int(1, 8192);
    if (r < 0.9) return this.#int(8193, 70_000);
    return this.#int(70_001, 200_000);
  }

  #name(prefix: string): string {
    return `${prefix}${this.#fresh++}`;
  }

  #nodes(kind: "f" | "d"): Node[] {
    return subtree(this.#mountRoot).filter((n) => n.kind === kind && n.parent !== null);
  }

  #op(desc: string, effects: Record<string, PathState>, on?: Record<string, PathState>): void {
    this.#log({ t: "op", n: this.#n++, d: desc, e: effects, ...(on ? { i: on } : {}) });
  }

  /** The empty file that creating `n` at `path` goes through before its content is written. */
  #empty(n: Node, path: string): Record<string, PathState> {
    return { [path]: { len: 0, sha: sha(new Uint8Array(0)), id: n.id } };
  }

  #sync(desc: string, claims: Record<string, ClaimState>): void {
    this.#log({ t: "sync", n: this.#n++, d: desc, c: claims });
  }

  /** What an fsync of `n` (file or directory) makes durable about `n`'s own path. */
  #pathClaims(n: Node): Record<string, ClaimState> {
    const claims: Record<string, ClaimState> = {};
    for (const x of [n, ...ancestors(n)]) for (const p of x.former) claims[p] = "a";
    for (const a of ancestors(n)) claims[pathOf(a)] = "d";
    if (n.parent) claims[pathOf(n)] = stateOf(n);
    return claims;
  }

  #fsyncFile(n: Node, why: string): void {
    const f = Deno.openSync(this.#abs(n), { read: true, write: true });
    try {
      f.syncSync();
    } finally {
      f.close();
    }
    n.dirty = false;
    this.#sync(`fsync ${pathOf(n)} (${why})`, this.#pathClaims(n));
  }

  #fsyncDir(d: Node, why: string): void {
    const f = Deno.openSync(this.#abs(d), { read: true });
    try {
      f.syncSync();
    } finally {
      f.close();
    }
    const claims = this.#pathClaims(d);
    const base = pathOf(d);
    for (const name of d.everNames) {
      const c = d.children.get(name);
      const p = base === "" ? name : `${base}/${name}`;
      claims[p] = c === undefined ? "a" : c.kind === "d" ? "d" : c.dirty ? "f" : stateOf(c);
    }
    this.#sync(`fsync dir ${base} (${why})`, claims);
  }

  #writeAt(n: Node, offset: number, data: Uint8Array): void {
    const f = Deno.openSync(this.#abs(n), { write: true });
    try {
      f.seekSync(offset, Deno.SeekMode.Start);
      let off = 0;
      while (off < data.length) off += f.writeSync(data.subarray(off));
    } finally {
      f.close();
    }
  }

  #setContent(n: Node, content: Uint8Array): void {
    this.#bytes += content.length - n.content.length;
    n.content = content;
    n.dirty = true;
  }

  #attach(parent: Node, child: Node): void {
    parent.children.set(child.name, child);
    parent.everNames.add(child.name);
    child.parent = parent;
  }

  /** mkdir of the round's directory, made durable before anything else. */
  start(rel: string): void {
    const d = newNode("d", rel, null);
    this.#op(`mkdir ${rel}`, { [rel]: "d" });
    Deno.mkdirSync(this.#abs(rel));
    this.#attach(this.#mountRoot, d);
    this.#fsyncDir(this.#mountRoot, "round start");
  }

  create(): void {
    const dir = this.#pick(this.#nodes("d"))!;
    const n = newNode("f", this.#name("f"), null);
    const content = this.#bytesOf(this.#bytes > 12 << 20 ? 0 : this.#size());
    const path = pathOf(dir) === "" ? n.name : `${pathOf(dir)}/${n.name}`;
    this.#op(`create ${path} len ${content.length}`, {
      [path]: { len: content.length, sha: sha(content), id: n.id },
    }, this.#empty(n, path));
    const f = Deno.openSync(`${this.#root}/${path}`, { write: true, createNew: true });
    try {
      let off = 0;
      while (off < content.length) off += f.writeSync(content.subarray(off));
    } finally {
      f.close();
    }
    this.#attach(dir, n);
    this.#setContent(n, content);
    if (this.#chance(0.7)) this.#fsyncFile(n, "after create");
  }

  mkdir(): void {
    const dir = this.#pick(this.#nodes("d"))!;
    const n = newNode("d", this.#name("d"), null);
    const path = `${pathOf(dir)}/${n.name}`;
    this.#op(`mkdir ${path}`, { [path]: "d" });
    Deno.mkdirSync(this.#abs(path));
    this.#attach(dir, n);
    if (this.#chance(0.7)) this.#fsyncDir(dir, "after mkdir");
  }

  /** Appends, overwrites in the middle (maybe past the end), or truncates a file. */
  change(kind: "append" | "overwrite" | "truncate"): void {
    const n = this.#pick(this.#nodes("f"));
    if (!n) return this.create();
    const old = n.content;
    let next: Uint8Array;
    let desc: string;
    if (kind === "truncate") {
      const len = this.#chance(0.5) ? this.#int(0, old.length) : old.length + this.#int(1, 100_000);
      next = new Uint8Array(len);
      next.set(old.subarray(0, Math.min(len, old.length)));
      desc = `truncate ${pathOf(n)} ${old.length} -> ${len}`;
    } else {
      const offset = kind === "append" ? old.length : this.#int(0, old.length);
      const data = this.#bytesOf(this.#bytes > 12 << 20 ? 1 : this.#int(1, 100_000));
      next = new Uint8Array(Math.max(old.length, offset + data.length));
      next.set(old);
      next.set(data, offset);
      desc = `${kind} ${pathOf(n)} at ${offset} len ${data.length}`;
      this.#op(desc, { [pathOf(n)]: { len: next.length, sha: sha(next), id: n.id } });
      this.#writeAt(n, offset, data);
      this.#setContent(n, next);
      if (this.#chance(0.6)) this.#fsyncFile(n, `after ${kind}`);
      return;
    }
    this.#op(desc, { [pathOf(n)]: { len: next.length, sha: sha(next), id: n.id } });
    Deno.truncateSync(this.#abs(n), next.length);
    this.#setContent(n, next);
    if (this.#chance(0.6)) this.#fsyncFile(n, "after truncate");
  }

  /** Moves `n` to `dest/name` (replacing a file there), keeping the model and journal right. */
  #move(n: Node, dest: Node, name: string, desc: string): void {
    const effects: Record<string, PathState> = {};
    const moved = subtree(n);
    const before = moved.map((x) => pathOf(x));
    for (const p of before) effects[p] = "a";
    const target = dest.children.get(name);
    const destPath = pathOf(dest);
    const newPath = destPath === "" ? name : `${destPath}/${name}`;
    const oldParent = n.parent!;
    // Compute the new paths from the subtree's relative layout.
    const oldBase = pathOf(n);
    for (const x of moved) {
      const p = newPath + pathOf(x).slice(oldBase.length);
      effects[p] = stateOf(x);
    }
    this.#op(`${desc} ${oldBase} -> ${newPath}`, effects);
    Deno.renameSync(this.#abs(oldBase), this.#abs(newPath));
    if (target) {
      this.#bytes -= target.content.length;
      target.parent = null;
    }
    oldParent.children.delete(n.name);
    moved.forEach((x, i) => x.former.push(before[i]));
    n.name = name;
    this.#attach(dest, n);
    if (this.#chance(0.7)) {
      this.#fsyncDir(dest, `after ${desc}`);
      if (oldParent !== dest) this.#fsyncDir(oldParent, `after ${desc}, source`);
    }
  }

  renameFile(): void {
    const n = this.#pick(this.#nodes("f"));
    if (!n) return this.create();
    const dest = this.#chance(0.5) ? n.parent! : this.#pick(this.#nodes("d"))!;
    this.#move(n, dest, this.#name("f"), "rename");
  }

  /** The atomic-replace pattern: write a new file, fsync it, rename it over an existing one. */
  replace(): void {
    const target = this.#pick(this.#nodes("f"));
    if (!target) return this.create();
    const dir = target.parent!;
    const n = newNode("f", this.#name("tmp"), null);
    const content = this.#bytesOf(this.#bytes > 12 << 20 ? 10 : this.#size());
    const path = `${pathOf(dir)}/${n.name}`;
    this.#op(`create ${path} len ${content.length} (to replace ${target.name})`, {
      [path]: { len: content.length, sha: sha(content), id: n.id },
    }, this.#empty(n, path));
    Deno.writeFileSync(this.#abs(path), content, { createNew: true });
    this.#attach(dir, n);
    this.#setContent(n, content);
    this.#fsyncFile(n, "before replace");
    this.#move(n, dir, target.name, "rename over");
  }

  renameDir(): void {
    const dirs = this.#nodes("d").filter((d) => d.parent !== this.#mountRoot);
    const n = this.#pick(dirs);
    if (!n) return this.mkdir();
    const dests = this.#nodes("d").filter((d) => !isAncestorOrSelf(n, d));
    const dest = this.#chance(0.5) ? n.parent! : this.#pick(dests)!;
    this.#move(n, dest, this.#name("d"), "rename dir");
  }

  unlink(): void {
    const n = this.#pick(this.#nodes("f"));
    if (!n) return this.create();
    const dir = n.parent!;
    this.#op(`unlink ${pathOf(n)}`, { [pathOf(n)]: "a" });
    Deno.removeSync(this.#abs(n));
    dir.children.delete(n.name);
    this.#bytes -= n.content.length;
    if (this.#chance(0.6)) this.#fsyncDir(dir, "after unlink");
  }

  rmdir(): void {
    const empty = this.#nodes("d").filter((d) => d.children.size === 0 && d.parent!.parent);
    const n = this.#pick(empty);
    if (!n) return this.mkdir();
    const dir = n.parent!;
    this.#op(`rmdir ${pathOf(n)}`, { [pathOf(n)]: "a" });
    Deno.removeSync(this.#abs(n));
    dir.children.delete(n.name);
    if (this.#chance(0.6)) this.#fsyncDir(dir, "after rmdir");
  }

  fsyncSome(kind: "f" | "d"): void {
    const n = this.#pick(this.#nodes(kind));
    if (!n) return;
    if (kind === "f") this.#fsyncFile(n, "alone");
    else this.#fsyncDir(n, "alone");
  }

  step(): void {
    const ops: [number, () => void][] = [
      [25, () => this.create()],
      [8, () => this.mkdir()],
      [12, () => this.change("append")],
      [10, () => this.change("overwrite")],
      [6, () => this.change("truncate")],
      [8, () => this.renameFile()],
      [6, () => this.replace()],
      [3, () => this.renameDir()],
      [8, () => this.unlink()],
      [2, () => this.rmdir()],
      [4, () => this.fsyncSome("d")],
      [4, () => this.fsyncSome("f")],
    ];
    const total = ops.reduce((s, [w]) => s + w, 0);
    let r = this.#rand() * total;
    for (const [w, fn] of ops) {
      if ((r -= w) < 0) return fn();
    }
  }

  fail(e: unknown): void {
    this.#log({ t: "err", d: String(e) });
  }

  end(): void {
    this.#log({ t: "end" });
  }
}

if (import.meta.main) {
  const [cmd, ...args] = Deno.args;
  if (cmd === "walk") {
    console.log(JSON.stringify(walk(args[0])));
  } else if (cmd === "run") {
    const [root, rel, journalPath, seed, maxOps] = args;
    const journal = Deno.openSync(journalPath, { append: true, create: true });
    const w = new Workload(root, journal, Number(seed));
    try {
      w.start(rel);
      for (let i = 0; i < Number(maxOps ?? 100_000); i++) w.step();
      w.end();
    } catch (e) {
      w.fail(e);
    }
  } else {
    console.error("usage: crash_workload.ts run ROOT REL JOURNAL SEED [MAXOPS] | walk ROOT");
    Deno.exit(2);
  }
}
