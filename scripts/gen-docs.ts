/**
 * Generates the man page (docs/rencfs.1) and the bash completion (packaging/rencfs.bash) from
 * the help texts that `--help` prints (src/cli/help.ts), so that all three list the same
 * commands and options. Run `scripts/gen-docs` after changing a help text; `--check` only
 * reports whether the committed files are up to date (tests/docs_generated_test.ts does too).
 * @module
 */
import { fileURLToPath } from "node:url";
import { CIPHERS } from "../src/crypto/aead.ts";
import { COMMANDS, helpText, VERSION } from "../src/cli/help.ts";
import { NEW_PASSWORD_ENV, PASSWORD_ENV, RECOVERY_CODE_ENV } from "../src/cli/password.ts";

/** One option as a help text lists it. */
export interface HelpOption {
  /** `-m`, when there is a short form. */
  short?: string;
  /** `--mount-point` */
  long: string;
  /** Name of the value (`MNT`), for options that take one. */
  value?: string;
  description: string;
}

/** A help text cut into its parts. */
export interface HelpPage {
  /** First line. */
  summary: string;
  /** What follows `Usage: `. */
  usage: string;
  /** Paragraphs before the options. */
  before: string[];
  options: HelpOption[];
  /** Paragraphs after the options. */
  after: string[];
  /** `Commands:` entries (the top-level help only). */
  commands: { name: string; description: string }[];
}

const OPTION_LINE = /^\s+(?:(-\w), )?(--[\w-]+)(?: ([A-Z][A-Z_]*))?(?:\s{2,}(.*))?$/;

/** Cuts a help text into blocks (separated by blank lines) and reads each. */
export function parseHelp(text: string): HelpPage {
  const blocks = text.trimEnd().split(/\n\s*\n/).map((b) => b.split("\n"));
  const page: HelpPage = {
    summary: blocks[0].join(" "),
    usage: "",
    before: [],
    options: [],
    after: [],
    commands: [],
  };
  for (const lines of blocks.slice(1)) {
    if (lines[0].startsWith("Usage: ")) {
      page.usage = lines[0].slice("Usage: ".length);
    } else if (lines[0] === "Options:") {
      for (const line of lines.slice(1)) {
        const m = OPTION_LINE.exec(line);
        if (m) {
          page.options.push({ short: m[1], long: m[2], value: m[3], description: m[4] ?? "" });
        } else if (page.options.length > 0) {
          const last = page.options[page.options.length - 1];
          last.description = `${last.description} ${line.trim()}`.trim();
        } else {
          throw new Error(`cannot read help line: ${line}`);
        }
      }
    } else if (lines[0] === "Commands:") {
      for (const line of lines.slice(1)) {
        const m = /^\s+(\S+)\s{2,}(.*)$/.exec(line);
        if (!m) throw new Error(`cannot read command line: ${line}`);
        page.commands.push({ name: m[1], description: m[2] });
      }
    } else {
      (page.options.length > 0 ? page.after : page.before).push(
        lines.map((l) => l.trim()).join(" "),
      );
    }
  }
  return page;
}

/** Every command's help page, in help order. */
export function helpPages(): { top: HelpPage; commands: [string, HelpPage][] } {
  return {
    top: parseHelp(helpText()),
    commands: COMMANDS.map((c) => [c, parseHelp(helpText(c))]),
  };
}

// ---------------------------------------------------------------------------------------------
// Man page

