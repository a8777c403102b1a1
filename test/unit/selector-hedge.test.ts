// Hedged probes with a fake timer and probes the test answers by hand: when the next
// probe starts, who wins, what an outrun probe's late verdict does to cooling, the
// attempt budget, the switch count and the fallback lines.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CooldownLedger } from "../../src/switching/cooldown.js";
import type { ProbeOutcome } from "../../src/rpc/health.js";
import { SchedulerSelector } from "../../src/switching/selector.js";
import { fakeClock } from "../support/fake-clock.js";
import { fakeTimer, settle } from "../support/fake-timer.js";

const ADDRS = ["10.0.0.1:8002", "10.0.0.2:8002", "10.0.0.3:8002", "10.0.0.4:8002"];
const TASK = "a689e9c5b6e67744e31b3402be3b1e12ee39764b8b3705ebd20ed19778126aea";
// Ring order for TASK from test/vectors/ring_vectors.py (independent of src/).
const [A, B, C, D] = ["10.0.0.4:8002", "10.0.0.2:8002", "10.0.0.3:8002", "10.0.0.1:8002"] as [string, string, string, string];
const MINUTE = 60_000;
const HEDGE = 300;

type Verdict = ProbeOutcome;

function rig(opts: { hedgeMs?: number; maxAttempts?: number } = {}) {
  const clock = fakeClock(1_000_000);
  const timer = fakeTimer();
  const ledger = CooldownLedger.inMemory(clock);
  const started: string[] = [];
  const answers = new Map<string, (v: Verdict) => void>();
  const lines: string[] = [];
  const selector = new SchedulerSelector({
    taskId: TASK,
    source: { addrs: () => ADDRS, refresh: async () => undefined },
    ledger,
    probe: (addr) => {
      started.push(addr);
      const at = timer.now();
      return new Promise((resolve) => answers.set(addr, (outcome) => resolve({ addr, outcome, ms: timer.now() - at })));
    },
    clock,
    cooldownIntervalMs: MINUTE,
    maxAttempts: opts.maxAttempts ?? 0,
    disableBackToSource: false,
    hedge: { delayMs: opts.hedgeMs ?? HEDGE, timer },
    onNotice: (line) => lines.push(line),
  });
  /** Answers one probe and lets the selector react. */
  const answer = async (addr: string, verdict: Verdict): Promise<void> => {
    const reply = answers.get(addr);
    assert.ok(reply, `no probe of ${addr} is running`);
    answers.delete(addr);
    reply(verdict);
    await settle();
  };
  const outcomes = () => selector.attempts.map((a) => `${a.addr} ${a.outcome}`);
  return { clock, timer, ledger, selector, started, answer, lines, outcomes };
}

