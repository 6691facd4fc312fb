/** Durations on the command line: `90`, `90s`, `10m`, `2h`, `500ms`; `0` or `off` for none. */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of `text` (0 for `0`/`off`), or null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (t === "off" || t === "never") return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(t);
  if (!m) return null;
  const ms = Number(m[1]) * UNITS[m[2] ?? "s"];
  return Number.isFinite(ms) && ms <= 2 ** 31 - 1 ? Math.round(ms) : null;
}

/** The `mount --key-idle` default: key material leaves the process after 10 idle minutes. */
export const DEFAULT_KEY_IDLE_MS = 10 * 60_000;
