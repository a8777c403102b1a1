// Which piece failures are worth another try, and how long to wait before it. A piece
// gets `retries` more tries after its first, across sources (aria2c's --max-tries idea,
// wget's --tries), with exponential backoff and full jitter so that the workers that
// all failed on one origin hiccup do not come back in lockstep.
//
// Retryable: connection reset or refused mid-run, short or over-long body, stall or
// low speed, 5xx, 408, 429, a bad range answer, a corrupt piece from a parent.
// Not retryable: other 4xx (the request itself is wrong), a changed object, local write
// errors, digest mismatch, the caller's abort.
import { DfgetError, OriginHttpError, TimeoutError } from "../errors.js";
import { BadRangeAnswerError, ObjectChangedError } from "./response-check.js";

export const DEFAULT_RETRIES = 5;
const DEFAULT_BASE_DELAY_MS = 250;
const DEFAULT_MAX_DELAY_MS = 8000;

/** Exit codes whose failures come from the network, not from us or the request. */
const TRANSIENT_EXIT_CODES = new Set([7, 18, 28]);
const RETRYABLE_STATUSES = new Set([408, 429]);

export function isRetryable(err: unknown): boolean {
  if (err instanceof ObjectChangedError) return false;
  // Another version in the cluster that cannot be fixed from the origin: retrying changes nothing.
  if (err instanceof DfgetError && err.code === "ERR_CLUSTER_VERSION") return false;
  if (err instanceof BadRangeAnswerError) return true;
  if (err instanceof OriginHttpError) return err.status >= 500 || RETRYABLE_STATUSES.has(err.status);
  if (err instanceof TimeoutError) return err.phase !== "run";
  if (err instanceof DfgetError) return TRANSIENT_EXIT_CODES.has(err.exitCode) || err.code === "ERR_PIECE_CORRUPT";
  return false;
}

export interface RetryPolicyOptions {
  /** Tries after the first, per piece. */
  retries: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** [0, 1); injected so tests are deterministic. */
  random?: () => number;
}

export type RetryDecision = { retry: true; delayMs: number; attempt: number } | { retry: false; reason: "exhausted" | "fatal" };

/**
 * Counts failures per key (a piece number, or "stream" for the one streamed GET) and
 * decides whether the next try may start and after what delay.
 */
export class RetryPolicy {
  readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;
  private readonly failures = new Map<string | number, number>();
  private retriesTaken = 0;

  constructor(opts: RetryPolicyOptions) {
    if (!Number.isSafeInteger(opts.retries) || opts.retries < 0) throw new RangeError(`retries must be a non-negative integer, got ${opts.retries}`);
    this.retries = opts.retries;
    this.baseDelayMs = opts.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.maxDelayMs = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.random = opts.random ?? Math.random;
  }

  /** Retries granted so far, all keys together (for the summary and logs). */
  get taken(): number {
    return this.retriesTaken;
  }

  failuresOf(key: string | number): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * Record a failed try of `key` and say whether (and when) to try again. `retryable`
   * overrides the classification when the caller knows better (any fault of a parent is
   * worth another source).
   */
  onFailure(key: string | number, err: unknown, retryable = isRetryable(err)): RetryDecision {
    if (!retryable) return { retry: false, reason: "fatal" };
    const failed = this.failuresOf(key) + 1;
    this.failures.set(key, failed);
    if (failed > this.retries) return { retry: false, reason: "exhausted" };
    this.retriesTaken++;
    return { retry: true, delayMs: this.delayFor(failed), attempt: failed };
  }

  /** Full jitter: uniform in [0, min(max, base · 2^(n-1))], never below 1/4 of it. */
  delayFor(failedTries: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.max(0, failedTries - 1));
    return Math.round(ceiling * (0.25 + 0.75 * this.random()));
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function backoffSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
