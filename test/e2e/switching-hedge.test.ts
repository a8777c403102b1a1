// End-to-end: hedged probes, scheduler names and RESOURCE_EXHAUSTED against the fake
// cluster, with the BUILT dfget (`npm run build` first). Schedulers sit on 127.0.0.2… on
// one port, so the expected order comes from hard-coded ring vectors. Assertions are on
// order and outcomes (what the fakes recorded, the JSON summary, stderr), never on how
// long anything took; the timings are in bench/figures/failover.ts.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { baseEnv } from "../support/cli.js";
import { waitFor } from "../support/wait.js";
import { ringHost } from "../support/ring-cluster.js";
import {
  assertDownloaded,
  assertProtocolHygiene,
  assertRegisteredBy,
  attemptsOf,
  dfget,
  dryRun,
  readCooldownFile,
  startRig,
  type Rig,
} from "./switching-harness.js";

/**
 * Default hedge delay (300 ms), with the default connect timeout (2 s), written out even
 * where the harness's is the same: a dead owner's probe must still be open when the next
 * one wins.
 */
const HEDGED = ["--connect-timeout", "2s"];

const rigs: Rig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

async function rig(schedulers = 2): Promise<Rig> {
  const r = await startRig(schedulers);
  rigs.push(r);
  return r;
}

function healthChecks(r: Rig, index: number): number {
  return r.order[index]!.calls("Health/Check").length;
}

/** stderr lines without the progress lines. */
function notices(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.startsWith("dfget: ") && !/^dfget: \d+%/.test(line));
}

describe("hedged probes", () => {
  test("owner blackholed, default flags: the next probe starts while the owner is unanswered; the owner is hedged, then cooling", async () => {
    const r = await rig();
    const [owner, next] = r.order as [Rig["owner"], Rig["owner"]];
    owner.blackhole();
    const run = await dfget(r, [...r.staticArgs, ...HEDGED], {}, "default");
    const json = await assertDownloaded(run, r);
    assertRegisteredBy(next, run, r);
    assert.equal(json.scheduler.used, next.addr);
    assert.ok(owner.connectionCount() >= 1, "the owner was dialled");
    // Chosen while the owner's probe was still open: the owner's attempt is recorded after.
    assert.deepEqual(attemptsOf(run), [[next.addr, "ok"], [owner.addr, "hedged"]]);
    assert.equal(json.scheduler.switches, 1);
    assert.ok(notices(run.stderr).includes(`dfget: scheduler ${owner.addr} not answering after 300ms, trying ${next.addr} too`), run.stderr);
    assert.equal((await readCooldownFile(r))?.schedulers[owner.addr]?.lastOutcome, "hedged");

    const dialled = owner.connectionCount();
    const again = await dfget(r, [...r.staticArgs, ...HEDGED], {}, "default");
    await assertDownloaded(again, r);
    assert.equal(owner.connectionCount(), dialled, "a cooling owner is not dialled");
    assert.deepEqual(attemptsOf(again), [[owner.addr, "cooling"], [next.addr, "ok"]]);
    assertProtocolHygiene(r);
  });

  test("--hedge-delay 0: the next probe starts only after the owner's failed", async () => {
    const r = await rig();
    const [owner, next] = r.order as [Rig["owner"], Rig["owner"]];
    owner.blackhole();
    const run = await dfget(r, [...r.staticArgs, "--hedge-delay", "0"]);
    await assertDownloaded(run, r);
    assertRegisteredBy(next, run, r);
    assert.deepEqual(attemptsOf(run), [[owner.addr, "timeout"], [next.addr, "ok"]]);
    assert.ok(notices(run.stderr).includes(`dfget: scheduler ${owner.addr} not answering (connect timeout) → ${next.addr}`), run.stderr);
    assert.equal(notices(run.stderr).some((line) => line.includes("trying")), false);
  });

  test("two blackholed: the third registers, both dead ones hedged", async () => {
    const r = await rig(3);
    const [owner, second, third] = r.order as [Rig["owner"], Rig["owner"], Rig["owner"]];
    owner.blackhole();
    second.blackhole();
    const run = await dfget(r, [...r.staticArgs, ...HEDGED], {}, "default");
    const json = await assertDownloaded(run, r);
    assertRegisteredBy(third, run, r);
    assert.deepEqual(attemptsOf(run), [[third.addr, "ok"], [owner.addr, "hedged"], [second.addr, "hedged"]]);
    assert.equal(json.scheduler.switches, 2);
    assert.deepEqual(notices(run.stderr).filter((line) => line.includes("trying")), [
      `dfget: scheduler ${owner.addr} not answering after 300ms, trying ${second.addr} too`,
      `dfget: scheduler ${second.addr} not answering after 300ms, trying ${third.addr} too`,
    ]);
  });

  test("owner answers SERVING late while the next answers at once: the next wins, the owner is not cooled", async () => {
    const r = await rig();
    const [owner, next] = r.order as [Rig["owner"], Rig["owner"]];
    const releaseOwner = owner.holdHealth();
    const releaseNext = next.holdStreams();
    const running = dfget(r, [...r.staticArgs, ...HEDGED], {}, "default");
    // The next registered (its stream is held, so the run is still going); only then
    // does the owner answer its probe: SERVING, late.
    await waitFor("the next scheduler to get the registration", () => next.registrations().length === 1);
    assert.equal(healthChecks(r, 0), 1);
    releaseOwner();
    releaseNext();
    const run = await running;
    await assertDownloaded(run, r);
    assertRegisteredBy(next, run, r);
    assert.deepEqual(owner.registrations(), []);
    assert.deepEqual(attemptsOf(run), [[next.addr, "ok"], [owner.addr, "ok"]]);
    assert.equal((await readCooldownFile(r))?.schedulers[owner.addr], undefined, "a slow but alive owner is not cooled");
  });
});

