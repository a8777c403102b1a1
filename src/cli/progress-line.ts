// The pieces of the progress display that are pure: a smoothed transfer rate, an ETA that
// is blank until a rate is known, the bar line fitted to the terminal width, and the
// final "saved …" line. render.ts feeds them events and a clock; tests feed them numbers.
import type { RunResult as DownloadReport } from "../engine/result.js";

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** 75 → "1m15s", 3.2 → "3.2 s" style for short spans; whole seconds beyond a minute. */
export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s).padStart(2, "0")}s`;
}

/**
 * Bytes per second, smoothed (exponential moving average over samples at least
 * `minSampleMs` apart) so the ETA does not jump with every piece. Unknown (undefined)
 * until the first full sample.
 */
export class RateMeter {
  private lastAt: number | undefined;
  private lastBytes = 0;
  private smoothed: number | undefined;

  constructor(private readonly alpha = 0.3, private readonly minSampleMs = 500) {}

  sample(bytes: number, atMs: number): void {
    if (this.lastAt === undefined) {
      this.lastAt = atMs;
      this.lastBytes = bytes;
      return;
    }
    const elapsed = atMs - this.lastAt;
    if (elapsed < this.minSampleMs) return;
    const rate = ((bytes - this.lastBytes) * 1000) / elapsed;
    this.smoothed = this.smoothed === undefined ? rate : this.alpha * rate + (1 - this.alpha) * this.smoothed;
    this.lastAt = atMs;
    this.lastBytes = bytes;
  }

  get bytesPerSecond(): number | undefined {
    return this.smoothed;
  }
}

/** Seconds left, or undefined when unknown (no total, no rate yet, a stall). */
export function etaSeconds(transferred: number, total: number | undefined, rate: number | undefined): number | undefined {
  if (total === undefined || rate === undefined || !(rate > 0)) return undefined;
  const left = Math.max(0, total - transferred) / rate;
  return Number.isFinite(left) ? left : undefined;
}

export interface BarFields {
  transferred: number;
  total: number | undefined;
  rate: number | undefined;
  scheduler: string;
}

const BAR_FULL = "█";
const BAR_EMPTY = "░";
const BAR_MAX = 40;
const BAR_MIN = 10;

function bar(fraction: number, size: number): string {
  const done = Math.round(Math.min(1, Math.max(0, fraction)) * size);
  return BAR_FULL.repeat(done) + BAR_EMPTY.repeat(size - done);
}

/**
 * One bar line that fits in `width` columns. What matters most survives longest: the
 * percentage and bytes; then speed and ETA; the bar shrinks (40 → 10 cells) and then goes
 * before any number does; "via SCHEDULER" goes first. Never wider than width - 1, so the
 * cursor never wraps.
 */
export function barLine(f: BarFields, width: number): string {
  const room = Math.max(1, width - 1);
  const percent = f.total === undefined ? undefined : f.total === 0 ? 100 : Math.floor((Math.min(f.transferred, f.total) / f.total) * 100);
  const pct = percent === undefined ? "" : `${String(percent).padStart(3)}%`;
  const size = f.total === undefined ? formatBytes(f.transferred) : `${formatBytes(f.transferred)}/${formatBytes(f.total)}`;
  const speed = f.rate === undefined ? "" : `${formatBytes(Math.round(f.rate))}/s`;
  const eta = etaSeconds(f.transferred, f.total, f.rate);
  const etaText = eta === undefined || f.transferred >= (f.total ?? 0) ? "" : `ETA ${formatSeconds(eta)}`;
  const via = f.scheduler ? `via ${f.scheduler}` : "";
  const join = (parts: string[]): string => parts.filter((p) => p !== "").join("  ");

  const numbers = [pct, size, speed, etaText];
  const fraction = f.total === undefined || f.total === 0 ? (f.total === 0 ? 1 : 0) : f.transferred / f.total;
  const withBar = (cells: number, extra: string[]): string => join([f.total === undefined ? "" : bar(fraction, cells), ...numbers, ...extra]);
  for (const extra of [[via], []]) {
    const base = withBar(0, extra).length + (f.total === undefined ? 0 : 2);
    const cells = Math.min(BAR_MAX, room - base);
    if (f.total !== undefined && cells >= BAR_MIN) return withBar(cells, extra);
  }
  // No room for a bar: numbers only, dropping from the right until they fit.
  for (let keep = numbers.length; keep > 0; keep--) {
    const text = join(numbers.slice(0, keep));
    if (text.length <= room) return text;
  }
  return join(numbers).slice(0, room);
}

/** "saved PATH (1.0 GiB in 3.2 s, 320.0 MiB/s, 64 pieces from peers via 10.0.0.2:8002)" */
export function savedLine(report: DownloadReport, durationMs: number): string {
  const seconds = Math.max(durationMs, 1) / 1000;
  const where = report.output === "-" ? "to stdout" : report.output;
  const parts = [`${formatBytes(report.bytesWritten)} in ${formatSeconds(seconds)}`, `${formatBytes(Math.round(report.bytesWritten / seconds))}/s`];
  const { fromParents, fromSource, reused } = report.pieces;
  const sources: string[] = [];
  if (fromParents > 0) sources.push(`${fromParents} piece${fromParents === 1 ? "" : "s"} from peers`);
  if (fromSource > 0) sources.push(fromParents > 0 ? `${fromSource} from the origin` : `${fromSource} piece${fromSource === 1 ? "" : "s"} from the origin`);
  if (reused > 0) sources.push(`${reused} resumed`);
  const via = report.scheduler.used ? ` via ${report.scheduler.used}` : "";
  if (sources.length > 0) parts.push(`${sources.join(", ")}${via}`);
  return `${report.output === "-" ? "wrote" : "saved"} ${where} (${parts.join(", ")})`;
}
