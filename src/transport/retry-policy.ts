// Which piece failures are worth another try, and how long to wait before it. A piece
// gets `retries` more tries after its first, across sources (aria2c's --max-tries idea,
// wget's --tries), with exponential backoff and full jitter so that the workers that
// all failed on one origin hiccup do not come back in lockstep.
//
// Retryable: connection reset or refused mid-run, short or over-long body, stall or
// low speed, 5xx, 408, 429, a bad range answer, a corrupt piece from a parent.
// Not retryable: other 4xx (the request itself is wrong), a changed object, local write
// errors, digest mismatch, the caller's abort.
//
// A 429 or 503 with Retry-After waits at least what the server asked (the longer of it and
// the backoff, as curl --retry); a wait that would end past the run's deadline (--timeout)
// is not begun: the run ends at once with exit 28 (curl gives up the same way when
// Retry-After would pass --retry-max-time). The number of tries stays `retries`.
import { systemClock, systemTimer, type Clock, type Timer } from "../clock.js";
import { formatDuration } from "../config/duration.js";
import { DfgetError, OriginHttpError, TimeoutError, messageOf } from "../errors.js";
import { BadRangeAnswerError, ObjectChangedError } from "./response-check.js";
import { serverWaitMs } from "./retry-after.js";

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
  /** Wall time (epoch ms): an HTTP-date Retry-After without a Date, and `deadline`. */
  clock?: Clock;
  /** Where the backoff sleeps (wait()); a fake one in tests. */
  timer?: Timer;
  /** The run's absolute deadline (epoch ms, --timeout): no Retry-After wait ends past it. */
  deadline?: number;
}

export type RetryDecision =
  | { retry: true; delayMs: number; attempt: number }
  | { retry: false; reason: "exhausted" | "fatal" }
  /** The server's Retry-After ends past the run's deadline: `error` (exit 28) ends the run now. */
  | { retry: false; reason: "deadline"; error: TimeoutError };

/** The error a failed try ends with when `decision` grants no retry. */
function finalError(decision: RetryDecision, err: unknown): unknown {
  return !decision.retry && decision.reason === "deadline" ? decision.error : err;
}

/**
 * Counts failures per key (a piece number, or "stream" for the one streamed GET) and
 * decides whether the next try may start and after what delay.
 */
export class RetryPolicy {
  readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;
  private readonly clock: Clock;
  private readonly timer: Timer;
  private readonly deadline: number | undefined;
  private readonly failures = new Map<string | number, number>();
  private retriesTaken = 0;

  constructor(opts: RetryPolicyOptions) {
    if (!Number.isSafeInteger(opts.retries) || opts.retries < 0) throw new RangeError(`retries must be a non-negative integer, got ${opts.retries}`);
    this.retries = opts.retries;
    this.baseDelayMs = opts.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.maxDelayMs = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.random = opts.random ?? Math.random;
    this.clock = opts.clock ?? systemClock;
    this.timer = opts.timer ?? systemTimer;
    this.deadline = opts.deadline;
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
    const backoff = this.delayFor(failed);
    const asked = err instanceof OriginHttpError && err.retryAfter ? serverWaitMs(err.retryAfter, this.clock.now()) : 0;
    if (asked > backoff && this.deadline !== undefined) {
      const left = this.deadline - this.clock.now();
      if (asked > left) return { retry: false, reason: "deadline", error: this.pastDeadline(err, asked, left) };
    }
    this.retriesTaken++;
    return { retry: true, delayMs: Math.max(backoff, asked), attempt: failed };
  }

  /**
   * After a failed try of `key`: `onRetry(attempt)`, then the wait before the next try
   * (the backoff, or the server's longer Retry-After), then the attempt number. Throws the
   * error to end with when no retry is granted (finalError); rejects with the signal's
   * reason when it aborts during the wait.
   */
  async backoff(key: string | number, err: unknown, signal?: AbortSignal, onRetry?: (attempt: number) => void): Promise<number> {
    const decision = this.onFailure(key, err);
    if (!decision.retry) throw finalError(decision, err);
    onRetry?.(decision.attempt);
    await this.wait(decision.delayMs, signal);
    return decision.attempt;
  }

  /** Resolves after `ms` on the policy's timer, or rejects with the signal's reason when it aborts first. */
  private wait(ms: number, signal?: AbortSignal): Promise<void> {
    return backoffSleep(ms, signal, this.timer);
  }

  private pastDeadline(err: unknown, askedMs: number, leftMs: number): TimeoutError {
    const left = formatDuration(Math.max(0, Math.floor(leftMs / 1000)) * 1000);
    const asked = formatDuration(Math.ceil(askedMs / 1000) * 1000);
    return new TimeoutError("run", `${messageOf(err)}, and its Retry-After (${asked}) ends past the --timeout deadline (${left} left): not retried`, { cause: err });
  }

  /** Full jitter: uniform in [0, min(max, base · 2^(n-1))], never below 1/4 of it. */
  delayFor(failedTries: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.max(0, failedTries - 1));
    return Math.round(ceiling * (0.25 + 0.75 * this.random()));
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function backoffSleep(ms: number, signal?: AbortSignal, timer: Timer = systemTimer): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason);
    };
    // Node fires a timer longer than 2^31-1 ms at once; no wait here is meant to be that long.
    const cancel = timer.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.min(ms, 2 ** 31 - 1));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