describe("RESOURCE_EXHAUSTED", () => {
  test("the owner is overloaded: dfget switches to the next without cooling the owner", async () => {
    const r = await rig();
    const [owner, next] = r.order as [Rig["owner"], Rig["owner"]];
    owner.resourceExhausted();
    const run = await dfget(r, r.staticArgs);
    const json = await assertDownloaded(run, r);
    assertRegisteredBy(next, run, r);
    assert.deepEqual(attemptsOf(run), [[owner.addr, "ok"], [owner.addr, "resource-exhausted"], [next.addr, "ok"]]);
    assert.equal(json.scheduler.switches, 1);
    assert.equal((await readCooldownFile(r))?.schedulers[owner.addr], undefined, "overloaded is not broken");
    assert.ok(notices(run.stderr).includes(`dfget: scheduler ${owner.addr} overloaded (RESOURCE_EXHAUSTED) → ${next.addr}`), run.stderr);
  });
});

describe("scheduler names", () => {
  test("a name with three addresses: each is a ring node, the ring owner of the set registers", async () => {
    const r = await rig(3);
    const name = `sched.test:${r.port}`;
    const env = baseEnv({ DFGET_TEST_HOSTS: JSON.stringify({ "sched.test": [ringHost(0), ringHost(1), ringHost(2)] }) });
    const plan = await dryRun(r, ["--scheduler", name], { env });
    assert.deepEqual(plan.resolved, { [name]: [0, 1, 2].map((i) => `${ringHost(i)}:${r.port}`) });
    assert.deepEqual(plan.schedulers.map((s) => s.addr), r.order.map((s) => s.addr));

    const run = await dfget(r, ["--scheduler", name], { env });
    await assertDownloaded(run, r);
    assertRegisteredBy(r.owner, run, r);
    assert.deepEqual(attemptsOf(run), [[r.owner.addr, "ok"]]);
  });

  test("an unresolvable name: one line, attempt `unresolved`, the listed addresses still work", async () => {
    const r = await rig();
    const env = baseEnv({ DFGET_TEST_HOSTS: "{}" });
    const name = `nope.test:${r.port}`;
    const run = await dfget(r, ["--scheduler", name, ...r.staticArgs], { env });
    await assertDownloaded(run, r);
    assertRegisteredBy(r.owner, run, r);
    assert.deepEqual(attemptsOf(run), [[name, "unresolved"], [r.owner.addr, "ok"]]);
    assert.ok(notices(run.stderr).includes(`dfget: scheduler ${name} does not resolve (ENOTFOUND); skipped`), run.stderr);
    assert.equal(await readCooldownFile(r), undefined, "an unresolved name does not cool");
  });

  test("only unresolvable names: the origin, with the reason, never 'no Dragonfly cluster configured'", async () => {
    const r = await rig();
    const env = baseEnv({ DFGET_TEST_HOSTS: "{}" });
    const name = `nope.test:${r.port}`;
    const run = await dfget(r, ["--scheduler", name], { env });
    const json = await assertDownloaded(run, r);
    const line = `scheduler ${name} does not resolve (ENOTFOUND): downloading directly from the origin`;
    assert.deepEqual(notices(run.stderr), [`dfget: ${line}`]);
    assert.equal(json.cluster.warning, line);
    assert.deepEqual(attemptsOf(run), [[name, "unresolved"]]);
    assert.equal(run.stderr.includes("no Dragonfly cluster configured"), false);
  });

  test("--dry-run --json has `resolved` even without names", async () => {
    const r = await rig();
    const plan = await dryRun(r, r.staticArgs);
    assert.deepEqual(plan.resolved, {});
  });
});
