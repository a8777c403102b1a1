// Scheduler switching when there is nowhere left to switch to, and where the scheduler
// list comes from: every scheduler down (back-to-source, or exit 69 with it disabled),
// the manager path and its cached list, and the all-cooling policy (one manager refresh,
// then back-to-source; with back-to-source disabled the cooling ones are probed anyway,
// soonest-expiring first). The BUILT dfget against the strict fake cluster; the
// single-owner cases are in switching.test.ts.
import { after, afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import type { ListSchedulersRequest } from "../../src/gen/manager/v2/manager.js";
import { exists, partFiles } from "../support/cli-e2e.js";
import { HANG_GUARD_MS } from "../support/wait.js";
import {
  CONNECT_TIMEOUT_MS,
  assertDownloaded,
  assertProtocolHygiene,
  assertRegisteredBy,
  attemptsOf,
  dfget,
  readCooldownFile,
  registrationCounts,
  startRig,
  writeCooldownFile,
  type Rig,
} from "./switching-harness.js";

const rigs: Rig[] = [];
async function rig(schedulers = 3): Promise<Rig> {
  const r = await startRig(schedulers);
  rigs.push(r);
  return r;
}

after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

// Every rig a test started must have seen only messages the fake (Go rules) accepted;
// checked after each test, so every test stands alone.
let checkedRigs = 0;
afterEach(() => {
  const fresh = rigs.slice(checkedRigs);
  checkedRigs = rigs.length;
  for (const r of fresh) assertProtocolHygiene(r);
});

const managerArgs = (r: Rig): string[] => ["--manager", r.cluster.manager.addr];
const listCalls = (r: Rig): number => r.cluster.manager.requests().length;
const connections = (r: Rig): number[] => r.order.map((s) => s.connectionCount());

/**
 * The walk found a scheduler, but it has no parent for us and back-to-source is disabled:
 * exit 69 with no byte asked of the origin (issue 11: "no byte from the origin, ever").
 */
async function assertNoParentNoOrigin(run: Awaited<ReturnType<typeof dfget>>, r: Rig, gets: number): Promise<NonNullable<typeof run.json>> {
  assert.equal(run.code, 69, `exit code; stderr:\n${run.stderr}`);
  assert.equal(run.json?.ok, false);
  assert.equal(run.json?.backToSource, false);
  // One sentence, said once (was "…, which is disabled; back-to-source is disabled").
  assert.match(run.stderr, /^dfget: error: scheduler \S+ asked for back-to-source, which is disabled$/m);
  assert.equal(run.stderr.match(/back-to-source/g)?.length, 1, run.stderr);
  assert.equal(originGets(r), gets, "no GET reached the origin");
  assert.equal(await exists(r.work.out), false, "no file at -O");
  return run.json!;
}

const originGets = (r: Rig): number => r.cluster.origin!.requests.filter((q) => q.method === "GET").length;

/** exit 69, the summary says so, nothing left at -O or beside it. */
async function assertNoScheduler(run: Awaited<ReturnType<typeof dfget>>, r: Rig): Promise<void> {
  assert.equal(run.code, 69, `exit code; stderr:\n${run.stderr}`);
  assert.equal(run.json?.ok, false);
  assert.equal(run.json?.exitCode, 69);
  assert.match(run.json?.error ?? "", /back-to-source is disabled/);
  assert.equal(await exists(r.work.out), false, "no file at -O");
  assert.deepEqual(await partFiles(r.work.dir), []);
  assert.deepEqual(registrationCounts(r), [0, 0, 0]);
}

describe("dfget with every scheduler down, and the manager path", () => {
  test("all three refused: the file comes from the origin, each scheduler tried once", async () => {
    const r = await rig();
    for (const s of r.order) await s.refuse();
    const run = await dfget(r, r.staticArgs);
    const json = await assertDownloaded(run, r);
    assert.equal(json.backToSource, true);
    assert.equal(json.scheduler.used, null);
    assert.deepEqual(attemptsOf(run), r.order.map((s) => [s.addr, "refused"]));
    assert.equal(json.pieces.fromSource, json.pieces.total);
    const file = await readCooldownFile(r);
    assert.deepEqual(Object.keys(file?.schedulers ?? {}).sort(), r.order.map((s) => s.addr).sort());
  });

  test("all three refused with --disable-back-to-source: exit 69 promptly, no file", async () => {
    const r = await rig();
    for (const s of r.order) await s.refuse();
    const run = await dfget(r, [...r.staticArgs, "--disable-back-to-source"]);
    await assertNoScheduler(run, r);
    assert.deepEqual(attemptsOf(run), r.order.map((s) => [s.addr, "refused"]));
    assert.ok(run.json!.durationMs < HANG_GUARD_MS, `run took ${run.json!.durationMs} ms`); // a hang guard; "refused" above is the verdict
  });

  test("all three blackholed with --disable-back-to-source: exit 69 after one dial deadline each", async () => {
    const r = await rig();
    for (const s of r.order) s.blackhole();
    const run = await dfget(r, [...r.staticArgs, "--disable-back-to-source"]);
    await assertNoScheduler(run, r);
    assert.deepEqual(attemptsOf(run), r.order.map((s) => [s.addr, "timeout"]));
    assert.deepEqual(connections(r), [1, 1, 1], "one dial each, none retried in the same run");
    const ms = run.json!.durationMs;
    // One full dial deadline each, not less; the upper bound is a hang guard only.
    assert.ok(ms >= CONNECT_TIMEOUT_MS * 3 * 0.9 && ms < HANG_GUARD_MS, `run took ${ms} ms`);
  });

  test("manager path, then the manager down: P2P through the cached scheduler list", async () => {
    const r = await rig();
    const first = await dfget(r, managerArgs(r));
    const json1 = await assertDownloaded(first, r);
    assert.equal(json1.cluster?.source, "manager");
    assert.equal(json1.scheduler.used, r.owner.addr);
    assert.deepEqual(attemptsOf(first), [[r.owner.addr, "ok"]]);
    assert.equal(listCalls(r), 1);
    const request: ListSchedulersRequest = r.cluster.manager.requests()[0]!;
    assert.equal(request.ip, "127.0.0.1", "the config file's host.ip is who asks");
    assertRegisteredBy(r.owner, first, r);

    await r.cluster.manager.refuse();
    const second = await dfget(r, managerArgs(r));
    const json2 = await assertDownloaded(second, r);
    assert.equal(json2.cluster?.source, "cache");
    assert.match(json2.cluster?.warning ?? "", /cached/);
    assert.equal(json2.scheduler.used, r.owner.addr);
    assert.deepEqual(registrationCounts(r), [2, 0, 0], "registered at the owner again, from the cache");
    assertRegisteredBy(r.owner, second, r);
    const warnings = second.stderr.split("\n").filter((line) => /manager/i.test(line));
    const managerAddr = r.cluster.manager.addr;
    assert.match(warnings[0] ?? "", new RegExp(`^dfget: manager ${managerAddr.replaceAll(".", "\\.")} unreachable \\(connection refused\\); using the scheduler list cached at \\d\\d:\\d\\d$`));
    assert.equal(warnings.length, 1, `one warning line on stderr:\n${second.stderr}`);
    assertProtocolHygiene(r);
  });

  test("all cooling: the manager is asked again once, then back-to-source, no scheduler dialled", async () => {
    const r = await rig();
    for (const s of r.order) s.notServing();
    const seed = await dfget(r, managerArgs(r));
    await assertDownloaded(seed, r);
    assert.deepEqual(attemptsOf(seed), r.order.map((s) => [s.addr, "not-serving"]));

    const calls = listCalls(r);
    const dialled = connections(r);
    const run = await dfget(r, managerArgs(r));
    const json = await assertDownloaded(run, r);
    assert.equal(listCalls(r) - calls, 2, "the first list plus exactly one refresh");
    assert.deepEqual(connections(r), dialled, "cooling schedulers are not dialled");
    assert.deepEqual(attemptsOf(run), r.order.map((s) => [s.addr, "cooling"]));
    assert.equal(json.backToSource, true);
    assert.equal(json.scheduler.used, null);
    assertProtocolHygiene(r);
  });

  test("all cooling: the refresh brings a scheduler not tried yet, and it is used", async () => {
    const r = await rig(4);
    const newcomer = r.cluster.schedulers[3]!;
    const known = r.cluster.schedulers.slice(0, 3);
    r.cluster.setSchedulerState(3, "inactive");
    const now = Date.now();
    await writeCooldownFile(r, {
      version: 1,
      schedulers: Object.fromEntries(known.map((s) => [s.addr, { failures: 1, lastFailureAt: now, lastOutcome: "refused" }])),
    });
    // The newcomer becomes active between the first ListSchedulers and the refresh.
    const manager = r.cluster.manager;
    const list = manager.listSchedulers.bind(manager);
    manager.listSchedulers = (request) => {
      const answer = list(request);
      r.cluster.setSchedulerState(3, "active");
      return answer;
    };
    const run = await dfget(r, managerArgs(r));
    const json = await assertDownloaded(run, r);
    assert.equal(listCalls(r), 2);
    assert.equal(json.scheduler.used, newcomer.addr);
    const cooling = r.order.filter((s) => s !== newcomer).map((s) => [s.addr, "cooling"]);
    assert.deepEqual(attemptsOf(run), [...cooling, [newcomer.addr, "ok"]]);
    assert.deepEqual(known.map((s) => s.connectionCount()), [0, 0, 0]);
    assertRegisteredBy(newcomer, run, r);
    assertProtocolHygiene(r);
  });

  test("all cooling with --disable-back-to-source: after the refresh the cooling ones are probed, a healed one is used", async () => {
    const r = await rig();
    for (const s of r.order) s.notServing();
    await assertDownloaded(await dfget(r, managerArgs(r)), r);
    await rm(r.work.out); // the next run must leave nothing at -O
    const failedAt = (await readCooldownFile(r))!.schedulers;
    // Ring order = failure order in the seeding run, so the owner expires soonest.
    assert.ok(failedAt[r.owner.addr]!.lastFailureAt <= failedAt[r.second.addr]!.lastFailureAt);
    await r.second.heal();

    const calls = listCalls(r);
    const gets = originGets(r);
    const run = await dfget(r, [...managerArgs(r), "--disable-back-to-source"]);
    const json = await assertNoParentNoOrigin(run, r, gets);
    assert.equal(listCalls(r) - calls, 2, "the first list plus exactly one refresh");
    assert.deepEqual(attemptsOf(run), [
      ...r.order.map((s) => [s.addr, "cooling"]),
      [r.owner.addr, "not-serving"],
      [r.second.addr, "ok"],
    ]);
    assert.equal(json.scheduler.used, r.second.addr);
    assert.deepEqual(registrationCounts(r), [0, 1, 0]);
    assertRegisteredBy(r.second, run, r);
    const file = await readCooldownFile(r);
    assert.equal(file?.schedulers[r.second.addr], undefined, "the healed one's record is gone");
    assert.equal(file?.schedulers[r.owner.addr]?.failures, 2, "the owner failed again");
    assertProtocolHygiene(r);
  });

  test("--disable-back-to-source probes cooling schedulers soonest-expiring first, not in ring order", async () => {
    const r = await rig();
    const now = Date.now();
    // #3 failed longest ago, so it expires first; the owner failed last.
    await writeCooldownFile(r, {
      version: 1,
      schedulers: Object.fromEntries(
        r.order.map((s, rank) => [s.addr, { failures: 1, lastFailureAt: now - 10_000 * (rank + 1), lastOutcome: "refused" }]),
      ),
    });
    const run = await dfget(r, [...r.staticArgs, "--disable-back-to-source"]);
    const json = await assertNoParentNoOrigin(run, r, 0);
    assert.deepEqual(attemptsOf(run), [...r.order.map((s) => [s.addr, "cooling"]), [r.third.addr, "ok"]]);
    assert.equal(json.scheduler.used, r.third.addr);
    assert.deepEqual(registrationCounts(r), [0, 0, 1]);
    assert.deepEqual([r.owner.connectionCount(), r.second.connectionCount()], [0, 0]);
    assertRegisteredBy(r.third, run, r);
    const file = await readCooldownFile(r);
    assert.deepEqual(Object.keys(file?.schedulers ?? {}).sort(), [r.owner.addr, r.second.addr].sort());
  });
});
