// The selector's walk with a fake clock, an in-memory ledger and a scripted probe: the
// order it tries, what it skips, what it cools, and the all-down policy.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CooldownLedger } from "../../src/switching/cooldown.js";
import type { ProbeOutcome } from "../../src/rpc/health.js";
import { SchedulerSelector } from "../../src/switching/selector.js";
import { classifyGrpcFailure } from "../../src/switching/outcomes.js";
import { NoSchedulerError } from "../../src/errors.js";
import { fakeClock } from "../support/fake-clock.js";

const ADDRS = ["10.0.0.1:8002", "10.0.0.2:8002", "10.0.0.3:8002", "10.0.0.4:8002"];
const TASK = "a689e9c5b6e67744e31b3402be3b1e12ee39764b8b3705ebd20ed19778126aea";
// Ring order for TASK, from test/vectors/ring_vectors.py (independent of src/, checked
// against the reference's worked example), not from the product's ring.
const ORDER = ["10.0.0.4:8002", "10.0.0.2:8002", "10.0.0.3:8002", "10.0.0.1:8002"];
const MINUTE = 60_000;

type Script = Record<string, ProbeOutcome>;

function rig(opts: { script?: Script; maxAttempts?: number; disableBackToSource?: boolean; refreshTo?: string[]; addrs?: string[] } = {}) {
  const clock = fakeClock(1_000_000);
  const ledger = CooldownLedger.inMemory(clock);
  const probed: string[] = [];
  let refreshes = 0;
  let addrs = opts.addrs ?? ADDRS;
  const script: Script = { ...(opts.script ?? {}) };
  const selector = new SchedulerSelector({
    taskId: TASK,
    source: {
      addrs: () => addrs,
      refresh: async () => {
        refreshes++;
        if (!opts.refreshTo) return undefined;
        addrs = opts.refreshTo;
        return addrs;
      },
    },
    ledger,
    probe: async (addr) => {
      probed.push(addr);
      return { addr, outcome: script[addr] ?? "ok", ms: 1 };
    },
    clock,
    cooldownIntervalMs: MINUTE,
    maxAttempts: opts.maxAttempts ?? 0,
    disableBackToSource: opts.disableBackToSource ?? false,
  });
  return { clock, ledger, selector, probed, script, refreshes: () => refreshes };
}

