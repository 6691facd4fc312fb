#!/usr/bin/env -S deno run --allow-all
/**
 * The `rencfs` command: `deno run -A cli.ts <mount|init|passwd> …`, or through ./rencfs.
 * See docs/cli.md.
 * @module
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
