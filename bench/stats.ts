// Numbers for the bench tables: medians with min–max, and ratios or differences taken
// pair by pair (run i of one tool against run i of the reference, interleaved in the same
// loop), so that a slow moment of a shared machine hits both sides of a pair.

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length };
}

/** a[i] / b[i] for every i where both exist. */
export function pairRatios(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (Number.isFinite(a[i]) && Number.isFinite(b[i]) && b[i]! > 0) out.push(a[i]! / b[i]!);
  }
  return out;
}

/** a[i] − b[i] for every i where both exist. */
export function pairDiffs(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (Number.isFinite(a[i]) && Number.isFinite(b[i])) out.push(a[i]! - b[i]!);
  }
  return out;
}

// ---- formatting -------------------------------------------------------------------------

const MiB = 1024 * 1024;

function fmtRange(s: Spread, one: (v: number) => string, unit = ""): string {
  if (s.n === 0) return "—";
  if (s.n === 1) return `${one(s.median)}${unit}`;
  return `${one(s.median)}${unit} (${one(s.min)}–${one(s.max)})`;
}

/** Milliseconds shown as seconds with 2 decimals, or as ms below one second. */
export function fmtDuration(s: Spread): string {
  const big = Math.abs(s.median) >= 1000;
  return big ? fmtRange(s, (ms) => (ms / 1000).toFixed(2), " s") : fmtRange(s, (ms) => ms.toFixed(0), " ms");
}

/** Milliseconds with a sign: extra time over a baseline. */
export function fmtExtraMs(s: Spread): string {
  return fmtRange(s, (ms) => `${ms >= 0 ? "+" : "−"}${Math.abs(ms).toFixed(0)}`, " ms");
}

export function fmtRatio(s: Spread): string {
  return fmtRange(s, (r) => r.toFixed(2), "×");
}

/**
 * Every round's value in round order, e.g. "0.86, 0.91, 0.88", so a reader sees the spread
 * and any trend that a median and a range hide. "—" when there is none.
 */
export function fmtRounds(values: readonly number[], digits = 2): string {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length === 0 ? "—" : finite.map((v) => v.toFixed(digits)).join(", ");
}

/** CPU time (user + sys) in ms shown as seconds with 2 decimals (GNU time's resolution). */
export function fmtCpu(s: Spread): string {
  return fmtRange(s, (ms) => (ms / 1000).toFixed(2), " s");
}

/** KiB (as /usr/bin/time %M reports) shown in MiB. */
export function fmtRssKiB(s: Spread): string {
  return fmtRange(s, (kib) => (kib / 1024).toFixed(0), " MiB");
}

export function fmtCount(s: Spread): string {
  return fmtRange(s, (c) => c.toFixed(0));
}

/** Throughput of the median run. */
export function fmtThroughput(bytes: number, wall: Spread): string {
  if (wall.n === 0 || !(wall.median > 0)) return "—";
  return `${(bytes / MiB / (wall.median / 1000)).toFixed(0)} MiB/s`;
}

export function fmtSize(bytes: number): string {
  if (bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0) return `${bytes / (1024 * MiB)} GiB`;
  return `${(bytes / MiB).toFixed(bytes % MiB === 0 ? 0 : 1)} MiB`;
}
