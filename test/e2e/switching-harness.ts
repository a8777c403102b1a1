// Shared rig for the scheduler-switching e2e tests (switching*.test.ts): one fake cluster
// per scenario, the BUILT dfget run against it with a fixed connect timeout, and the
// checks every scenario repeats (file digest, where the registration landed, protocol
// hygiene on every fake scheduler). Not a test file itself: the runner only picks *.test.ts.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { COOLDOWN_FILE_NAME, type CooldownFile } from "../../src/switching/cooldown.js";
import { baseEnv, runDfget, workDir, type DfgetRun, type RunOptions } from "../support/cli.js";
import type { FakeCluster } from "../support/cluster.js";
import { startRingCluster } from "../support/ring-cluster.js";
import type { FakeScheduler } from "../support/scheduler.js";
import { sha256, sha256OfFile } from "../support/cli-e2e.js";
import { validateAnnounceHostRequest, validateAnnouncePeerRequest } from "../support/validate.js";
import type { AnnounceHostRequest, AnnouncePeerRequest } from "../../src/gen/scheduler/v2/scheduler.js";

/** > 4 MiB, so dfget takes the scheduler path instead of going straight to the origin. */
export const CONTENT = randomBytes(12 * 1024 * 1024);
export const CONTENT_SHA256 = sha256(CONTENT);
/**
 * --connect-timeout for every run: a probe (dial + HTTP/2 + Health/Check) of a HEALTHY fake
 * must finish within it, or dfget rightly calls it "timeout" and moves on. A cold grpc-js in
 * a fresh dfget on a loaded 2-core machine has taken over 300 ms for that (7621b39), so
 * 500 ms was a race; 2 s is the product's default. Only the blackhole cases wait it out.
 */
export const CONNECT_TIMEOUT_MS = 2000;
const FILE_PATH = "/switching.bin";

/** Every rig started in this process, so the hygiene test can look at all of them. */
export const allRigs: Rig[] = [];

export interface Rig {
  cluster: FakeCluster;
  url: string;
  taskId: string;
  /** Schedulers in the exact order dfget tries them (ring owner first), from hard-coded vectors. */
  order: FakeScheduler[];
  /** The one port the schedulers (127.0.0.2, .3, …) listen on. */
  port: number;
  /** Arguments fixing the task id (--content-for-calculating-task-id). */
  taskArgs: string[];
  owner: FakeScheduler;
  second: FakeScheduler;
  third: FakeScheduler;
  /** Temp dir: `out` for -O, `state` for --state-dir, `config` for --config. */
  work: Awaited<ReturnType<typeof workDir>> & { config: string };
  /** `--scheduler A --scheduler B ...` for the static list. */
  staticArgs: string[];
  stop(): Promise<void>;
}

export interface RigOptions {
  /** scheduler.scheduleTimeout in the config file; 3s unless a test waits it out. */
  scheduleTimeout?: string;
}

export async function startRig(schedulers = 3, options: RigOptions = {}): Promise<Rig> {
  const { cluster, order, port, taskId, taskArgs } = await startRingCluster(schedulers, { origin: { files: { [FILE_PATH]: CONTENT } } });
  const work = { ...(await workDir()), config: "" };
  work.config = join(work.dir, "dfget.yaml");
  await writeFile(
    work.config,
    ["host:", "  ip: 127.0.0.1", "  hostname: dfget-test", "scheduler:", `  scheduleTimeout: ${options.scheduleTimeout ?? "3s"}`, ""].join("\n"),
  );
  const url = cluster.origin!.url(FILE_PATH);
  const rig: Rig = {
    cluster,
    url,
    taskId,
    order,
    port,
    taskArgs,
    owner: order[0]!,
    second: order[1]!,
    third: order[2]!,
    work,
    staticArgs: cluster.schedulerAddrs().flatMap((addr) => ["--scheduler", addr]),
    stop: async () => {
      await cluster.stop();
      await work.remove();
    },
  };
  allRigs.push(rig);
  return rig;
}

