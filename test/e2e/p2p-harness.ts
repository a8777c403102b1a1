// Shared rig for the P2P and mid-download-switch e2e tests (p2p.test.ts, midswitch.test.ts):
// a fake cluster with an origin, seed parents the schedulers hand out, the BUILT dfget run
// against it, and the checks every scenario repeats (file, summary, wire hygiene).
// Not a test file itself: the runner only picks *.test.ts.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { status } from "@grpc/grpc-js";
import { TrafficType } from "../../src/gen/common/v2/common.js";
import type { AnnouncePeerRequest } from "../../src/gen/scheduler/v2/scheduler.js";
import { DEFAULT_FILTERED_QUERY_PARAMS, taskIdOf } from "../../src/task/task-id.js";
import { baseEnv, runDfget, workDir, type DfgetRun, type RunOptions } from "../support/cli.js";
import { startCluster, type FakeCluster } from "../support/cluster.js";
import { startRingCluster } from "../support/ring-cluster.js";
import { startSeedParent, type FakeParent } from "../support/parent.js";
import type { FakeScheduler } from "../support/scheduler.js";
import { validateAnnouncePeerRequest } from "../support/validate.js";

export const MiB = 1024 * 1024;
/** dfget's piece length for every file below 2 GB. */
export const PIECE_LENGTH = 4 * MiB;

export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

export interface RigOptions {
  content: Buffer;
  schedulers?: number;
  /** Config durations. scheduleTimeout defaults to 2s; pieceTimeout to 10s, so that a
   *  4 MiB piece from a parent on a loaded 2-core machine is slow, not failed. */
  scheduleTimeout?: string;
  pieceTimeout?: string;
}

export interface P2PRig {
  content: Buffer;
  cluster: FakeCluster;
  url: string;
  taskId: string;
  pieceCount: number;
  /**
   * Schedulers in the order dfget tries them (ring owner first): with several, they sit on
   * 127.0.0.2… on one port and the order comes from hard-coded ring vectors.
   */
  order: FakeScheduler[];
  parents: FakeParent[];
  work: Awaited<ReturnType<typeof workDir>> & { config: string };
  /** Starts a seed parent for this task and makes every scheduler offer it; `content`: its own version of the object (default the origin's). */
  addParent(pieces?: "all" | number[], content?: Buffer): Promise<FakeParent>;
  /** `output`: what -O gets (default work.out; "-" for stdout). */
  run(extra?: string[], opts?: RunOptions, output?: string): Promise<DfgetRun & { stdoutBuffer: Buffer }>;
  stop(): Promise<void>;
}

export async function startRig(opts: RigOptions): Promise<P2PRig> {
  const path = "/p2p.bin";
  const schedulerCount = opts.schedulers ?? 1;
  const origin = { files: { [path]: opts.content } };
  const ring = schedulerCount > 1 ? await startRingCluster(schedulerCount, { origin }) : undefined;
  const cluster = ring?.cluster ?? (await startCluster({ schedulers: 1, origin }));
  const work = { ...(await workDir()), config: "" };
  work.config = join(work.dir, "dfget.yaml");
  await writeFile(
    work.config,
    [
      "host:",
      '  ip: "127.0.0.1"',
      '  hostname: "dfget-e2e"',
      "scheduler:",
      `  scheduleTimeout: ${opts.scheduleTimeout ?? "2s"}`,
      "download:",
      `  pieceTimeout: ${opts.pieceTimeout ?? "10s"}`,
      "",
    ].join("\n"),
  );
  const url = cluster.origin!.url(path);
  // One scheduler: the URL-based task id (the p2p tests check it); several: the vectors' id.
  const taskId = ring?.taskId ?? taskIdOf({ url: new URL(url).href, tag: "", application: "", filteredQueryParams: DEFAULT_FILTERED_QUERY_PARAMS });
  const order = ring?.order ?? cluster.schedulers;
  // Probes one at a time: which scheduler registers must not depend on a loaded machine's speed.
  const ringArgs = ring ? [...ring.taskArgs, "--hedge-delay", "0"] : [];
  const parents: FakeParent[] = [];
  return {
    content: opts.content,
    cluster,
    url,
    taskId,
    pieceCount: Math.ceil(opts.content.length / PIECE_LENGTH),
    order,
    parents,
    work,
    async addParent(pieces = "all", content = opts.content) {
      const parent = await startSeedParent({ content, taskId, pieceLength: PIECE_LENGTH, pieces });
      parents.push(parent);
      cluster.seedParents.push(parent);
      return parent;
    },
    run(extra = [], runOpts = {}, output = work.out) {
      // connect-timeout 3s: no scenario here dials a dead address, so it only has to be
      // long enough for a healthy fake on a loaded machine.
      const args = [
        url, "-O", output, "--config", work.config, "--state-dir", work.state, "--json", "--connect-timeout", "3s",
        ...cluster.schedulerAddrs().flatMap((addr) => ["--scheduler", addr]),
        ...ringArgs,
        ...extra,
      ];
      return runDfget(args, { env: baseEnv(), timeoutMs: 40_000, ...runOpts });
    },
    async stop() {
      await Promise.all(parents.map((p) => p.kill()));
      await cluster.stop();
      await work.remove();
    },
  };
}

