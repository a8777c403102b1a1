import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { RetryPolicy, isRetryable } from "../../src/transport/retry-policy.js";
import { LowSpeedWatchdog, type WatchdogTimers } from "../../src/transport/low-speed.js";
import { BadRangeAnswerError, ObjectChangedError } from "../../src/transport/response-check.js";
import {
  DfgetError,
  DigestMismatchError,
  OriginHttpError,
  OriginUnreachableError,
  PartialTransferError,
  TimeoutError,
  UsageError,
  WriteError,
} from "../../src/errors.js";

describe("isRetryable", () => {
  test("network faults, 5xx, 408, 429, bad ranges and corrupt pieces are retried", () => {
    for (const err of [
      new PartialTransferError("cut"),
      new OriginUnreachableError("reset"),
      new TimeoutError("low-speed", "drip"),
      new TimeoutError("origin", "silent"),
      new OriginHttpError(503, "x"),
      new OriginHttpError(500, "x"),
      new OriginHttpError(408, "x"),
      new OriginHttpError(429, "x"),
      new BadRangeAnswerError("x"),
      new DfgetError("crc", "ERR_PIECE_CORRUPT"),
    ]) {
      assert.equal(isRetryable(err), true, err.message + " " + err.name);
    }
  });
  test("other 4xx, changed objects, local and run-level failures are not", () => {
    for (const err of [
      new OriginHttpError(404, "x"),
      new OriginHttpError(403, "x"),
      new OriginHttpError(416, "x"),
      new ObjectChangedError("a", "b", "w"),
      new WriteError("disk"),
      new DigestMismatchError("d"),
      new UsageError("u"),
      new TimeoutError("run", "r"),
      new Error("plain"),
      "string",
    ]) {
      assert.equal(isRetryable(err), false, String(err));
    }
  });
});

describe("RetryPolicy", () => {
  test("grants `retries` tries per key after the first, then says exhausted", () => {
    const policy = new RetryPolicy({ retries: 2, random: () => 0 });
    const cut = new PartialTransferError("cut");
    assert.equal(policy.onFailure(3, cut).retry, true);
    assert.equal(policy.onFailure(3, cut).retry, true);
    assert.deepEqual(policy.onFailure(3, cut), { retry: false, reason: "exhausted" });
    assert.equal(policy.onFailure(4, cut).retry, true, "another piece has its own budget");
    assert.equal(policy.taken, 3);
  });
  test("a fatal error is never retried and costs no budget", () => {
    const policy = new RetryPolicy({ retries: 5 });
    assert.deepEqual(policy.onFailure(0, new OriginHttpError(404, "x")), { retry: false, reason: "fatal" });
    assert.equal(policy.failuresOf(0), 0);
  });
  test("zero retries: the first failure is final", () => {
    const policy = new RetryPolicy({ retries: 0 });
    assert.deepEqual(policy.onFailure(0, new PartialTransferError("cut")), { retry: false, reason: "exhausted" });
  });
  test("backoff doubles up to the cap; jitter stays within [1/4, 1] of it", () => {
    const low = new RetryPolicy({ retries: 9, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
    const high = new RetryPolicy({ retries: 9, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => high.delayFor(n)), [100, 200, 400, 800, 1000, 1000]);
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => low.delayFor(n)), [25, 50, 100, 200, 250]);
  });
  test("refuses a negative budget", () => {
    assert.throws(() => new RetryPolicy({ retries: -1 }), RangeError);
  });
});

class FakeTimers implements WatchdogTimers {
  time = 0;
  private readonly intervals = new Map<number, { fn: () => void; ms: number; next: number }>();
  private id = 0;
  now(): number {
    return this.time;
  }
  setInterval(fn: () => void, ms: number): unknown {
    this.id++;
    this.intervals.set(this.id, { fn, ms, next: this.time + ms });
    return this.id;
  }
  clearInterval(handle: unknown): void {
    this.intervals.delete(handle as number);
  }
  /** Advance time, firing due intervals in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.intervals.entries()].filter(([, t]) => t.next <= end).sort((a, b) => a[1].next - b[1].next)[0];
      if (!due) break;
      this.time = due[1].next;
      due[1].next += due[1].ms;
      due[1].fn();
    }
    this.time = end;
  }
  get active(): number {
    return this.intervals.size;
  }
}

describe("LowSpeedWatchdog", () => {
  test("silence for one window trips it with a retryable low-speed timeout", () => {
    const timers = new FakeTimers();
    const dog = new LowSpeedWatchdog({ limitBytesPerSecond: 1024, windowMs: 4000, what: "range 0-9", timers });
    timers.advance(3999);
    assert.equal(dog.signal.aborted, false);
    timers.advance(1);
    assert.equal(dog.tripped, true);
    const reason: unknown = dog.signal.reason;
    assert.ok(reason instanceof TimeoutError && reason.phase === "low-speed" && /no data for 4000 ms/.test(reason.message));
    assert.equal(isRetryable(reason), true);
    assert.equal(timers.active, 0);
  });
  test("a drip below the limit trips within a window and a tick", () => {
    const timers = new FakeTimers();
    const dog = new LowSpeedWatchdog({ limitBytesPerSecond: 1024, windowMs: 4000, what: "x", timers });
    // 1 byte per 100 ms = 10 B/s.
    for (let t = 0; t < 5000 && !dog.signal.aborted; t += 100) { dog.bytes(1); timers.advance(100); };
    assert.equal(dog.tripped, true);
    assert.ok(timers.time <= 5000);
    assert.match((dog.signal.reason as Error).message, /below 1024 B\/s/);
  });
  test("a slow but steady link above the limit is never killed", () => {
    const timers = new FakeTimers();
    const dog = new LowSpeedWatchdog({ limitBytesPerSecond: 1024, windowMs: 4000, what: "x", timers });
    // 2 KiB/s for a minute.
    for (let t = 0; t < 60_000; t += 100) { dog.bytes(205); timers.advance(100); };
    assert.equal(dog.signal.aborted, false);
    dog.stop();
    assert.equal(timers.active, 0);
  });
  test("a link that goes quiet after a fast start trips one window later", () => {
    const timers = new FakeTimers();
    const dog = new LowSpeedWatchdog({ limitBytesPerSecond: 1024, windowMs: 4000, what: "x", timers });
    dog.bytes(10_000_000);
    timers.advance(2000);
    assert.equal(dog.signal.aborted, false);
    timers.advance(5000);
    assert.equal(dog.tripped, true);
  });
  test("limit 0: only silence trips", () => {
    const timers = new FakeTimers();
    const dog = new LowSpeedWatchdog({ limitBytesPerSecond: 0, windowMs: 1000, what: "x", timers });
    for (let t = 0; t < 10_000; t += 500) { dog.bytes(1); timers.advance(500); };
    assert.equal(dog.signal.aborted, false);
    timers.advance(2000);
    assert.equal(dog.tripped, true);
  });
  test("the parent's abort passes through untouched and is not a trip", () => {
    const timers = new FakeTimers();
    const parent = new AbortController();
    const dog = new LowSpeedWatchdog({ limitBytesPerSecond: 1024, windowMs: 1000, what: "x", timers, parent: parent.signal });
    const why = new Error("sigint");
    parent.abort(why);
    assert.equal(dog.signal.reason, why);
    assert.equal(dog.tripped, false);
    dog.stop();
  });
});