/**
 * Runs dfget for the rig's file with the common flags plus `extra` (cluster flags included).
 * Probes go one at a time (--hedge-delay 0) unless `extra` sets a hedge delay or `hedge`
 * is "default": the order-focused scenarios must not depend on how fast a loaded machine
 * answers a probe; the hedging scenarios opt in.
 */
export function dfget(rig: Rig, extra: string[], opts: RunOptions = {}, hedge: "serial" | "default" = "serial"): Promise<DfgetRun> {
  const w = rig.work;
  const serial = hedge === "serial" && !extra.includes("--hedge-delay") ? ["--hedge-delay", "0"] : [];
  const connect = extra.includes("--connect-timeout") ? [] : ["--connect-timeout", `${CONNECT_TIMEOUT_MS}ms`];
  const args = [
    rig.url, "-O", w.out, "--overwrite", "--config", w.config, "--state-dir", w.state,
    ...connect, "--json", ...rig.taskArgs, ...serial, ...extra,
  ];
  return runDfget(args, { env: baseEnv(), timeoutMs: 20_000, ...opts });
}

/** `--dry-run --json` plan: task id and candidate order with cooling state. */
export interface DryRunPlan {
  taskId: string;
  schedulers: Array<{ addr: string; cooling: boolean; coolingUntil: string | null }>;
  resolved: Record<string, string[]>;
}

export async function dryRun(rig: Rig, extra: string[], opts: RunOptions = {}): Promise<DryRunPlan> {
  const w = rig.work;
  const run = await runDfget(
    [rig.url, "--dry-run", "--json", "--config", w.config, "--state-dir", w.state, "--connect-timeout", `${CONNECT_TIMEOUT_MS}ms`, ...rig.taskArgs, ...extra],
    { env: baseEnv(), timeoutMs: 20_000, ...opts },
  );
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout.trim()) as DryRunPlan;
}

/** Exit 0, the right bytes at -O, and a summary that agrees. */
export async function assertDownloaded(run: DfgetRun, rig: Rig): Promise<NonNullable<DfgetRun["json"]>> {
  assert.equal(run.code, 0, `exit code; stderr:\n${run.stderr}`);
  assert.ok(run.json, `no JSON summary on stdout:\n${run.stdout}`);
  assert.equal(run.json.ok, true);
  assert.equal(run.json.taskId, rig.taskId, "task id of the run = the one the test put on the ring");
  assert.equal(run.json.bytesWritten, CONTENT.length);
  assert.equal(await sha256OfFile(rig.work.out), CONTENT_SHA256);
  return run.json;
}

/** The outcome list of the summary as [addr, outcome] pairs, for deepEqual. */
export function attemptsOf(run: DfgetRun): Array<[string, string]> {
  return (run.json?.scheduler.attempts ?? []).map((a) => [a.addr, a.outcome]);
}

export function registrationCounts(rig: Rig): number[] {
  return rig.order.map((s) => s.registrations().length);
}

