/**
 * The man page and the bash completion are generated from the --help texts (scripts/gen-docs):
 * the committed files must be what the generator makes of the current help (an option added to
 * the help without `scripts/gen-docs` fails here), the help must list only options the parser
 * accepts, and the completion must complete.
 */
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "./cli_helpers.ts";
import { generatedFiles, helpPages } from "../scripts/gen-docs.ts";
import { parseCommandLine } from "../src/cli/args.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const COMPLETION = `${ROOT}/packaging/rencfs.bash`;

Deno.test("docs/rencfs.1 and packaging/rencfs.bash are up to date (else run scripts/gen-docs)", async () => {
  for (const [path, content] of Object.entries(generatedFiles())) {
    const committed = await Deno.readTextFile(`${ROOT}/${path}`);
    assert(committed === content, `${path} is out of date: run scripts/gen-docs`);
  }
});

Deno.test("every option the help of a command lists is one its parser accepts", () => {
  const { commands } = helpPages();
  assert(commands.length >= 4);
  for (const [command, page] of commands) {
    assert(page.options.length > 0, command);
    for (const o of page.options) {
      for (const name of [o.short, o.long]) {
        if (name === undefined) continue;
        const argv = [command, name, ...(o.value ? ["x"] : [])];
        try {
          parseCommandLine(argv);
        } catch (e) {
          // Missing required options, bad values, exclusions: fine. Not knowing it: not.
          const message = e instanceof Error ? e.message : String(e);
          assert(
            !/unknown option|takes no value|needs a value/.test(message),
            `${argv.join(" ")}: ${message}`,
          );
        }
      }
    }
  }
});

/** What the completion offers for the words typed so far (the last one being completed). */
async function complete(...words: string[]): Promise<string[]> {
  const script = [
    `source '${COMPLETION}'`,
    `COMP_WORDS=(rencfs ${words.map((w) => `'${w}'`).join(" ")})`,
    `COMP_CWORD=${words.length}`,
    "_rencfs",
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join("\n");
  const out = await new Deno.Command("bash", { args: ["-c", script], stdout: "piped" }).output();
  assert(out.success);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
}

Deno.test("bash completion completes commands, options and option values", async () => {
  assertEquals(await complete(""), ["mount", "init", "passwd", "fsck", "info", "help"]);
  assertEquals(await complete("mount", "--data"), ["--data-dir"]);
  assertEquals(await complete("--log-level", "DEBUG", "fsck", "--re"), [
    "--repair",
    "--recovery-code",
  ]);
  assertEquals(await complete("init", "-c", "aes"), ["aes-256-gcm"]);
  assertEquals(await complete("-l", "W"), ["WARN"]);
  assertEquals(await complete("help", "pa"), ["passwd"]);
  // Directory values complete to directories.
  assertEquals(await complete("mount", "-d", `${ROOT}/packagin`), [`${ROOT}/packaging`]);
});

Deno.test("the man page is valid roff (groff reports no warning)", async () => {
  let out;
  try {
    out = await new Deno.Command("groff", {
      args: ["-man", "-ww", "-z", `${ROOT}/docs/rencfs.1`],
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      console.warn("skipped: groff is not installed");
      return;
    }
    throw e;
  }
  assertEquals(new TextDecoder().decode(out.stderr), "");
  assert(out.success);
});