describe("SchedulerSelector", () => {
  test("a healthy owner is the first and only probe", async () => {
    const r = rig();
    assert.deepEqual(await r.selector.next(), { addr: ORDER[0], rank: 0 });
    assert.deepEqual(r.probed, [ORDER[0]]);
    assert.deepEqual(r.selector.attempts.map((a) => a.outcome), ["ok"]);
  });

  test("a refused owner is cooled and the ring successor is chosen", async () => {
    const r = rig({ script: { [ORDER[0]!]: "refused" } });
    assert.equal((await r.selector.next())?.addr, ORDER[1]);
    assert.deepEqual(r.probed, [ORDER[0], ORDER[1]]);
    assert.equal(r.ledger.isCooling(ORDER[0]!, MINUTE), true);
    assert.deepEqual(r.selector.attempts.map((a) => [a.addr, a.outcome]), [[ORDER[0], "refused"], [ORDER[1], "ok"]]);
  });

  test("a cooling scheduler is skipped without a probe and recorded as cooling", async () => {
    const r = rig();
    await r.ledger.markFailed(ORDER[0]!, "timeout");
    r.clock.advance(MINUTE - 1);
    assert.equal((await r.selector.next())?.addr, ORDER[1]);
    assert.deepEqual(r.probed, [ORDER[1]]);
    assert.deepEqual(r.selector.attempts.map((a) => [a.addr, a.outcome, a.ms]), [[ORDER[0], "cooling", 0], [ORDER[1], "ok", 1]]);
  });

  test("once the cooldown has passed the scheduler is tried again and success clears it", async () => {
    const r = rig();
    await r.ledger.markFailed(ORDER[0]!, "refused");
    r.clock.advance(MINUTE);
    const choice = await r.selector.next();
    assert.equal(choice?.addr, ORDER[0]);
    await r.selector.markSucceeded(ORDER[0]!);
    assert.equal(r.ledger.record(ORDER[0]!), undefined);
  });

  test("after a mid-download failure the next call continues the walk and never retries the failed one", async () => {
    const r = rig();
    assert.equal((await r.selector.next())?.addr, ORDER[0]);
    await r.selector.markFailed(ORDER[0]!, "stream-broken", 10);
    assert.equal((await r.selector.next())?.addr, ORDER[1]);
    await r.selector.markFailed(ORDER[1]!, "stream-broken", 10);
    assert.equal((await r.selector.next())?.addr, ORDER[2]);
    assert.deepEqual(r.probed, [ORDER[0], ORDER[1], ORDER[2]]);
    assert.equal(r.ledger.record(ORDER[0]!)?.failures, 1);
  });

  test("resource-exhausted switches without cooling", async () => {
    const r = rig();
    await r.selector.next();
    await r.selector.markFailed(ORDER[0]!, "resource-exhausted", 3);
    assert.equal(r.ledger.isCooling(ORDER[0]!, MINUTE), false);
    assert.equal((await r.selector.next())?.addr, ORDER[1]);
  });

  test("maxAttempts caps the probes of one registration, then back-to-source", async () => {
    const r = rig({ maxAttempts: 2, script: Object.fromEntries(ADDRS.map((a) => [a, "refused"])) });
    assert.equal(await r.selector.next(), undefined);
    assert.deepEqual(r.probed, [ORDER[0], ORDER[1]]);
    assert.equal(r.refreshes(), 0, "a capped pass is not a failed pass: no refresh");
  });

  test("a whole pass failing refreshes the list once and tries only the new schedulers", async () => {
    const fresh = [...ADDRS, "10.0.0.9:8002"];
    const r = rig({ refreshTo: fresh, script: Object.fromEntries(ADDRS.map((a) => [a, "unavailable"])) });
    assert.equal((await r.selector.next())?.addr, "10.0.0.9:8002");
    assert.equal(r.refreshes(), 1);
    assert.equal(r.probed.length, ADDRS.length + 1, "the failed ones are not probed again");
    await r.selector.markFailed("10.0.0.9:8002", "stream-broken", 1);
    assert.equal(await r.selector.next(), undefined, "nothing left: back to source");
    assert.equal(r.refreshes(), 1, "the manager is asked once per run");
  });

  test("all cooling: one refresh, then back-to-source with zero probes", async () => {
    const r = rig();
    for (const a of ADDRS) await r.ledger.markFailed(a, "refused");
    assert.equal(await r.selector.next(), undefined);
    assert.deepEqual(r.probed, []);
    assert.equal(r.refreshes(), 1);
    assert.deepEqual(r.selector.attempts.map((a) => a.outcome), ["cooling", "cooling", "cooling", "cooling"]);
  });

  test("back-to-source disabled: cooling schedulers are probed soonest-expiring first", async () => {
    const r = rig({ disableBackToSource: true });
    // Fail them in reverse ring order, so the soonest-expiring is the ring's last.
    for (const a of [...ORDER].reverse()) {
      await r.ledger.markFailed(a, "refused");
      r.clock.advance(1000);
    }
    r.script[ORDER[3]!] = "refused";
    const choice = await r.selector.next();
    assert.deepEqual(r.probed, [ORDER[3], ORDER[2]]);
    assert.equal(choice?.addr, ORDER[2]);
  });

  test("back-to-source disabled and nobody answers: NoSchedulerError (exit 69)", async () => {
    const r = rig({ disableBackToSource: true, script: Object.fromEntries(ADDRS.map((a) => [a, "timeout"])) });
    await assert.rejects(r.selector.next(), (err: unknown) => err instanceof NoSchedulerError && err.exitCode === 69);
  });

  test("no schedulers at all: back-to-source, or 69 when it is disabled", async () => {
    assert.equal(await rig({ addrs: [] }).selector.next(), undefined);
    await assert.rejects(rig({ addrs: [], disableBackToSource: true }).selector.next(), NoSchedulerError);
  });

  test("plan() lists the ring order with cooling state", async () => {
    const r = rig();
    await r.ledger.markFailed(ORDER[1]!, "refused");
    const plan = r.selector.plan();
    assert.deepEqual(plan.map((p) => p.addr), ORDER);
    assert.equal(plan[1]!.coolingUntil, r.clock.now() + MINUTE);
    assert.equal(plan[0]!.coolingUntil, null);
  });
});

describe("classifyGrpcFailure", () => {
  test("transport codes switch and cool; application codes are reported; RESOURCE_EXHAUSTED switches only", () => {
    assert.deepEqual(classifyGrpcFailure(14, false), { kind: "switch-and-cool", outcome: "unavailable" });
    assert.deepEqual(classifyGrpcFailure(14, true), { kind: "switch-and-cool", outcome: "stream-broken" });
    assert.deepEqual(classifyGrpcFailure(4, false), { kind: "switch-and-cool", outcome: "timeout" });
    assert.deepEqual(classifyGrpcFailure(8, false), { kind: "switch", outcome: "resource-exhausted" });
    for (const code of [3, 5, 7, 9]) assert.equal(classifyGrpcFailure(code, true).kind, "report", `code ${code}`);
  });
});
