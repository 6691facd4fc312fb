/**
 * The layering of docs/architecture.md ("Who may import whom"), checked on every import of the
 * code: a module never imports from a layer above its own (`store/` knows nothing of `fs/`),
 * `fuse/` sees only the `FileSystem` interface of `fs/` (types.ts, errors.ts), and nothing
 * imports `mod.ts` or the tests. Also the one OS boundary: native libraries are bound in `ffi/`
 * only (tests may bind libc themselves to probe a mount).
 */
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { assertEquals } from "./helpers/assert.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

type Layer = "util" | "ffi" | "crypto" | "store" | "fs" | "fsck" | "fuse" | "cli" | "mod";

/** What each layer may import besides itself (docs/architecture.md). */
const ALLOWED: Readonly<Record<Layer, readonly Layer[]>> = {
  util: [],
  ffi: [],
  crypto: ["util"],
  store: ["crypto", "ffi", "util"],
  fs: ["store", "crypto", "ffi", "util"],
  fsck: ["store", "crypto", "ffi", "util"],
  fuse: ["fs", "ffi", "util"],
  cli: ["fuse", "fsck", "fs", "store", "crypto", "ffi", "util"],
  mod: ["fs", "store", "fsck", "crypto", "ffi", "util"],
};

/** The files of `fs/` that `fuse/` may import: the interface, not the implementation. */
const FUSE_SEES_OF_FS = new Set(["src/fs/types.ts", "src/fs/errors.ts"]);

/** The layer of a path relative to the repository root; null outside the code (deno.json …). */
function layerOf(path: string): Layer | "tests" | null {
  if (path === "mod.ts") return "mod";
  if (path === "cli.ts") return "cli";
  const [top, sub] = path.split("/");
  if (top === "ffi") return "ffi";
  if (top === "tests") return "tests";
  if (top !== "src") return null;
  return (["util", "crypto", "store", "fs", "fsck", "fuse", "cli"] as const).find((l) =>
    l === sub
  ) ?? null;
}

/**
 * Why importing `target` from `file` (both relative to the root) breaks the layering, or null
 * when it does not.
 */
function violation(file: string, target: string): string | null {
  const from = layerOf(file);
  const to = layerOf(target);
  if (from === null || from === "tests" || to === null) return null;
  if (to === "tests") return `${file} imports the tests (${target})`;
  if (to === "mod") return `${file} imports mod.ts`;
  if (from === to) return null;
  if (!ALLOWED[from].includes(to)) return `${file} (${from}) imports ${target} (${to})`;
  if (from === "fuse" && to === "fs" && !FUSE_SEES_OF_FS.has(target)) {
    return `${file} imports ${target}: fuse/ sees only fs/types.ts and fs/errors.ts`;
  }
  return null;
}

/** The relative specifiers a module imports: static, dynamic, re-exports and worker URLs. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*"(\.[^"]*)"/g,
    /(?:^|\n)\s*import\s*"(\.[^"]*)"/g,
    /\bimport\(\s*"(\.[^"]*)"\s*\)/g,
    /\bnew URL\(\s*"(\.[^"]*)"\s*,\s*import\.meta\.url\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]);
  return out;
}

/** Every .ts file under `dir` (relative to the root). */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(join(ROOT, dir))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...tsFiles(path));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

Deno.test("the layer check flags an upward import and passes an allowed one", () => {
  assertEquals(violation("src/store/dir_store.ts", "src/fs/types.ts") !== null, true);
  assertEquals(violation("src/fsck/check.ts", "src/fs/types.ts") !== null, true);
  assertEquals(violation("src/fuse/session.ts", "src/fs/encrypted_fs.ts") !== null, true);
  assertEquals(violation("src/fs/inode_table.ts", "mod.ts") !== null, true);
  assertEquals(violation("src/store/dir_store.ts", "src/store/posix.ts"), null);
  assertEquals(violation("src/fuse/session.ts", "src/fs/types.ts"), null);
  assertEquals(violation("src/fs/file_data.ts", "src/store/content_file.ts"), null);
});

Deno.test("no module imports from a layer above its own", () => {
  const files = ["mod.ts", "cli.ts", ...tsFiles("src"), ...tsFiles("ffi")];
  const problems: string[] = [];
  let imports = 0;
  for (const file of files) {
    const source = Deno.readTextFileSync(join(ROOT, file));
    for (const spec of specifiers(source)) {
      imports++;
      const target = relative(ROOT, normalize(join(ROOT, dirname(file), spec)));
      const why = violation(file, target);
      if (why) problems.push(why);
    }
  }
  // The scan found the code's imports (a broken pattern would pass vacuously).
  assertEquals(imports > 300, true, `only ${imports} imports found`);
  assertEquals(problems, []);
});

/** The files that may bind a native library: libc once per thread, and libfuse. */
const DLOPEN_HOMES = new Set(["ffi/libc.ts", "ffi/fuse.ts"]);

Deno.test("Deno.dlopen is called only in ffi/libc.ts and ffi/fuse.ts (one OS boundary)", () => {
  const files = ["mod.ts", "cli.ts", ...tsFiles("src"), ...tsFiles("ffi"), ...tsFiles("scripts")];
  const found: string[] = [];
  for (const file of files) {
    if (/\bDeno\.dlopen\s*\(/.test(Deno.readTextFileSync(join(ROOT, file)))) found.push(file);
  }
  // The two bindings themselves are found (a broken pattern would pass vacuously).
  assertEquals(found.filter((f) => DLOPEN_HOMES.has(f)).sort(), [...DLOPEN_HOMES].sort());
  assertEquals(found.filter((f) => !DLOPEN_HOMES.has(f)), []);
});

Deno.test("libc symbols are called only inside ffi/ (wrappers elsewhere, one OS boundary)", () => {
  const files = ["mod.ts", "cli.ts", ...tsFiles("src"), ...tsFiles("ffi")];
  const found: string[] = [];
  for (const file of files) {
    if (/\blibc\(\)/.test(Deno.readTextFileSync(join(ROOT, file)))) found.push(file);
  }
  // The wrappers themselves are found (a broken pattern would pass vacuously).
  assertEquals(found.includes("ffi/sysio.ts"), true);
  assertEquals(found.filter((f) => !f.startsWith("ffi/")), []);
});
