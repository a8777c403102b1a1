// Durations as dfget users write them (cli.md: `500ms`, `2s`, `1m30s`, `2h`), the same
// spelling Dragonfly's YAML uses through humantime. Parsed strictly so a typo can never
// become a surprising timer:
// - one or more `<digits><unit>` parts, units `h`, `m`, `s`, `ms` (lowercase), each at most
//   once and in that order: `1h2m3s4ms` yes, `1s1m`, `1s1s` no;
// - no sign, no fraction (`1.5s` is rejected: write `1s500ms`; humantime rejects it too),
//   no spaces, no other units (`us`, `d`), no plain numbers except `0`;
// - the result must be a safe integer number of milliseconds.
// Range checks (e.g. "must be > 0") belong to the caller, which knows the key.

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const UNIT_ORDER: readonly Unit[] = ["h", "m", "s", "ms"];

const PART = /(\d+)(ms|h|m|s)/y;

/** Milliseconds for a duration string; throws Error(`invalid duration "…"`) otherwise. */
export function parseDuration(s: string): number {
  const invalid = (why: string): Error => new Error(`invalid duration ${JSON.stringify(s)} (${why})`);
  if (s === "0") return 0;
  if (s === "") throw invalid("empty; use e.g. 500ms, 2s, 1m30s, 2h");
  if (/^\d+$/.test(s)) throw invalid(`a unit is required, e.g. "${s}s" or "${s}ms"`);
  if (/^[+-]/.test(s)) throw invalid("a duration cannot be signed");

  PART.lastIndex = 0;
  let total = 0;
  let lastUnitIndex = -1;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const match = PART.exec(s);
    if (!match || match.index !== at) {
      if (/^\d+\.\d/.test(s.slice(at))) throw invalid("fractions are not accepted; write 1s500ms instead of 1.5s");
      throw invalid("expected parts like 500ms, 2s, 1m30s, 2h");
    }
    const unit = match[2] as Unit;
    const unitIndex = UNIT_ORDER.indexOf(unit);
    if (unitIndex <= lastUnitIndex) throw invalid("units must appear once each, largest first (h, m, s, ms)");
    lastUnitIndex = unitIndex;
    total += Number(match[1]) * UNIT_MS[unit];
  }
  if (!Number.isSafeInteger(total)) throw invalid("too large");
  return total;
}

/** The canonical spelling of a non-negative integer number of ms: 90000 → "1m30s", 0 → "0s". */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`cannot format duration ${ms}`);
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const unit of UNIT_ORDER) {
    const count = Math.floor(rest / UNIT_MS[unit]);
    if (count > 0) out += `${count}${unit}`;
    rest -= count * UNIT_MS[unit];
  }
  return out;
}

/** `ms` if minMs <= ms <= maxMs; throws Error naming the bound otherwise (minMs 1 = "> 0"). */
export function checkDurationRange(ms: number, minMs: number, maxMs: number): number {
  if (ms < minMs) throw new Error(minMs === 1 ? "must be greater than 0" : `must be at least ${formatDuration(minMs)}`);
  if (ms > maxMs) throw new Error(`must be at most ${formatDuration(maxMs)}`);
  return ms;
}
