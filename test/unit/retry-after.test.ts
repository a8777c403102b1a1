// Retry-After on the origin's 429 and 503: how it is read, how it sets the wait before the
// next try (never shorter than the backoff), and that a wait past the run's deadline is
// not begun (exit 28). Time is a fake clock and a fake timer: nothing sleeps.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fetchRestFromOrigin } from "../../src/engine/origin-pieces.js";
import type { OriginTransport } from "../../src/engine/parts.js";
import { PieceLedger } from "../../src/engine/piece-ledger.js";
import { OriginHttpError, TimeoutError, exitCodeOf } from "../../src/errors.js";
import { retryAfterOf, serverWaitMs } from "../../src/transport/retry-after.js";
import { checkRangeAnswer } from "../../src/transport/response-check.js";
import { unexpectedStatus } from "../../src/transport/origin-errors.js";
import { RetryPolicy } from "../../src/transport/retry-policy.js";
import { fakeClock } from "../support/fake-clock.js";
import { fakeTimer } from "../support/fake-timer.js";

// 2015-10-21T07:28:00Z, the RFC's example date, as epoch ms (written out, not computed by src).
const RFC_DATE_MS = 1_445_412_480_000;
const RFC_DATE = "Wed, 21 Oct 2015 07:28:00 GMT";

describe("retryAfterOf", () => {
  test("delta-seconds on 429 and 503", () => {
    assert.deepEqual(retryAfterOf(429, { "retry-after": "3" }), { seconds: 3 });
    assert.deepEqual(retryAfterOf(503, { "retry-after": " 120 " }), { seconds: 120 });
    assert.deepEqual(retryAfterOf(503, { "retry-after": ["7", "9"] }), { seconds: 7 });
  });
  test("an HTTP-date, with the answer's Date when it has one", () => {
    assert.deepEqual(retryAfterOf(503, { "retry-after": RFC_DATE, date: "Wed, 21 Oct 2015 07:27:30 GMT" }), { at: RFC_DATE_MS, date: RFC_DATE_MS - 30_000 });
    assert.deepEqual(retryAfterOf(429, { "retry-after": RFC_DATE }), { at: RFC_DATE_MS });
    assert.deepEqual(retryAfterOf(429, { "retry-after": RFC_DATE, date: "garbage" }), { at: RFC_DATE_MS });
  });
  test("other statuses, no header and unparsable values give nothing", () => {
    assert.equal(retryAfterOf(500, { "retry-after": "3" }), undefined);
    assert.equal(retryAfterOf(408, { "retry-after": "3" }), undefined);
    assert.equal(retryAfterOf(429, {}), undefined);
    for (const value of ["", "-1", "1.5", "soon", "3 seconds", "21 Oct 2015 07:28:00 GMT"]) assert.equal(retryAfterOf(429, { "retry-after": value }), undefined, value);
  });
  test("the wait: seconds, date minus Date, date minus now without Date; never negative", () => {
    assert.equal(serverWaitMs({ seconds: 3 }, 0), 3000);
    assert.equal(serverWaitMs({ at: RFC_DATE_MS, date: RFC_DATE_MS - 30_000 }, RFC_DATE_MS + 999_999), 30_000, "the local clock does not matter");
    assert.equal(serverWaitMs({ at: RFC_DATE_MS }, RFC_DATE_MS - 10_000), 10_000);
    assert.equal(serverWaitMs({ at: RFC_DATE_MS }, RFC_DATE_MS + 10_000), 0);
  });
  test("the transport's errors carry it: unexpectedStatus and a ranged GET's verdict", () => {
    const plain = unexpectedStatus(429, new URL("http://o.test/f"), { "retry-after": "4" });
    assert.ok(plain instanceof OriginHttpError);
    assert.deepEqual(plain.retryAfter, { seconds: 4 });
    assert.throws(
      () => checkRangeAnswer(503, { "retry-after": "5" }, { offset: 0, length: 4, total: 8, pin: {}, where: "range 0-3" }),
      (err: unknown) => err instanceof OriginHttpError && err.status === 503 && err.retryAfter !== undefined && "seconds" in err.retryAfter && err.retryAfter.seconds === 5,
    );
  });
});