/** Exit 0, the output equals the content, and the summary agrees. */
export async function assertDownloaded(rig: P2PRig, run: DfgetRun): Promise<void> {
  const why = `stderr:\n${run.stderr}`;
  assert.equal(run.code, 0, why);
  const written = await readFile(rig.work.out);
  assert.equal(sha256(written), sha256(rig.content), "output differs from the content");
  const json = run.json;
  assert.ok(json, `no JSON summary; stdout: ${run.stdout}`);
  assert.equal(json.ok, true);
  assert.equal(json.exitCode, 0);
  assert.equal(json.error, null);
  assert.equal(json.taskId, rig.taskId);
  assert.equal(json.contentLength, rig.content.length);
  assert.equal(json.bytesWritten, rig.content.length);
  assert.equal(json.pieces.total, rig.pieceCount);
  assert.equal(json.pieces.fromParents + json.pieces.fromSource + json.pieces.reused, rig.pieceCount);
}

type Member = NonNullable<AnnouncePeerRequest["request"]>;
export type MemberCase = Member["$case"];

/** Every stream message one scheduler received, with the member's case. */
export function streamCases(scheduler: FakeScheduler, peerId: string): MemberCase[] {
  return scheduler.streamMessages(peerId).map((m) => m.request!.$case);
}

/** The piece numbers reported finished (from parents or the origin) on one stream. */
export function reportedPieces(scheduler: FakeScheduler, peerId: string): number[] {
  const numbers: number[] = [];
  for (const m of scheduler.streamMessages(peerId)) {
    const r = m.request;
    if (r?.$case === "downloadPieceFinishedRequest" || r?.$case === "downloadPieceBackToSourceFinishedRequest") {
      numbers.push(r.value.piece!.number);
    }
  }
  return numbers;
}

/**
 * What the Go scheduler would have accepted: no stream ended InvalidArgument, every
 * message passes the PGV rules again, registrations carry the plan, and every piece
 * report matches the plan, the true bytes and where the bytes came from.
 */
export function assertWireHygiene(rig: P2PRig): void {
  const parentIds = new Set(rig.parents.map((p) => p.peerId));
  for (const scheduler of rig.cluster.schedulers) {
    for (const event of scheduler.events) {
      if (event.rpc !== "AnnouncePeer.end") continue;
      const { code, details } = event.message as { code: number; details: string };
      assert.notEqual(code, status.INVALID_ARGUMENT, `${scheduler.name} rejected a message: ${details}`);
    }
    for (const event of scheduler.events) {
      if (event.rpc !== "AnnouncePeer") continue;
      const request = event.message as AnnouncePeerRequest;
      assert.equal(validateAnnouncePeerRequest(request), undefined, `${scheduler.name}: ${request.request?.$case}`);
      assert.equal(request.taskId, rig.taskId);
      const member = request.request!;
      if (member.$case === "registerPeerRequest") {
        const d = member.value.download!;
        assert.equal(d.actualContentLength, BigInt(rig.content.length), "actualContentLength");
        assert.equal(d.actualPieceLength, BigInt(PIECE_LENGTH), "actualPieceLength");
        assert.equal(d.actualPieceCount, BigInt(rig.pieceCount), "actualPieceCount");
      }
      if (member.$case === "downloadPieceFinishedRequest" || member.$case === "downloadPieceBackToSourceFinishedRequest") {
        const piece = member.value.piece!;
        const offset = piece.number * PIECE_LENGTH;
        const length = Math.min(PIECE_LENGTH, rig.content.length - offset);
        assert.ok(piece.cost, "piece cost");
        assert.ok(piece.createdAt instanceof Date, "piece createdAt");
        assert.equal(piece.offset, BigInt(offset), `piece ${piece.number} offset`);
        assert.equal(piece.length, BigInt(length), `piece ${piece.number} length`);
        assert.equal(piece.digest, `crc32:${crc32(rig.content.subarray(offset, offset + length))}`, `piece ${piece.number} digest`);
        if (member.$case === "downloadPieceFinishedRequest") {
          assert.ok(parentIds.has(piece.parentId ?? ""), `piece ${piece.number} parentId ${piece.parentId}`);
          assert.equal(piece.trafficType, TrafficType.REMOTE_PEER);
        } else {
          assert.equal(piece.parentId, undefined);
          assert.equal(piece.trafficType, TrafficType.BACK_TO_SOURCE);
        }
      }
      if (member.$case === "downloadPieceFailedRequest") {
        assert.ok(parentIds.has(member.value.parentId), `failed parentId ${member.value.parentId}`);
      }
    }
  }
}

/** Schedulers that saw a registration, and the registrations in order. */
export function registrationsAt(scheduler: FakeScheduler): string[] {
  return scheduler.registrations().map((r) => r.peerId);
}

type SchedulerEvent = FakeScheduler["events"][number];

/**
 * Runs `action` each time `scheduler` records an event matching `what` (an rpc name or a
 * predicate), before the fake answers it: a test reacts to what dfget did instead of
 * guessing when it happens.
 */
export function onEachEvent(scheduler: FakeScheduler, what: string | ((event: SchedulerEvent) => boolean), action: () => void): void {
  const matches = typeof what === "string" ? (event: SchedulerEvent) => event.rpc === what : what;
  const events = scheduler.events;
  const push = events.push.bind(events);
  events.push = (...items) => {
    const length = push(...items);
    for (const item of items) if (matches(item)) action();
    return length;
  };
}

/** onEachEvent for the first matching event only. */
export function onFirstEvent(scheduler: FakeScheduler, what: string | ((event: SchedulerEvent) => boolean), action: () => void): void {
  let fired = false;
  onEachEvent(scheduler, what, () => {
    if (fired) return;
    fired = true;
    action();
  });
}

/** Piece numbers served more than once (whole pieces). */
export function duplicates(numbers: number[]): number[] {
  const seen = new Set<number>();
  const twice: number[] = [];
  for (const n of numbers) {
    if (seen.has(n)) twice.push(n);
    seen.add(n);
  }
  return twice;
}