export async function readCooldownFile(rig: Rig): Promise<CooldownFile | undefined> {
  try {
    return JSON.parse(await readFile(join(rig.work.state, COOLDOWN_FILE_NAME), "utf8")) as CooldownFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export async function writeCooldownFile(rig: Rig, file: CooldownFile): Promise<void> {
  await mkdir(rig.work.state, { recursive: true });
  await writeFile(join(rig.work.state, COOLDOWN_FILE_NAME), JSON.stringify(file));
}

/**
 * What every fake scheduler saw was a valid conversation: no stream ended INVALID_ARGUMENT
 * (the fake validates every message as the Go scheduler does), AnnounceHost came before
 * the first AnnouncePeer, and a scheduler that was never announced to got no DeleteHost or
 * DeletePeer.
 */
export function assertProtocolHygiene(rig: Rig): void {
  for (const s of rig.cluster.schedulers) {
    const invalid = s.events.filter((e) => e.rpc === "AnnouncePeer.end" && (e.message as { code: number }).code === status.INVALID_ARGUMENT);
    assert.deepEqual(invalid.map((e) => e.message), [], `${s.name}: a stream ended INVALID_ARGUMENT`);
    for (const e of s.events) {
      if (e.rpc === "AnnounceHost") assert.equal(validateAnnounceHostRequest(e.message as AnnounceHostRequest), undefined, `${s.name}: AnnounceHost`);
      if (e.rpc === "AnnouncePeer") assert.equal(validateAnnouncePeerRequest(e.message as AnnouncePeerRequest), undefined, `${s.name}: AnnouncePeer`);
    }
    const rpcs = s.events.map((e) => e.rpc);
    const firstHost = rpcs.indexOf("AnnounceHost");
    const firstPeer = rpcs.indexOf("AnnouncePeer");
    if (firstPeer !== -1) assert.ok(firstHost !== -1 && firstHost < firstPeer, `${s.name}: AnnouncePeer before AnnounceHost: ${rpcs.join(" ")}`);
    if (firstHost === -1) {
      assert.equal(rpcs.includes("DeleteHost"), false, `${s.name}: DeleteHost without AnnounceHost`);
      assert.equal(rpcs.includes("DeletePeer"), false, `${s.name}: DeletePeer without a registration`);
    }
  }
}

/**
 * The run that registered `peerId` at `scheduler` left it cleanly: after the peer's last
 * stream message came DeletePeer for that peer and then DeleteHost for our host.
 */
export function assertLeft(scheduler: FakeScheduler, peerId: string): void {
  const events = scheduler.events;
  const lastStream = events.findLastIndex((e) => e.rpc === "AnnouncePeer" && e.peerId === peerId);
  assert.ok(lastStream !== -1, `${scheduler.name}: no stream message from ${peerId}`);
  const deletePeer = events.findIndex((e, i) => i > lastStream && e.rpc === "DeletePeer" && e.peerId === peerId);
  assert.ok(deletePeer !== -1, `${scheduler.name}: no DeletePeer for ${peerId}: ${events.map((e) => e.rpc).join(" ")}`);
  const hostId = (scheduler.registrations().find((r) => r.peerId === peerId))?.hostId;
  const deleteHost = events.findIndex(
    (e, i) => i > deletePeer && e.rpc === "DeleteHost" && (e.message as { hostId: string }).hostId === hostId,
  );
  assert.ok(deleteHost !== -1, `${scheduler.name}: no DeleteHost after DeletePeer: ${events.map((e) => e.rpc).join(" ")}`);
}

/** The one registration at `scheduler` made by `run` (its peerId is the summary's). */
export function assertRegisteredBy(scheduler: FakeScheduler, run: DfgetRun, rig: Rig): void {
  const peerId = run.json?.peerId;
  assert.ok(peerId, "summary has a peerId");
  const mine = scheduler.registrations().filter((r) => r.peerId === peerId);
  assert.equal(mine.length, 1, `${scheduler.name} has the registration of ${peerId}`);
  assert.equal(mine[0]!.taskId, rig.taskId);
  // The scheduler handled every message, the final one included, before we left.
  const ends = scheduler.events.filter((e) => e.rpc === "AnnouncePeer.end" && e.peerId === peerId).map((e) => e.message);
  assert.deepEqual(ends, [{ code: status.OK, details: "OK" }], `${scheduler.name}: how the stream of ${peerId} ended`);
  assertLeft(scheduler, peerId);
}

/**
 * Runs `action` right after `scheduler` records its first `rpc` event, i.e. after the
 * request arrived and before the fake decides its answer: a fault switched on here
 * hits exactly that request and everything after it.
 */
export function onFirst(scheduler: FakeScheduler, rpc: string, action: () => void): void {
  const events = scheduler.events;
  const push = events.push.bind(events);
  let fired = false;
  events.push = (...items) => {
    const length = push(...items);
    if (!fired && items.some((e) => e.rpc === rpc)) {
      fired = true;
      action();
    }
    return length;
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