/** Text for roff: backslashes, and a dot or quote that would start a request. */
function roff(text: string): string {
  return text.replaceAll("\\", "\\e").replace(/^([.'])/, "\\&$1");
}

/** Text with option names and metavariables set in bold and italics. */
function roffInline(text: string): string {
  return roff(text)
    .replace(
      /(^|[\s(/'])(--?[a-zA-Z][\w-]*)/g,
      (_, pre, opt) => `${pre}\\fB${opt.replaceAll("-", "\\-")}\\fR`,
    );
}

function roffOption(o: HelpOption): string {
  const names = [o.short, o.long].filter((n) => n !== undefined)
    .map((n) => `\\fB${n!.replaceAll("-", "\\-")}\\fR`).join(", ");
  return `.TP\n${names}${o.value ? ` \\fI${o.value}\\fR` : ""}\n${roffInline(o.description)}`;
}

function roffParagraphs(paragraphs: string[]): string[] {
  return paragraphs.flatMap((p) => [".PP", roffInline(p)]);
}

const FSTAB = [
  "With \\fBmount.rencfs\\fR installed as \\fI/sbin/mount.fuse.rencfs\\fR (or \\fBrencfs\\fR on",
  "the PATH of \\fBmount.fuse3\\fR(8), e.g. in \\fI/usr/local/bin\\fR), a line of",
  "\\fI/etc/fstab\\fR mounts a data dir:",
  ".PP",
  ".nf",
  ".RS",
  "/home/me/.private.rencfs  /home/me/private  fuse.rencfs  passfile=/etc/rencfs/me.pass,nofail  0  0",
  ".RE",
  ".fi",
  ".PP",
  "Options: \\fBpassfile=\\fR\\fIFILE\\fR, \\fBextpass=\\fR\\fICMD\\fR, \\fBro\\fR,",
  "\\fBallow_other\\fR, \\fBallow_root\\fR, \\fBnonempty\\fR, \\fBidle=\\fR\\fIDURATION\\fR,",
  "\\fBlog_level=\\fR\\fILEVEL\\fR; \\fBnofail\\fR, \\fB_netdev\\fR, \\fBnoauto\\fR, \\fBuser\\fR,",
  "\\fBx\\-systemd.*\\fR and the usual mount flags are ignored. The data dir must exist.",
  "\\fBmount.rencfs\\fR runs \\fBrencfs mount \\-\\-background\\fR; \\fBumount\\fR(8) unmounts.",
];

/** The man page, roff source. */
export function renderManPage(): string {
  const { top, commands } = helpPages();
  const name = top.summary.replace(/^rencfs [^:]*: /, "");
  const exitCodes = top.before.concat(top.after).find((p) => p.startsWith("Exit codes:"));
  const described = top.before.concat(top.after).filter((p) => p !== exitCodes);
  const out: string[] = [
    '.\\" Generated by scripts/gen-docs from the help texts (src/cli/help.ts). Do not edit.',
    `.TH RENCFS 1 "" "rencfs ${VERSION}" "User Commands"`,
    ".SH NAME",
    `rencfs \\- ${roff(name)}`,
    ".SH SYNOPSIS",
    `.B rencfs\n${roffInline(top.usage.replace(/^rencfs /, ""))}`,
    ...commands.map(([, page]) =>
      `.br\n.B rencfs\n${roffInline(page.usage.replace(/^rencfs /, ""))}`
    ),
    ".SH DESCRIPTION",
    roffInline(`rencfs is ${name}.`),
    ...roffParagraphs(described),
    ".SH COMMANDS",
    ...top.commands.flatMap((c) => [`.TP\n\\fB${c.name}\\fR`, roffInline(c.description)]),
    ".SH OPTIONS",
    ...top.options.map(roffOption),
  ];
  for (const [command, page] of commands) {
    out.push(
      `.SS "rencfs ${command}"`,
      roffInline(`${page.summary}.`),
      ...roffParagraphs(page.before),
      ...page.options.map(roffOption),
      ...roffParagraphs(page.after),
    );
  }
  out.push(
    ".SH EXIT STATUS",
    roffInline(exitCodes?.replace(/^Exit codes: /, "") ?? ""),
    ".SH ENVIRONMENT",
    `.TP\n.B ${PASSWORD_ENV}\nThe password, when neither \\fB\\-\\-password\\-file\\fR nor \\fB\\-\\-extpass\\fR is given.`,
    `.TP\n.B ${NEW_PASSWORD_ENV}\nThe new password of \\fBrencfs passwd\\fR.`,
    `.TP\n.B ${RECOVERY_CODE_ENV}\nThe recovery code of \\fBpasswd \\-\\-recovery\\-code\\fR and \\fBfsck \\-\\-recovery\\-code\\fR.`,
    ".SH FSTAB",
    ...FSTAB,
    ".SH FILES",
    ".TP\n.I ${XDG_CACHE_HOME:\\-~/.cache}/rencfs/",
    "Where the single-file release unpacks itself on its first run (once per user and build).",
    ".SH SEE ALSO",
    "\\fBmount.fuse3\\fR(8), \\fBfusermount3\\fR(1), \\fBfstab\\fR(5), \\fBsystemd.mount\\fR(5)",
    "",
  );
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Bash completion

/** What completes the value of an option, by the name of its value in the help. */
function valueCompletion(o: HelpOption): string | undefined {
  switch (o.value) {
    case "DIR":
    case "MNT":
      return 'compgen -d -- "$cur"';
    case "FILE":
      return 'compgen -f -- "$cur"';
    case "CMD":
      return 'compgen -c -- "$cur"';
    case "LEVEL":
      return `compgen -W "${
        [...new Set(o.description.match(/\b[A-Z]{4,}\b/g))].join(" ")
      }" -- "$cur"`;
    case "NAME":
      if (o.long === "--cipher") return `compgen -W "${CIPHERS.join(" ")}" -- "$cur"`;
      return undefined;
    default:
      return undefined;
  }
}

function optionNames(options: HelpOption[]): string {
  return options.flatMap((o) => [o.short, o.long]).filter((n) => n !== undefined).join(" ");
}

/** `case` arms completing option values: a pattern of option names → a compgen command. */
function valueArms(options: HelpOption[], indent: string): string[] {
  const arms: string[] = [];
  const takesValue = options.filter((o) => o.value !== undefined);
  for (const o of takesValue) {
    const pattern = [o.short, o.long].filter((n) => n !== undefined).join("|");
    const completion = valueCompletion(o);
    arms.push(
      completion === undefined
        ? `${indent}${pattern}) return ;;`
        : `${indent}${pattern}) mapfile -t COMPREPLY < <(${completion}); return ;;`,
    );
  }
  return arms;
}

/** The bash completion script. */
export function renderBashCompletion(): string {
  const { top, commands } = helpPages();
  const names = top.commands.map((c) => c.name);
  const globalValues = top.options.filter((o) => o.value !== undefined)
    .flatMap((o) => [o.short, o.long]).filter((n) => n !== undefined).join("|");
  const lines = [
    "# bash completion for rencfs. Generated by scripts/gen-docs from the help texts",
    "# (src/cli/help.ts). Do not edit. Install: copy to",
    "# /usr/share/bash-completion/completions/rencfs, or source it from ~/.bashrc.",
    "_rencfs() {",
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd="" i',
    "  COMPREPLY=()",
    "  # The command: the first word that is neither an option nor an option's value.",
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    "    case ${COMP_WORDS[i]} in",
    `    ${globalValues}) ((i++)) ;;`,
    "    -*) ;;",
    "    *) cmd=${COMP_WORDS[i]}; break ;;",
    "    esac",
    "  done",
    '  local opts words=""',
    "  case $cmd in",
    '  "")',
    "    case $prev in",
    ...valueArms(top.options, "    "),
    "    esac",
    `    opts="${optionNames(top.options)}" words="${names.join(" ")}" ;;`,
    "  help)",
    `    [ "$prev" = help ] && words="${commands.map(([c]) => c).join(" ")}"`,
    '    opts="" ;;',
  ];
  for (const [command, page] of commands) {
    lines.push(
      `  ${command})`,
      "    case $prev in",
      ...valueArms(page.options, "    "),
      "    esac",
      `    opts="${optionNames(page.options)}" ;;`,
    );
  }
  lines.push(
    "  *) return ;;",
    "  esac",
    "  if [[ $cur == -* ]]; then",
    '    mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")',
    "  else",
    '    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")',
    "  fi",
    "}",
    "complete -o filenames -F _rencfs rencfs",
    "",
  );
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------

/** The generated files: path (relative to the repository) → content. */
export function generatedFiles(): Record<string, string> {
  return {
    "docs/rencfs.1": renderManPage(),
    "packaging/rencfs.bash": renderBashCompletion(),
  };
}

if (import.meta.main) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const check = Deno.args.includes("--check");
  let stale = 0;
  for (const [path, content] of Object.entries(generatedFiles())) {
    const current = await Deno.readTextFile(`${root}/${path}`).catch(() => undefined);
    if (current === content) continue;
    if (check) {
      console.error(`${path} is out of date: run scripts/gen-docs`);
      stale++;
    } else {
      await Deno.writeTextFile(`${root}/${path}`, content);
      console.log(`wrote ${path}`);
    }
  }
  Deno.exit(stale > 0 ? 1 : 0);
}
