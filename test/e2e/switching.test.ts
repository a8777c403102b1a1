// Scheduler switching, end to end: the BUILT dfget against the strict fake cluster
// (architecture.md "Decisions already made"). The ring owner of the task fails in each of
// the four transport ways, and the registration must land on candidate #2 of the ring;
// the failure is remembered across runs (cooldown file) and forgotten again. With no
// parents configured the fake schedulers answer NeedBackToSource, so the bytes come from
// the origin through the scheduler conversation: what is asserted is WHERE dfget registered.
// Failures after the probe passed (AnnounceHost, register): switching-register.test.ts;
// all-down, manager and cache scenarios: switching-all-down.test.ts.
import { after, afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { DfgetRun } from "../support/cli.js";
import type { FakeScheduler } from "../support/scheduler.js";
import {
  CONNECT_TIMEOUT_MS,
  assertDownloaded,
  assertProtocolHygiene,
  assertRegisteredBy,
  attemptsOf,
  dfget,
  dryRun,
  median,
  readCooldownFile,
  registrationCounts,
  startRig,
  writeCooldownFile,
  type Rig,
} from "./switching-harness.js";

const rigs: Rig[] = [];
async function rig(): Promise<Rig> {
  const r = await startRig();
  rigs.push(r);
  return r;
}

/** Figures for the project's notes (printed, never asserted: tests do not judge speed). */
const figures: string[] = [];
let baselineMs = Number.NaN;
let baselineSelectMs = Number.NaN;
/** Time spent choosing a scheduler: every attempt's ms, failed ones and the final probe. */
const selectionMs = (run: DfgetRun): number => Math.round((run.json?.scheduler.attempts ?? []).reduce((sum, a) => sum + a.ms, 0));
/** Whole-run and selection time over the healthy medians (the run figure is noisy: ±150 ms). */
const extraOverBaseline = (run: DfgetRun): string =>
  `selection ${selectionMs(run)} ms = ${selectionMs(run) - baselineSelectMs} ms over healthy; run ${run.json?.durationMs} ms = ${(run.json?.durationMs ?? Number.NaN) - baselineMs} ms over healthy`;

/** Moves the owner's cooldown record `ms` into the past, as if that much time had gone by. */
async function ageOwnerRecord(r: Rig, ms: number): Promise<void> {
  const file = (await readCooldownFile(r))!;
  const record = file.schedulers[r.owner.addr]!;
  await writeCooldownFile(r, { ...file, schedulers: { ...file.schedulers, [r.owner.addr]: { ...record, lastFailureAt: record.lastFailureAt - ms } } });
}

after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
  if (figures.length > 0) console.log(`switching figures (connect timeout ${CONNECT_TIMEOUT_MS} ms):\n  ${figures.join("\n  ")}`);
});

// Every rig a test started must have seen only messages the fake (Go rules) accepted;
// checked after each test, so every test stands alone.
let checkedRigs = 0;
afterEach(() => {
  const fresh = rigs.slice(checkedRigs);
  checkedRigs = rigs.length;
  for (const r of fresh) assertProtocolHygiene(r);
});

/** The owner failed, candidate #2 took the registration, and the summary says so. */
async function assertSwitchedToSecond(run: DfgetRun, r: Rig, ownerOutcome: string): Promise<void> {
  const json = await assertDownloaded(run, r);
  assert.deepEqual(registrationCounts(r), [0, 1, 0], "registrations at [owner, #2, #3]");
  assert.equal(json.scheduler.used, r.second.addr);
  assert.deepEqual(attemptsOf(run), [[r.owner.addr, ownerOutcome], [r.second.addr, "ok"]]);
  assert.equal(json.backToSource, true, "the fake has no parents: NeedBackToSource");
  assertRegisteredBy(r.second, run, r);
  assertProtocolHygiene(r);
  // The owner was never announced to, so it is never asked to forget us either.
  assert.deepEqual(r.owner.calls("AnnounceHost"), []);
  const record = (await readCooldownFile(r))?.schedulers[r.owner.addr];
  assert.equal(record?.lastOutcome, ownerOutcome, "the owner's failure is in the cooldown file");
  assert.equal(record?.failures, 1);
  assert.equal((await readCooldownFile(r))?.schedulers[r.second.addr], undefined, "#2 is not cooling");
}

