// curl's low-speed rule (--speed-limit / --speed-time) for any transfer: origin ranged
// GETs, vortex piece transfers, the one streamed GET. A transfer that received fewer than
// `limitBytesPerSecond` on average over the last `windowMs` — or nothing at all in that
// window — is tripped: the watchdog aborts its signal with a TimeoutError (phase
// "low-speed", retryable) and the caller drops the source. A slow but moving link above
// the limit is never killed, however long it takes.
import { TimeoutError } from "../errors.js";

/** Timers as a value, so tests drive time by hand. */
export interface WatchdogTimers {
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const systemTimers: WatchdogTimers = {
  now: () => Date.now(),
  setInterval: (fn, ms) => {
    const handle = setInterval(fn, ms);
    handle.unref();
    return handle;
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export interface LowSpeedOptions {
  /** Bytes per second; 0 = only silence trips. */
  limitBytesPerSecond: number;
  windowMs: number;
  /** What is being watched, for the message ("range 0-4194303 of http://…"). */
  what: string;
  timers?: WatchdogTimers;
  /** Aborted together with the watchdog (the caller's run signal). */
  parent?: AbortSignal;
}

/** Checks this many times per window: the trip lands at most window/TICKS late. */
const TICKS_PER_WINDOW = 4;

export class LowSpeedWatchdog {
  private readonly controller = new AbortController();
  private readonly timers: WatchdogTimers;
  private readonly opts: LowSpeedOptions;
  private readonly startedAt: number;
  /** [time, cumulative bytes] at each tick, oldest first, covering one window. */
  private readonly samples: Array<[number, number]> = [];
  private received = 0;
  private handle: unknown;
  private readonly onParentAbort = (): void => this.controller.abort(this.opts.parent?.reason);

  constructor(opts: LowSpeedOptions) {
    this.opts = opts;
    this.timers = opts.timers ?? systemTimers;
    this.startedAt = this.timers.now();
    this.samples.push([this.startedAt, 0]);
    if (opts.parent?.aborted) this.controller.abort(opts.parent.reason);
    else opts.parent?.addEventListener("abort", this.onParentAbort, { once: true });
    const tick = Math.max(1, Math.floor(opts.windowMs / TICKS_PER_WINDOW));
    this.handle = this.timers.setInterval(() => this.check(), tick);
  }

  /** Aborts when the transfer is too slow (reason: TimeoutError) or the parent aborts. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get tripped(): boolean {
    return this.controller.signal.aborted && this.controller.signal.reason instanceof TimeoutError;
  }

  /** Count bytes that arrived. */
  bytes(count: number): void {
    this.received += count;
  }

  /** The transfer ended (well or not): no more checks. */
  stop(): void {
    if (this.handle !== undefined) this.timers.clearInterval(this.handle);
    this.handle = undefined;
    this.opts.parent?.removeEventListener("abort", this.onParentAbort);
  }

  /** Exposed for tests driving a fake clock; the interval calls it. */
  check(): void {
    if (this.controller.signal.aborted) return this.stop();
    const now = this.timers.now();
    const { windowMs, limitBytesPerSecond } = this.opts;
    this.samples.push([now, this.received]);
    // Keep the newest sample at least one window old as the baseline.
    while (this.samples.length > 2 && now - this.samples[1]![0] >= windowMs) this.samples.shift();
    const [since, bytesThen] = this.samples[0]!;
    const elapsed = now - since;
    if (elapsed < windowMs) return;
    const got = this.received - bytesThen;
    const floor = (limitBytesPerSecond * elapsed) / 1000;
    if (got === 0 || got < floor) {
      const rate = Math.round((got * 1000) / elapsed);
      const message = got === 0
        ? `no data for ${elapsed} ms from ${this.opts.what}`
        : `${rate} B/s over ${elapsed} ms (below ${limitBytesPerSecond} B/s) from ${this.opts.what}`;
      this.controller.abort(new TimeoutError("low-speed", message));
      this.stop();
    }
  }
}
