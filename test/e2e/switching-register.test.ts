// Scheduler switching after the probe passed: the owner answers its health check, then
// fails AnnounceHost, or the register on the AnnouncePeer stream (UNAVAILABLE, or no
// answer within scheduleTimeout). Transport failures switch to candidate #2 and cool the
// owner; an application answer does not switch (architecture.md "Decisions already
// made"). The BUILT dfget against the strict fake cluster; faults are switched on at the
// exact request with onFirst().
import { after, afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import type { DfgetRun } from "../support/cli.js";
import {
  assertDownloaded,
  assertProtocolHygiene,
  assertRegisteredBy,
  attemptsOf,
  dfget,
  onFirst,
  readCooldownFile,
  registrationCounts,
  startRig,
  type Rig,
} from "./switching-harness.js";

const rigs: Rig[] = [];
async function rig(scheduleTimeout?: string): Promise<Rig> {
  const r = await startRig(3, scheduleTimeout === undefined ? {} : { scheduleTimeout });
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

/** The owner passed its probe, then failed with `outcome`; #2 took over and the owner cools. */
async function assertSwitchedAfterProbe(run: DfgetRun, r: Rig, outcome: string): Promise<void> {
  const json = await assertDownloaded(run, r);
  assert.deepEqual(attemptsOf(run), [[r.owner.addr, "ok"], [r.owner.addr, outcome], [r.second.addr, "ok"]]);
  assert.equal(json.scheduler.used, r.second.addr);
  assert.equal(json.scheduler.switches, 1);
  assertRegisteredBy(r.second, run, r);
  assert.equal(r.third.connectionCount(), 0);
  const file = await readCooldownFile(r);
  assert.deepEqual(Object.keys(file?.schedulers ?? {}), [r.owner.addr]);
  assert.equal(file!.schedulers[r.owner.addr]!.lastOutcome, outcome);
  // A scheduler that broke is not asked to forget us.
  assert.deepEqual([r.owner.calls("DeletePeer"), r.owner.calls("DeleteHost")], [[], []]);
  assertProtocolHygiene(r);
}

describe("dfget scheduler switching after a passed probe", () => {
  test("AnnounceHost answered UNAVAILABLE: switch to #2, owner cooled", async () => {
    const r = await rig();
    onFirst(r.owner, "AnnounceHost", () => r.owner.unavailable());
    const run = await dfget(r, r.staticArgs);
    await assertSwitchedAfterProbe(run, r, "unavailable");
    assert.deepEqual(registrationCounts(r), [0, 1, 0], "no register at the owner after its AnnounceHost failed");
  });

  test("register answered UNAVAILABLE on the stream: switch to #2 under a fresh peer id", async () => {
    const r = await rig();
    onFirst(r.owner, "AnnouncePeer", () => r.owner.unavailable());
    const run = await dfget(r, r.staticArgs);
    await assertSwitchedAfterProbe(run, r, "unavailable");
    assert.deepEqual(registrationCounts(r), [1, 1, 0]);
    const [atOwner] = r.owner.registrations();
    const [atSecond] = r.second.registrations();
    assert.notEqual(atOwner!.peerId, atSecond!.peerId, "a fresh peer id per registration");
    assert.equal(atOwner!.hostId, atSecond!.hostId);
    const ends = r.owner.events.filter((e) => e.rpc === "AnnouncePeer.end").map((e) => (e.message as { code: number }).code);
    assert.deepEqual(ends, [status.UNAVAILABLE]);
  });

  test("register unanswered within scheduleTimeout (1s): switch to #2, owner cooled as timeout", async () => {
    const r = await rig("1s");
    onFirst(r.owner, "AnnouncePeer", () => r.owner.slow(30_000));
    const run = await dfget(r, r.staticArgs);
    await assertSwitchedAfterProbe(run, r, "timeout");
    assert.deepEqual(registrationCounts(r), [1, 1, 0]);
    const ownerMs = run.json!.scheduler.attempts[1]!.ms;
    // Given up at scheduleTimeout, not before; far from the 30 s the slow owner would take.
    assert.ok(ownerMs >= 900 && ownerMs < 15_000, `the owner was given up after ${ownerMs} ms`);
  });

  test("an application error from the owner does not switch", async () => {
    // The fake has no switch for application errors, so the owner is made to forget our
    // host: AnnounceHost succeeds, and the register is then answered NOT_FOUND "peer not
    // found" — what Go v2.5.1 answers when the host is unknown (wire reference §5.6).
    const r = await rig();
    const hosts = r.owner.hosts;
    Object.defineProperty(hosts, "set", { value: () => hosts });
    const run = await dfget(r, r.staticArgs);
    const json = await assertDownloaded(run, r);
    const ends = r.owner.events.filter((e) => e.rpc === "AnnouncePeer.end").map((e) => (e.message as { code: number }).code);
    assert.deepEqual(ends, [status.NOT_FOUND], "the owner ended the register NOT_FOUND");
    assert.deepEqual(attemptsOf(run), [[r.owner.addr, "ok"]], "no other scheduler tried");
    assert.equal(json.scheduler.used, r.owner.addr);
    assert.equal(json.backToSource, true, "the file came from the origin instead");
    assert.equal(r.second.connectionCount() + r.third.connectionCount(), 0);
    assert.equal((await readCooldownFile(r))?.schedulers[r.owner.addr], undefined, "an application error does not cool");
    assert.match(run.stderr, /not switching/);
    assertProtocolHygiene(r);
  });

  test(
    "owner refused before any registration counts as one switch in the summary",
    async () => {
      const r = await rig();
      await r.owner.refuse();
      const run = await dfget(r, r.staticArgs);
      const json = await assertDownloaded(run, r);
      assert.deepEqual(attemptsOf(run), [[r.owner.addr, "refused"], [r.second.addr, "ok"]]);
      assert.equal(json.scheduler.switches, 1);
    },
  );

  test(
    "a scheduler whose AnnounceHost failed is not reported as used when the file came from the origin",
    async () => {
      const r = await rig();
      onFirst(r.owner, "AnnounceHost", () => r.owner.unavailable());
      await r.second.refuse();
      await r.third.refuse();
      const run = await dfget(r, r.staticArgs);
      const json = await assertDownloaded(run, r);
      assert.deepEqual(attemptsOf(run), [[r.owner.addr, "ok"], [r.owner.addr, "unavailable"], [r.second.addr, "refused"], [r.third.addr, "refused"]]);
      assert.equal(json.backToSource, true);
      assert.deepEqual(registrationCounts(r), [0, 0, 0]);
      assert.equal(json.scheduler.used, null);
    },
  );
});
