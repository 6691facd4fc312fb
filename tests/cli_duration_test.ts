// --idle durations: Go-style sums and the systemd spellings fstab options use.
import { assertEquals } from "./helpers/assert.ts";
import { formatDuration, parseDuration } from "../src/cli/duration.ts";

Deno.test("durations parse as Go-style sums, systemd spellings, or bare seconds", () => {
  const cases: [string, number | undefined][] = [
    ["90s", 90_000],
    ["30m", 1_800_000],
    ["10min", 600_000],
    ["1h30m", 5_400_000],
    ["2hours", 7_200_000],
    ["1day", 86_400_000],
    ["500ms", 500],
    ["45", 45_000],
    ["", undefined],
    ["10 min", undefined],
    ["5x", undefined],
    ["m5", undefined],
  ];
  for (const [text, ms] of cases) assertEquals(parseDuration(text), ms, text);
  assertEquals(formatDuration(5_400_000), "1h30m");
});
