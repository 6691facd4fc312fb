/** Durations on the command line (`--idle 30m`): Go-style sums like `1h30m`, `90s`, `500ms`. */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/**
 * Milliseconds of `text`: one or more `<number><unit>` parts (units ms, s, m, h, d, and the
 * systemd spellings sec, min, hr, hour(s), day(s), as fstab options use), or a bare number of
 * seconds. Undefined when it does not parse.
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const part = /(\d+(?:\.\d+)?)(ms|min|sec|s|m|hours|hour|hr|h|days|day|d)/y;
  let total = 0;
  let at = 0;
  while (at < t.length) {
    part.lastIndex = at;
    const m = part.exec(t);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
    at = part.lastIndex;
  }
  return at === 0 ? undefined : Math.round(total);
}

/** `ms` as a short text for messages: `30m`, `1h30m`, `90s` → `1m30s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join("");
}

/** The `mount --key-idle` default: key material leaves the process after 10 idle minutes. */
export const DEFAULT_KEY_IDLE_MS = 10 * 60_000;