describe("RetryPolicy and Retry-After", () => {
  const busy = (seconds: number, status = 429): OriginHttpError => new OriginHttpError(status, `origin answered ${status}`, { retryAfter: { seconds } });

  test("the wait is the server's when longer than the backoff, the backoff when shorter", () => {
    const policy = new RetryPolicy({ retries: 5, baseDelayMs: 250, random: () => 0.999999 });
    assert.deepEqual(policy.onFailure(0, busy(3)), { retry: true, delayMs: 3000, attempt: 1 });
    assert.deepEqual(policy.onFailure(1, busy(0)), { retry: true, delayMs: 250, attempt: 1 });
    assert.deepEqual(policy.onFailure(2, new OriginHttpError(503, "x")), { retry: true, delayMs: 250, attempt: 1 });
  });
  test("an HTTP-date without Date counts from the injected clock", () => {
    const clock = fakeClock(RFC_DATE_MS - 2500);
    const policy = new RetryPolicy({ retries: 1, random: () => 0, clock });
    const err = new OriginHttpError(503, "x", { retryAfter: { at: RFC_DATE_MS } });
    assert.deepEqual(policy.onFailure(0, err), { retry: true, delayMs: 2500, attempt: 1 });
  });
  test("the number of tries stays `retries`", () => {
    const policy = new RetryPolicy({ retries: 1, random: () => 0 });
    assert.equal(policy.onFailure(0, busy(1)).retry, true);
    assert.deepEqual(policy.onFailure(0, busy(1)), { retry: false, reason: "exhausted" });
  });
  test("a Retry-After past the run's deadline is not waited for: exit 28 now, the origin's answer as the cause", () => {
    const clock = fakeClock(1_000_000);
    const policy = new RetryPolicy({ retries: 5, random: () => 0, clock, deadline: 1_000_000 + 10_000 });
    const err = busy(120, 503);
    const decision = policy.onFailure(0, err);
    assert.equal(decision.retry, false);
    assert.ok(!decision.retry && decision.reason === "deadline");
    const final = decision.error;
    assert.ok(final instanceof TimeoutError && final.phase === "run");
    assert.equal(exitCodeOf(final), 28);
    assert.equal(final.cause, err);
    assert.match(final.message, /origin answered 503.*Retry-After \(2m\).*--timeout.*\(10s left\)/);
    assert.equal(policy.taken, 0);
    // Within the budget it is waited for.
    assert.deepEqual(policy.onFailure(1, busy(9)), { retry: true, delayMs: 9000, attempt: 1 });
  });
});

describe("fetchRestFromOrigin waits out Retry-After on the policy's timer", () => {
  test("a 429 with Retry-After: 2 → the next GET of that piece comes 2 s later, not before", async () => {
    const timer = fakeTimer();
    const plan = [{ number: 0, offset: 0, length: 4 }];
    const ledger = new PieceLedger(plan, { tempPath: "/nonexistent", writePiece: async () => undefined }, new RetryPolicy({ retries: 1, random: () => 0, timer }));
    const tries: number[] = [];
    const origin: OriginTransport = {
      head: () => Promise.reject(new Error("not used")),
      streamWhole: () => Promise.reject(new Error("not used")),
      getRangeInto: async (_url, offset, length, sink) => {
        tries.push(timer.now());
        if (tries.length === 1) throw new OriginHttpError(429, "origin answered 429", { retryAfter: { seconds: 2 } });
        await sink(Buffer.alloc(length), offset);
      },
    };
    const done = fetchRestFromOrigin({ ledger, origin, url: "http://o.test/f", concurrency: 1, signal: new AbortController().signal });
    await timer.advance(1999);
    assert.deepEqual(tries, [0], "no second try before the server's 2 s (the backoff alone would be 62 ms)");
    await timer.advance(1);
    await done;
    assert.deepEqual(tries, [0, 2000]);
    assert.equal(ledger.complete, true);
  });
});