describe("hedged probes", () => {
  test("an unanswered owner: the next probe starts after the hedge delay, not before", async () => {
    const r = rig();
    const choice = r.selector.next();
    await r.timer.advance(HEDGE - 1);
    assert.deepEqual(r.started, [A]);
    await r.timer.advance(1);
    assert.deepEqual(r.started, [A, B], "B starts while A is still unanswered");
    assert.deepEqual(r.lines, [`scheduler ${A} not answering after 300ms, trying ${B} too`]);
    await r.answer(B, "ok");
    assert.deepEqual(await choice, { addr: B, rank: 1 });
    assert.equal(r.selector.switches, 1, "moving past the outrun owner is a switch");
    assert.equal(r.timer.pending(), 0, "no further probe is scheduled");
  });

  test("an outrun owner that fails later is recorded hedged and cools", async () => {
    const r = rig();
    const choice = r.selector.next();
    await r.timer.advance(HEDGE);
    await r.answer(B, "ok");
    await choice;
    assert.equal(r.ledger.isCooling(A, MINUTE), false, "not judged yet");
    await r.answer(A, "timeout");
    assert.deepEqual(r.outcomes(), [`${B} ok`, `${A} hedged`]);
    assert.equal(r.ledger.record(A)?.lastOutcome, "hedged");
    assert.equal(r.selector.switches, 1, "hedged is not counted twice");
  });

  test("an outrun owner still unanswered when the run ends is hedged and cools", async () => {
    const r = rig();
    const choice = r.selector.next();
    await r.timer.advance(HEDGE);
    await r.answer(B, "ok");
    await choice;
    r.clock.advance(450);
    await r.selector.close();
    assert.deepEqual(r.outcomes(), [`${B} ok`, `${A} hedged`]);
    assert.equal(r.selector.attempts[1]?.ms, 450);
    assert.equal(r.ledger.isCooling(A, MINUTE), true);
    await r.answer(A, "ok");
    assert.equal(r.selector.attempts.length, 2, "a verdict after close changes nothing");
  });

  test("an outrun owner answering SERVING later is not cooled", async () => {
    const r = rig();
    const choice = r.selector.next();
    await r.timer.advance(HEDGE);
    await r.answer(B, "ok");
    assert.equal((await choice)?.addr, B);
    await r.timer.advance(200);
    await r.answer(A, "ok");
    await r.selector.close();
    assert.deepEqual(r.outcomes(), [`${B} ok`, `${A} ok`]);
    assert.equal(r.ledger.record(A), undefined);
  });

  test("a refused owner: the next probe starts at once, without waiting for the delay", async () => {
    const r = rig();
    const choice = r.selector.next();
    await settle();
    await r.answer(A, "refused");
    assert.deepEqual(r.started, [A, B]);
    assert.equal(r.timer.now(), 0);
    await r.answer(B, "ok");
    assert.equal((await choice)?.addr, B);
    assert.deepEqual(r.lines, [`scheduler ${A} refused → ${B}`]);
    assert.equal(r.ledger.record(A)?.lastOutcome, "refused");
    assert.equal(r.selector.switches, 1);
  });

  test("hedge delay 0: strictly one at a time", async () => {
    const r = rig({ hedgeMs: 0 });
    const choice = r.selector.next();
    await r.timer.advance(10 * MINUTE);
    assert.deepEqual(r.started, [A], "no timer moves on while the owner is unanswered");
    await r.answer(A, "timeout");
    assert.deepEqual(r.started, [A, B]);
    await r.answer(B, "ok");
    assert.equal((await choice)?.addr, B);
    assert.deepEqual(r.outcomes(), [`${A} timeout`, `${B} ok`]);
    assert.deepEqual(r.lines, [`scheduler ${A} not answering (connect timeout) → ${B}`]);
  });

  test("two blackholed: probes at 0, 300 and 600 ms; the third wins; both outrun are hedged", async () => {
    const r = rig();
    const choice = r.selector.next();
    await r.timer.advance(2 * HEDGE);
    assert.deepEqual(r.started, [A, B, C]);
    await r.answer(C, "ok");
    assert.deepEqual(await choice, { addr: C, rank: 2 });
    assert.equal(r.selector.switches, 2);
    await r.selector.close();
    assert.deepEqual(r.outcomes(), [`${C} ok`, `${A} hedged`, `${B} hedged`]);
    assert.equal(r.ledger.isCooling(A, MINUTE) && r.ledger.isCooling(B, MINUTE), true);
  });

  test("the first SERVING wins even when an earlier candidate answers later", async () => {
    const r = rig();
    const choice = r.selector.next();
    await r.timer.advance(HEDGE);
    await r.answer(B, "ok");
    await r.answer(A, "ok");
    assert.equal((await choice)?.addr, B);
  });

  test("an older probe failing while a newer one runs starts nothing new", async () => {
    const r = rig();
    const choice = r.selector.next();
    await r.timer.advance(HEDGE);
    await r.answer(A, "refused");
    assert.deepEqual(r.started, [A, B], "B's own delay decides when C starts");
    assert.deepEqual(r.lines.at(-1), `scheduler ${A} refused`);
    await r.timer.advance(HEDGE);
    assert.deepEqual(r.started, [A, B, C]);
    await r.answer(C, "ok");
    assert.equal((await choice)?.addr, C);
    await r.selector.close();
    assert.deepEqual(r.outcomes(), [`${A} refused`, `${C} ok`, `${B} hedged`]);
  });

  test("every probe started counts against maxAttempts", async () => {
    const r = rig({ maxAttempts: 2 });
    const choice = r.selector.next();
    await r.timer.advance(5 * HEDGE);
    assert.deepEqual(r.started, [A, B], "the budget stops the third probe");
    await r.answer(A, "timeout");
    await r.answer(B, "timeout");
    assert.equal(await choice, undefined);
  });

  test("mid-download switch: staggered the same way, explained with the stream failure", async () => {
    const r = rig();
    const first = r.selector.next();
    await settle();
    await r.answer(A, "ok");
    assert.equal((await first)?.addr, A);
    await r.selector.markFailed(A, "stream-broken", 5);
    const second = r.selector.next();
    await settle();
    assert.deepEqual(r.lines, [`scheduler ${A} lost the stream → ${B}`]);
    await r.timer.advance(HEDGE);
    assert.deepEqual(r.started, [A, B, C]);
    await r.answer(C, "ok");
    assert.equal((await second)?.addr, C);
    assert.equal(r.selector.switches, 2, "A broken, B outrun");
  });

  test("a probe still running from an earlier pass is joined, not started again", async () => {
    const r = rig();
    const first = r.selector.next();
    await r.timer.advance(HEDGE);
    await r.answer(B, "ok");
    await first;
    await r.selector.markFailed(B, "stream-broken", 5);
    const second = r.selector.next();
    await settle();
    assert.deepEqual(r.started, [A, B, C], "A is not probed twice; C starts at once");
    await r.answer(A, "ok");
    assert.equal((await second)?.addr, A, "the slow owner, alive after all, wins the next pass");
  });

  test("unresolved names are recorded once, with one line, and never probed", async () => {
    const clock = fakeClock(0);
    const lines: string[] = [];
    const selector = new SchedulerSelector({
      taskId: TASK,
      source: { addrs: () => [A], refresh: async () => undefined, unresolved: () => [{ addr: "sched.test:8002", reason: "ENOTFOUND", ms: 3 }] },
      ledger: CooldownLedger.inMemory(clock),
      probe: async (addr) => ({ addr, outcome: "ok", ms: 1 }),
      clock,
      cooldownIntervalMs: MINUTE,
      maxAttempts: 0,
      disableBackToSource: false,
      onNotice: (line) => lines.push(line),
    });
    assert.equal((await selector.next())?.addr, A);
    await selector.markFailed(A, "stream-broken", 1);
    await selector.next();
    assert.deepEqual(selector.attempts.filter((a) => a.outcome === "unresolved"), [{ addr: "sched.test:8002", outcome: "unresolved", ms: 3 }]);
    assert.deepEqual(lines.slice(0, 1), ["scheduler sched.test:8002 does not resolve (ENOTFOUND); skipped"]);
    assert.equal(selector.switches, 0);
  });
});
