/**
 * The on-disk format has one home, `src/store/format/`, and it is pure: no `Deno.` call and no
 * I/O module anywhere in what it imports (transitively), nothing from `fs/`, `fuse/`, `cli/`,
 * `fsck/`, `ffi/` or the store's I/O files. And docs/format.md points each section at its code
 * (a `Code:` line): every module named there exists, and every module is named by some section.
 */
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { assertEquals } from "./helpers/assert.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FORMAT = "src/store/format";

/** Packages a pure module may import: computation only. */
const PURE_PACKAGES = ["node:crypto", "node:buffer", "@noble/", "hash-wasm"];

/** Folders outside `format/` whose modules may be reached, if pure themselves. */
const PURE_FOLDERS = ["src/util/", "src/crypto/"];
/** Single files outside those folders that may be reached (the POSIX numbers on disk). */
const PURE_FILES = new Set(["src/store/posix.ts"]);

/** The source without comments, so a comment naming `Deno.` is no violation. */
function code(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** Every module specifier of a source: imports, re-exports, dynamic imports and worker URLs. */
function specifiers(source: string): { spec: string; dynamic: boolean }[] {
  const out: { spec: string; dynamic: boolean }[] = [];
  const statics = [
    /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]*)"/g,
    /(?:^|\n)\s*import\s*"([^"]*)"/g,
  ];
  for (const re of statics) {
    for (const m of source.matchAll(re)) out.push({ spec: m[1], dynamic: false });
  }
  const dynamics = [/\bimport\s*\(/g, /\bnew\s+URL\s*\([^)]*import\.meta\.url/g, /\brequire\s*\(/g];
  for (const re of dynamics) {
    for (const m of source.matchAll(re)) out.push({ spec: m[0], dynamic: true });
  }
  return out;
}

/**
 * Why module `file` (relative to the root), with text `source`, breaks the purity of the format,
 * and which relative modules it imports (to be checked in turn).
 */
function problemsOf(file: string, source: string): { problems: string[]; next: string[] } {
  const problems: string[] = [];
  const next: string[] = [];
  const body = code(source);
  if (/\bDeno\s*\.|\bDeno\s*\[/.test(body)) problems.push(`${file} calls Deno`);
  for (const { spec, dynamic } of specifiers(body)) {
    if (dynamic) {
      problems.push(`${file} loads code at run time (${spec})`);
      continue;
    }
    if (!spec.startsWith(".")) {
      if (!PURE_PACKAGES.some((p) => spec === p || (p.endsWith("/") && spec.startsWith(p)))) {
        problems.push(`${file} imports ${spec}, not a pure package`);
      }
      continue;
    }
    const target = relative(ROOT, normalize(join(ROOT, dirname(file), spec)));
    const inFormat = target.startsWith(`${FORMAT}/`);
    if (!inFormat && !PURE_FILES.has(target) && !PURE_FOLDERS.some((f) => target.startsWith(f))) {
      problems.push(`${file} imports ${target}, outside the pure modules`);
      continue;
    }
    next.push(target);
  }
  return { problems, next };
}

/** The problems of every module reachable from `start`, read from disk. */
function closureProblems(start: string[]): { problems: string[]; seen: Set<string> } {
  const seen = new Set<string>();
  const problems: string[] = [];
  const todo = [...start];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const r = problemsOf(file, Deno.readTextFileSync(join(ROOT, file)));
    problems.push(...r.problems);
    todo.push(...r.next);
  }
  return { problems, seen };
}

function formatModules(): string[] {
  return [...Deno.readDirSync(join(ROOT, FORMAT))]
    .filter((e) => e.isFile && e.name.endsWith(".ts"))
    .map((e) => `${FORMAT}/${e.name}`)
    .sort();
}

Deno.test("the purity check flags Deno calls, I/O imports and imports from the I/O layers", () => {
  const f = `${FORMAT}/x.ts`;
  const flagged = (src: string) => problemsOf(f, src).problems.length > 0;
  assertEquals(flagged('const b = Deno.readFileSync("k");'), true);
  assertEquals(flagged('import { open } from "node:fs/promises";'), true);
  assertEquals(flagged('import { lstatSync } from "node:fs";'), true);
  assertEquals(flagged('import { readHead } from "../object_io.ts";'), true);
  assertEquals(flagged('import { sysOpen } from "../../../ffi/sysio.ts";'), true);
  assertEquals(flagged('import type { Inode } from "../../fs/inode.ts";'), true);
  assertEquals(flagged('export { x } from "../../fuse/mount.ts";'), true);
  assertEquals(flagged('const m = await import("./paths.ts");'), true);
  // What a pure module does use passes, and so does a comment naming Deno.
  assertEquals(flagged('import { concat } from "../../util/codec.ts";'), false);
  assertEquals(flagged('import { MAX_HOLES } from "./record.ts";'), false);
  assertEquals(flagged('import { createHash } from "node:crypto";'), false);
  assertEquals(
    flagged("/** Unlike `Deno.open`, nothing here. */\n// Deno.exit\nconst a = 1;"),
    false,
  );
});

Deno.test("src/store/format and everything it imports does no I/O", () => {
  const modules = formatModules();
  // The format's sections (a broken listing would pass vacuously).
  assertEquals(modules.length >= 10, true, `only ${modules.length} modules in ${FORMAT}`);
  const { problems, seen } = closureProblems(modules);
  assertEquals(problems, []);
  // The closure was followed: codec and base32 are reached through the format's modules.
  assertEquals(seen.has("src/util/codec.ts") && seen.has("src/util/base32.ts"), true);
});

Deno.test("every section of docs/format.md names its code, and every format module is named", () => {
  const doc = Deno.readTextFileSync(join(ROOT, "docs/format.md"));
  const lines = doc.split("\n");
  const missing: string[] = [];
  const named = new Set<string>();
  // Every section has a pointer, and so does every subsection of a section about bytes (one whose
  // pointer names a format module); the subsections of "Crash consistency" are rules, not bytes.
  let parentHasBytes = false;
  for (let i = 0; i < lines.length; i++) {
    const level = /^(##+) /.exec(lines[i])?.[1].length;
    if (level === undefined) continue;
    // The pointer is the first non-empty line of the section.
    let j = i + 1;
    while (j < lines.length && lines[j].trim() === "") j++;
    const pointer = lines[j]?.startsWith("Code: ") ? lines[j] : null;
    if (level === 2) parentHasBytes = pointer?.includes(`${FORMAT}/`) ?? false;
    if (!pointer && (level === 2 || parentHasBytes)) missing.push(lines[i]);
  }
  for (const m of doc.matchAll(/`(src\/store\/format\/[a-z_]+\.ts)`/g)) named.add(m[1]);
  assertEquals(missing, [], "sections without a `Code:` line");
  const modules = formatModules();
  const unknown = [...named].filter((n) => !modules.includes(n));
  assertEquals(unknown, [], "modules docs/format.md names that do not exist");
  const unnamed = modules.filter((m) => !named.has(m) && !m.endsWith("/mod.ts"));
  assertEquals(unnamed, [], "format modules no section of docs/format.md names");
});
