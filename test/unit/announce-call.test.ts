// The conversation carried out over a fake AnnouncePeer stream with a fake timer: the
// stream gets the run's deadline, timers come from the injected Timer, the signal ends
// it, and back-to-source goes through the one origin loop with every piece reported.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type * as grpc from "@grpc/grpc-js";
import { runAnnounceCall, FINAL_ANSWER_WAIT_MS, type AnnounceCallOptions } from "../../src/engine/announce-call.js";
import { PieceLedger } from "../../src/engine/piece-ledger.js";
import type { OriginTransport } from "../../src/engine/parts.js";
import type { Download } from "../../src/gen/common/v2/common.js";
import type { AnnouncePeerRequest, AnnouncePeerResponse, SchedulerClient } from "../../src/gen/scheduler/v2/scheduler.js";
import { fakeTimer, settle, type FakeTimer } from "../support/fake-timer.js";

const RUN_DEADLINE = 1_900_000_000_000;
const SCHEDULE_TIMEOUT_MS = 2000;

/** What a grpc-js duplex stream does, as far as the call uses it. */
class FakeStream extends EventEmitter {
  readonly written: AnnouncePeerRequest[] = [];
  writableEnded = false;
  destroyed = false;
  cancelled = false;
  write(msg: AnnouncePeerRequest): boolean {
    this.written.push(msg);
    return true;
  }
  end(): void {
    this.writableEnded = true;
  }
  cancel(): void {
    this.cancelled = true;
  }
  answer(response: AnnouncePeerResponse["response"]): void {
    this.emit("data", { response });
  }
  cases(): Array<string | undefined> {
    return this.written.map((m) => m.request?.$case);
  }
}

function rig(opts: { pieces?: number; origin?: OriginTransport; signal?: AbortSignal } = {}) {
  const stream = new FakeStream();
  const calls: Array<{ metadata: grpc.Metadata; options: grpc.CallOptions }> = [];
  const client = {
    announcePeer(metadata: grpc.Metadata, options: grpc.CallOptions) {
      calls.push({ metadata, options });
      return stream;
    },
  } as unknown as SchedulerClient;
  const pieces = opts.pieces ?? 2;
  const written: Array<[number, number]> = [];
  const ledger = new PieceLedger(
    Array.from({ length: pieces }, (_, n) => ({ number: n, offset: n * 4, length: 4 })),
    { tempPath: "/nonexistent", writePiece: async (offset, data) => void written.push([offset, data.length]) },
  );
  const timer: FakeTimer = fakeTimer();
  const origin: OriginTransport = opts.origin ?? {
    head: () => Promise.reject(new Error("not used")),
    streamWhole: () => Promise.reject(new Error("not used")),
    getRangeInto: async (_url, offset, length, sink) => {
      await sink(Buffer.alloc(length, 7), offset);
    },
  };
  const options: AnnounceCallOptions = {
    client,
    addr: "10.0.0.1:8002",
    hostId: "host-1",
    taskId: "task-1",
    peerId: "peer-1",
    download: { url: "http://origin.test/f" } as Download,
    ledger,
    origin,
    vortex: () => Promise.reject(new Error("no parents here")),
    parentClients: { open: () => assert.fail("no parents here") },
    timer,
    deadline: RUN_DEADLINE,
    url: "http://origin.test/f",
    contentLength: pieces * 4,
    disableBackToSource: false,
    concurrency: 2,
    pieceTimeoutMs: 1000,
    scheduleTimeoutMs: SCHEDULE_TIMEOUT_MS,
    backlog: [],
    debug: () => undefined,
    signal: opts.signal ?? new AbortController().signal,
  };
  return { stream, calls, ledger, timer, options, written };
}

describe("runAnnounceCall", () => {
  test("the AnnouncePeer stream carries the run's deadline; RegisterPeer is the first message", async () => {
    const r = rig();
    const ended = runAnnounceCall(r.options);
    assert.equal(r.calls.length, 1);
    assert.equal(r.calls[0]!.options.deadline, RUN_DEADLINE);
    assert.deepEqual(r.stream.cases(), ["registerPeerRequest"]);
    assert.deepEqual(
      { hostId: r.stream.written[0]!.hostId, taskId: r.stream.written[0]!.taskId, peerId: r.stream.written[0]!.peerId },
      { hostId: "host-1", taskId: "task-1", peerId: "peer-1" },
    );
    r.stream.answer(undefined);
    await r.timer.advance(FINAL_ANSWER_WAIT_MS);
    assert.equal((await ended).kind, "gave-up");
  });

  test("no answer within scheduleTimeout (fake timer): broken by timeout, the stream cancelled", async () => {
    const r = rig();
    const ended = runAnnounceCall(r.options);
    await r.timer.advance(SCHEDULE_TIMEOUT_MS - 1);
    assert.equal(r.stream.cancelled, false);
    await r.timer.advance(1);
    assert.deepEqual(await ended, { kind: "broken", outcome: "timeout", detail: `no answer within ${SCHEDULE_TIMEOUT_MS} ms`, afterRegister: false });
    assert.equal(r.stream.cancelled, true);
    assert.equal(r.timer.pending(), 0);
  });

  test("the signal ends the call with its reason, and no timer is left", async () => {
    const controller = new AbortController();
    const r = rig({ signal: controller.signal });
    const ended = runAnnounceCall(r.options);
    const reason = new Error("SIGINT");
    controller.abort(reason);
    await assert.rejects(ended, (err) => err === reason);
    assert.equal(r.stream.cancelled, true);
    assert.equal(r.timer.pending(), 0);
  });

  test("NeedBackToSource: the origin loop fills the ledger, every piece reported, then finished and closed", async () => {
    const r = rig({ pieces: 3 });
    const ended = runAnnounceCall(r.options);
    r.stream.answer({ $case: "needBackToSourceResponse", value: { description: "no parents" } });
    while (!r.stream.writableEnded) await settle();
    assert.deepEqual(r.stream.cases(), [
      "registerPeerRequest",
      "downloadPeerBackToSourceStartedRequest",
      "downloadPieceBackToSourceFinishedRequest",
      "downloadPieceBackToSourceFinishedRequest",
      "downloadPieceBackToSourceFinishedRequest",
      "downloadPeerBackToSourceFinishedRequest",
    ]);
    assert.equal(r.ledger.counts().fromSource, 3);
    r.stream.emit("status", { code: 0 });
    assert.deepEqual(await ended, { kind: "finished", via: "origin", lost: undefined });
    assert.equal(r.timer.pending(), 0);
  });

  test("a stream that breaks during back-to-source loses the scheduler, not the download", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const r = rig({
      pieces: 1,
      origin: {
        head: () => Promise.reject(new Error("not used")),
        streamWhole: () => Promise.reject(new Error("not used")),
        getRangeInto: async (_url, offset, length, sink) => {
          await gate;
          await sink(Buffer.alloc(length), offset);
        },
      },
    });
    const ended = runAnnounceCall(r.options);
    r.stream.answer({ $case: "needBackToSourceResponse", value: { description: "" } });
    r.stream.emit("error", { code: 14, details: "reset", message: "reset" });
    release();
    const end = await ended;
    assert.deepEqual(end, { kind: "finished", via: "origin", lost: { outcome: "stream-broken", detail: "14 reset" } });
    assert.equal(r.ledger.complete, true);
    assert.deepEqual(r.options.backlog.map((p) => p.number), [0], "the piece waits for the next scheduler");
  });
});