describe("dfget scheduler switching (static --scheduler list of 3)", () => {
  test("healthy baseline: the ring owner takes every registration", async () => {
    const r = await rig();
    const durations: number[] = [];
    const probes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await dfget(r, r.staticArgs);
      const json = await assertDownloaded(run, r);
      assert.equal(json.scheduler.used, r.owner.addr);
      assert.deepEqual(attemptsOf(run), [[r.owner.addr, "ok"]]);
      assert.equal(json.scheduler.switches, 0);
      assert.equal(json.cluster?.source, "static");
      assertRegisteredBy(r.owner, run, r);
      durations.push(json.durationMs);
      probes.push(json.scheduler.attempts[0]!.ms);
    }
    assert.deepEqual(registrationCounts(r), [3, 0, 0]);
    assert.equal(r.second.connectionCount() + r.third.connectionCount(), 0, "no other scheduler was even dialled");
    assertProtocolHygiene(r);
    baselineMs = median(durations);
    baselineSelectMs = Math.round(median(probes));
    figures.push(`healthy run: durationMs median ${baselineMs} (${durations.join(", ")}); selection (owner probe ok) median ${baselineSelectMs} ms`);
  });

  const faults: Array<{ name: string; outcome: string; apply: (s: FakeScheduler) => Promise<void> | void }> = [
    { name: "refused", outcome: "refused", apply: (s) => s.refuse() },
    { name: "blackholed", outcome: "timeout", apply: (s) => s.blackhole() },
    { name: "NOT_SERVING", outcome: "not-serving", apply: (s) => s.notServing() },
    { name: "UNAVAILABLE", outcome: "unavailable", apply: (s) => s.unavailable() },
  ];
  for (const fault of faults) {
    test(`owner ${fault.name}: registration lands on candidate #2, owner recorded as ${fault.outcome}`, async () => {
      const r = await rig();
      if (fault.name === "refused") {
        // The order the test derived is the one dfget itself reports.
        const plan = await dryRun(r, r.staticArgs);
        assert.equal(plan.taskId, r.taskId);
        assert.deepEqual(plan.schedulers.map((s) => s.addr), r.order.map((s) => s.addr));
        assert.deepEqual(plan.schedulers.map((s) => s.cooling), [false, false, false]);
      }
      await fault.apply(r.owner);
      const run = await dfget(r, r.staticArgs);
      await assertSwitchedToSecond(run, r, fault.outcome);
      const ownerProbeMs = run.json!.scheduler.attempts[0]!.ms;
      if (fault.name === "NOT_SERVING") assert.equal(r.owner.calls("Health/Check").length, 1, "asked once, then left alone");
      if (fault.name === "blackholed") {
        // The dial deadline fired, not before; the upper bounds only catch a hang or a
        // much longer default, never a slow machine.
        assert.ok(ownerProbeMs >= CONNECT_TIMEOUT_MS * 0.9 && ownerProbeMs < 10_000, `owner probe took ${ownerProbeMs} ms`);
        assert.ok(run.json!.durationMs < 20_000, `run took ${run.json!.durationMs} ms`);
      }
      if (fault.name === "refused" || fault.name === "blackholed") {
        figures.push(`owner ${fault.name}: owner probe ${ownerProbeMs} ms; ${extraOverBaseline(run)}`);
      }
    });
  }

  test("a second run within the cooldown opens zero connections to the failed owner", async () => {
    const r = await rig();
    r.owner.notServing();
    const before1 = Date.now();
    await assertSwitchedToSecond(await dfget(r, r.staticArgs), r, "not-serving");
    const after1 = Date.now();
    // Healed, but still cooling: the ledger, not the owner's state, decides.
    await r.owner.heal();
    const connections = r.owner.connectionCount();
    const healthChecks = r.owner.calls("Health/Check").length;

    const plan = await dryRun(r, r.staticArgs);
    assert.deepEqual(plan.schedulers.map((s) => s.cooling), [true, false, false], "--dry-run shows the owner cooling");
    const run = await dfget(r, r.staticArgs);
    const json = await assertDownloaded(run, r);
    assert.equal(r.owner.connectionCount(), connections, "no TCP connection to the cooling owner");
    assert.equal(r.owner.calls("Health/Check").length, healthChecks);
    assert.deepEqual(attemptsOf(run), [[r.owner.addr, "cooling"], [r.second.addr, "ok"]]);
    assert.equal(json.scheduler.used, r.second.addr);
    assert.deepEqual(registrationCounts(r), [0, 2, 0]);
    assertRegisteredBy(r.second, run, r);

    const file = await readCooldownFile(r);
    assert.equal(file?.version, 1);
    assert.deepEqual(Object.keys(file?.schedulers ?? {}), [r.owner.addr]);
    const record = file!.schedulers[r.owner.addr]!;
    assert.equal(record.lastOutcome, "not-serving");
    assert.equal(record.failures, 1, "skipping a cooling scheduler is not a new failure");
    assert.ok(record.lastFailureAt >= before1 && record.lastFailureAt <= after1, "stamped during the first run");
    assertProtocolHygiene(r);
    figures.push(`owner cooling: ${r.owner.connectionCount() - connections} connections to it; ${extraOverBaseline(run)}`);
  });

  test("after --cooldown 1s the healed owner is used again and its record is deleted", async () => {
    const r = await rig();
    await r.owner.refuse();
    await assertSwitchedToSecond(await dfget(r, [...r.staticArgs, "--cooldown", "1s"]), r, "refused");
    await r.owner.heal();
    await ageOwnerRecord(r, 10_000);
    const run = await dfget(r, [...r.staticArgs, "--cooldown", "1s"]);
    const json = await assertDownloaded(run, r);
    assert.equal(json.scheduler.used, r.owner.addr);
    assert.deepEqual(attemptsOf(run), [[r.owner.addr, "ok"]]);
    assert.deepEqual(registrationCounts(r), [1, 1, 0]);
    assertRegisteredBy(r.owner, run, r);
    const file = await readCooldownFile(r);
    assert.deepEqual(file?.schedulers, {}, "success deleted the owner's record");
    assertProtocolHygiene(r);
  });

  test("--cooldown 2s retries a scheduler that failed 10 s ago, which the default interval still cools", async () => {
    const r = await rig();
    await r.owner.refuse();
    await assertSwitchedToSecond(await dfget(r, r.staticArgs), r, "refused");
    await r.owner.heal();
    const cooling = await dryRun(r, r.staticArgs);
    assert.deepEqual(cooling.schedulers.map((s) => s.cooling), [true, false, false]);
    const until = Date.parse(cooling.schedulers[0]!.coolingUntil ?? "");
    const failedAt = (await readCooldownFile(r))!.schedulers[r.owner.addr]!.lastFailureAt;
    assert.equal(until - failedAt, 60_000, "the default interval (60 s) applied to the first run");

    await ageOwnerRecord(r, 10_000);
    const aged = await dryRun(r, r.staticArgs);
    assert.deepEqual(aged.schedulers.map((s) => s.cooling), [true, false, false], "10 s later the default interval still cools it");
    const run = await dfget(r, [...r.staticArgs, "--cooldown", "2s"]);
    const json = await assertDownloaded(run, r);
    assert.equal(json.scheduler.used, r.owner.addr, "the interval in force for THIS run decides");
    assert.deepEqual(attemptsOf(run), [[r.owner.addr, "ok"]]);
    assert.deepEqual(registrationCounts(r), [1, 1, 0]);
    assert.equal((await readCooldownFile(r))?.schedulers[r.owner.addr], undefined);
    assertProtocolHygiene(r);
  });
});
