// A whole DownloadRun from injected fakes (no network): a scheduler that answers
// EmptyTask for a 9 MiB object is not believed — the run falls back to the origin and the
// bytes are right; with --disable-back-to-source the run ends 69 and no file appears.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { parseCommandLine } from "../../src/cli/options.js";
import type { RunParts } from "../../src/engine/parts.js";
import { PeerHost } from "../../src/engine/peer-host.js";
import { DownloadRun } from "../../src/engine/run.js";
import { exitCodeOf } from "../../src/errors.js";
import type { AnnouncePeerRequest, SchedulerClient } from "../../src/gen/scheduler/v2/scheduler.js";
import type { SchedulerSelector } from "../../src/switching/selector.js";
import { fakeClock } from "../support/fake-clock.js";
import { fakeTimer } from "../support/fake-timer.js";

const MiB = 1024 * 1024;
const SCHEDULER = "10.0.0.1:8002";
const CONTENT = Buffer.from(Array.from({ length: 9 * MiB }, (_, i) => (i * 7) % 251));

/** A scheduler stream that answers EmptyTask to the register and closes once we half-close. */
class EmptyTaskStream extends EventEmitter {
  readonly written: AnnouncePeerRequest[] = [];
  writableEnded = false;
  destroyed = false;
  write(msg: AnnouncePeerRequest): boolean {
    this.written.push(msg);
    if (msg.request?.$case === "registerPeerRequest") queueMicrotask(() => this.emit("data", { response: { $case: "emptyTaskResponse", value: {} } }));
    return true;
  }
  end(): void {
    this.writableEnded = true;
    queueMicrotask(() => this.emit("status", { code: 0 }));
  }
  cancel(): void {
    this.destroyed = true;
  }
}

async function partsFor(dir: string, extra: string[]): Promise<{ parts: RunParts; streams: EmptyTaskStream[]; ranges: number[] }> {
  const parsed = await parseCommandLine(["http://origin.test/big.bin", "-O", join(dir, "out.bin"), "--state-dir", join(dir, "state"), "--scheduler", SCHEDULER, ...extra], {}, { version: "0.0.0", cwd: dir });
  assert.equal(parsed.kind, "run");
  const config = parsed.kind === "run" ? parsed.config : assert.fail();
  const streams: EmptyTaskStream[] = [];
  const ranges: number[] = [];
  const client = {
    announceHost: (_r: unknown, _m: grpc.Metadata, _o: grpc.CallOptions, cb: (err: null) => void) => queueMicrotask(() => cb(null)),
    announcePeer: () => {
      const stream = new EmptyTaskStream();
      streams.push(stream);
      return stream;
    },
    deletePeer: (_r: unknown, _m: grpc.Metadata, _o: grpc.CallOptions, cb: () => void) => queueMicrotask(cb),
    deleteHost: (_r: unknown, _m: grpc.Metadata, _o: grpc.CallOptions, cb: () => void) => queueMicrotask(cb),
  } as unknown as SchedulerClient;
  const clients = { open: () => client, drop: () => undefined };
  const clock = fakeClock(1_800_000_000_000);
  let chosen = false;
  const selector = {
    attempts: [{ addr: SCHEDULER, outcome: "ok", ms: 1 }],
    next: async () => (chosen ? undefined : ((chosen = true), { addr: SCHEDULER, rank: 0 })),
    markFailed: async () => undefined,
    markSucceeded: async () => undefined,
    close: async () => undefined,
  } as unknown as SchedulerSelector;
  const parts: RunParts = {
    config,
    clock,
    timer: fakeTimer(),
    deadline: clock.now() + config.timeoutMs,
    schedulers: { resolve: async () => ({ source: "static", addrs: [SCHEDULER], resolved: {}, unresolved: [] }), refresh: async () => ({ source: "static", addrs: [SCHEDULER], resolved: {}, unresolved: [] }) },
    selectorFor: async () => selector,
    origin: {
      head: async (url) => ({ url, contentLength: CONTENT.length, acceptsRanges: true, status: 200, headers: {}, pin: {} }),
      getRangeInto: async (_url, offset, length, sink) => {
        ranges.push(offset);
        await sink(CONTENT.subarray(offset, offset + length), offset);
      },
      streamWhole: () => Promise.reject(new Error("not used")),
    },
    vortex: () => Promise.reject(new Error("no parents")),
    clients,
    parentClients: { open: () => assert.fail("no parents") },
    host: new PeerHost({
      identity: { hostId: "127.0.0.1-test", hostname: "test", ip: "127.0.0.1", idc: "", location: "", version: "0.0.0" },
      clients,
      clock,
      startUpload: async () => ({ grpcPort: 4000, tcpPort: 4001, serve: () => () => undefined, close: async () => undefined }),
    }),
  };
  return { parts, streams, ranges };
}

describe("DownloadRun", () => {
  test("EmptyTask for a 9 MiB object is a faulty answer: the origin gives the bytes, exit 0, the file is right", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dfget-run-"));
    try {
      const { parts, streams, ranges } = await partsFor(dir, []);
      const result = await new DownloadRun(parts).run(new AbortController().signal);
      assert.equal(result.error, undefined, String(result.error));
      assert.deepEqual(await readFile(join(dir, "out.bin")), CONTENT);
      assert.equal(result.backToSource, true);
      assert.deepEqual(result.pieces, { total: 3, fromParents: 0, fromSource: 3, reused: 0 });
      assert.equal(result.bytesWritten, CONTENT.length);
      assert.deepEqual(ranges.sort((a, b) => a - b), [0, 4 * MiB, 8 * MiB]);
      assert.deepEqual(streams[0]!.written.map((m) => m.request?.$case), ["registerPeerRequest", "downloadPeerFailedRequest"], "the scheduler is told, not thanked");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the same faulty answer with --disable-back-to-source: exit 69, no byte from the origin, no file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dfget-run-"));
    try {
      const { parts, ranges } = await partsFor(dir, ["--disable-back-to-source"]);
      const result = await new DownloadRun(parts).run(new AbortController().signal);
      assert.equal(exitCodeOf(result.error), 69, String(result.error));
      assert.deepEqual(ranges, []);
      assert.ok(!(await readdir(dir)).includes("out.bin"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
