// Which parent gets a failed piece next, and when (issue 11 item 3): another live parent
// that has it, at once; when no other parent has it, the same one again after the retry
// policy's backoff (exponential, with jitter), so a parent that reset or sent one corrupt
// piece is not abandoned for a hiccup. Dead parents (refused, reset, silent, dripping)
// never reach this choice. A parent gets a piece at most TRIES_PER_PARENT times: one hiccup
// is forgiven, but a parent that fails the same piece again keeps failing it (a truncated
// copy, a bad disk) and must not spend the whole --retry budget the origin may then need
// (a parent cutting piece 1 short five times left a single slow origin answer fatal).
// A piece whose budget (download.retries, shared with the origin loop) is spent goes to
// no parent again.
import type { Timer } from "../clock.js";

export interface RetryCandidate {
  id: string;
  /** Transfers in flight on it: the least busy parent is asked first. */
  active: number;
}

export type RetryChoice<T> = { link: T } | { waitMs: number };

/** Tries of one piece on one parent: the first, and one retry after a backoff. */
export const TRIES_PER_PARENT = 2;

export class ParentRetries {
  private readonly timer: Timer;
  /** piece number → parent id → how often it failed that piece */
  private readonly failedBy = new Map<number, Map<string, number>>();
  /** piece number → when (timer ms) a parent that failed it may be asked again */
  private readonly notBefore = new Map<number, number>();
  private readonly spent = new Set<number>();
  /** The one wake-up timer: when the earliest backoff is over (timer ms), and its cancel. */
  private wakeAt = Infinity;
  private cancelWake: (() => void) | undefined;

  constructor(timer: Timer) {
    this.timer = timer;
  }

  /** Parent `parentId` failed piece n; `delayMs` undefined: the piece's budget is spent. */
  failed(n: number, parentId: string, delayMs: number | undefined): void {
    let counts = this.failedBy.get(n);
    if (!counts) this.failedBy.set(n, (counts = new Map()));
    counts.set(parentId, (counts.get(parentId) ?? 0) + 1);
    if (delayMs === undefined) this.spent.add(n);
    else this.notBefore.set(n, this.timer.now() + delayMs);
  }

  isSpent(n: number): boolean {
    return this.spent.has(n);
  }

  hasFailed(n: number, parentId: string): boolean {
    return this.failuresOf(n, parentId) > 0;
  }

  /** False once `parentId` has failed piece n TRIES_PER_PARENT times. */
  mayTry(n: number, parentId: string): boolean {
    return this.failuresOf(n, parentId) < TRIES_PER_PARENT;
  }

  private failuresOf(n: number, parentId: string): number {
    return this.failedBy.get(n)?.get(parentId) ?? 0;
  }

  /**
   * Among `candidates` (live parents that have piece n and may still try it: mayTry, and
   * the piece's budget not spent): one that never failed it, at once; else one that did,
   * once its backoff is over ({ waitMs } until then); undefined when there is no candidate
   * — the piece is then the origin's.
   */
  choose<T extends RetryCandidate>(n: number, candidates: readonly T[]): RetryChoice<T> | undefined {
    if (candidates.length === 0) return undefined;
    const fresh = candidates.filter((c) => !this.hasFailed(n, c.id));
    if (fresh.length > 0) return { link: leastBusy(fresh) };
    const waitMs = (this.notBefore.get(n) ?? 0) - this.timer.now();
    if (waitMs > 0) return { waitMs };
    return { link: leastBusy(candidates) };
  }

  /** Calls `fn` in `ms` unless an earlier wake-up is already armed (one timer, moved earlier). */
  wakeIn(ms: number, fn: () => void): void {
    const at = this.timer.now() + ms;
    if (this.cancelWake && this.wakeAt <= at) return;
    this.cancelWake?.();
    this.wakeAt = at;
    this.cancelWake = this.timer.setTimeout(() => {
      this.cancelWake = undefined;
      this.wakeAt = Infinity;
      fn();
    }, ms);
  }

  /** No wake-up after this (the fetcher finished). */
  stop(): void {
    this.cancelWake?.();
    this.cancelWake = undefined;
    this.wakeAt = Infinity;
  }
}

function leastBusy<T extends RetryCandidate>(list: readonly T[]): T {
  return list.reduce((best, c) => (c.active < best.active ? c : best));
}
