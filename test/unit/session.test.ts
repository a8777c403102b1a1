// The session over fake schedulers: AnnounceHost once per scheduler through the PeerHost,
// a fresh peer id per registration, the selector told what happened, a broken scheduler
// left out of DeletePeer/DeleteHost, and an application error that does not switch.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { PeerHost } from "../../src/engine/peer-host.js";
import { PieceLedger } from "../../src/engine/piece-ledger.js";
import { P2PSession } from "../../src/engine/session.js";
import type { Download } from "../../src/gen/common/v2/common.js";
import type { AnnouncePeerRequest, AnnouncePeerResponse, SchedulerClient } from "../../src/gen/scheduler/v2/scheduler.js";
import type { AttemptOutcome } from "../../src/switching/outcomes.js";
import type { SchedulerSelector } from "../../src/switching/selector.js";
import { fakeClock } from "../support/fake-clock.js";
import { fakeTimer } from "../support/fake-timer.js";

const RUN_DEADLINE = 1_900_000_000_000;

class FakeStream extends EventEmitter {
  readonly written: AnnouncePeerRequest[] = [];
  writableEnded = false;
  destroyed = false;
  write(msg: AnnouncePeerRequest): boolean {
    this.written.push(msg);
    if (msg.request?.$case === "registerPeerRequest") queueMicrotask(() => this.script(this));
    if (msg.request?.$case === "downloadPeerBackToSourceFinishedRequest") queueMicrotask(() => this.emit("status", { code: 0 }));
    return true;
  }
  end(): void {
    this.writableEnded = true;
  }
  cancel(): void {
    this.destroyed = true;
  }
  constructor(private readonly script: (s: FakeStream) => void) {
    super();
  }
}

type Behaviour = { announceHost?: number; answer: (s: FakeStream) => void };

/** Fake schedulers by address: what AnnounceHost answers, what the stream does; every call recorded. */
function fakeCluster(behaviours: Record<string, Behaviour>) {
  const calls: Array<[string, string, unknown]> = [];
  const streams: Array<{ addr: string; stream: FakeStream; deadline: unknown }> = [];
  const open = (addr: string): SchedulerClient =>
    ({
      announceHost(req: unknown, _md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null) => void) {
        calls.push([addr, "AnnounceHost", opts.deadline]);
        const code = behaviours[addr]!.announceHost;
        queueMicrotask(() => cb(code === undefined ? null : (Object.assign(new Error("refused"), { code, details: "refused" }) as grpc.ServiceError)));
      },
      announcePeer(_md: grpc.Metadata, opts: grpc.CallOptions) {
        const stream = new FakeStream(behaviours[addr]!.answer);
        streams.push({ addr, stream, deadline: opts.deadline });
        calls.push([addr, "AnnouncePeer", opts.deadline]);
        return stream;
      },
      deletePeer(req: { peerId: string }, _md: grpc.Metadata, _opts: grpc.CallOptions, cb: () => void) {
        calls.push([addr, "DeletePeer", req.peerId]);
        queueMicrotask(cb);
      },
      deleteHost(_req: unknown, _md: grpc.Metadata, _opts: grpc.CallOptions, cb: () => void) {
        calls.push([addr, "DeleteHost", undefined]);
        queueMicrotask(cb);
      },
    }) as unknown as SchedulerClient;
  return { calls, streams, clients: { open, drop: (addr: string) => void calls.push([addr, "drop", undefined]) } };
}

/** A selector that hands out the given order and records what it is told. */
function fakeSelector(order: string[]) {
  const told: Array<[string, string]> = [];
  let i = 0;
  const selector = {
    attempts: [],
    next: async () => (i < order.length ? { addr: order[i++]!, rank: i - 1 } : undefined),
    markFailed: async (addr: string, outcome: AttemptOutcome) => void told.push([addr, outcome]),
    markSucceeded: async (addr: string) => void told.push([addr, "ok"]),
  };
  return { told, selector: selector as unknown as SchedulerSelector };
}

function session(order: string[], behaviours: Record<string, Behaviour>) {
  const cluster = fakeCluster(behaviours);
  const { told, selector } = fakeSelector(order);
  const clock = fakeClock(1_800_000_000_000);
  const host = new PeerHost({
    identity: { hostId: "127.0.0.1-test", hostname: "test", ip: "127.0.0.1", idc: "", location: "", version: "0.0.0" },
    clients: cluster.clients,
    clock,
    startUpload: async () => ({ grpcPort: 4000, tcpPort: 4001, serve: () => () => undefined, close: async () => undefined }),
  });
  const ledger = new PieceLedger([{ number: 0, offset: 0, length: 4 }], { tempPath: "/nonexistent", writePiece: async () => undefined });
  const s = new P2PSession({
    selector,
    clients: cluster.clients,
    host,
    vortex: () => Promise.reject(new Error("no parents")),
    parentClients: { open: () => assert.fail("no parents") },
    clock,
    timer: fakeTimer(),
    deadline: RUN_DEADLINE,
    taskId: "task",
    url: "http://origin.test/f",
    contentLength: 4,
    disableBackToSource: false,
    download: { url: "http://origin.test/f" } as Download,
    ledger,
    origin: {
      head: () => Promise.reject(new Error("not used")),
      streamWhole: () => Promise.reject(new Error("not used")),
      getRangeInto: async (_url, offset, length, sink) => void (await sink(Buffer.alloc(length), offset)),
    },
    concurrency: 1,
    pieceTimeoutMs: 1000,
    scheduleTimeoutMs: 1000,
    connectTimeoutMs: 500,
    signal: new AbortController().signal,
    onSwitch: () => undefined,
    notice: () => undefined,
    debug: () => undefined,
  });
  return { s, host, told, cluster, clock };
}

const backToSource = (s: FakeStream): void => void s.emit("data", { response: { $case: "needBackToSourceResponse", value: { description: "" } } } satisfies AnnouncePeerResponse);
const reset = (s: FakeStream): void => void s.emit("error", Object.assign(new Error("reset"), { code: grpc.status.UNAVAILABLE, details: "reset" }));

describe("P2PSession", () => {
  test("a refused AnnounceHost and a broken stream switch; the third scheduler finishes; only it is left", async () => {
    const { s, host, told, cluster, clock } = session(["a:1", "b:1", "c:1"], {
      "a:1": { announceHost: grpc.status.UNAVAILABLE, answer: () => assert.fail("never registered") },
      "b:1": { answer: reset },
      "c:1": { answer: backToSource },
    });
    const result = await s.run();
    assert.equal(result.complete, true);
    assert.equal(result.backToSource, true);
    assert.equal(result.used, "c:1");
    assert.equal(result.peerIds.length, 2, "a fresh peer id per registration");
    assert.notEqual(result.peerIds[0], result.peerIds[1]);
    assert.deepEqual(told, [["a:1", "unavailable"], ["b:1", "unavailable"], ["c:1", "ok"]]);
    assert.equal(cluster.calls.find(([addr, rpc]) => addr === "a:1" && rpc === "AnnounceHost")![2], clock.now() + 500, "AnnounceHost under connectTimeout");
    assert.ok(cluster.streams.every((x) => x.deadline === RUN_DEADLINE), "every AnnouncePeer stream carries the run's deadline");
    await s.leave();
    await host.close();
    const leaving = cluster.calls.filter(([, rpc]) => rpc === "DeletePeer" || rpc === "DeleteHost").map(([addr, rpc]) => `${rpc} ${addr}`);
    assert.deepEqual(leaving, ["DeletePeer c:1", "DeleteHost c:1"], "broken schedulers are not asked to forget us");
  });

  test("AnnounceHost happens once per scheduler for every run on the same host", async () => {
    const first = session(["c:1"], { "c:1": { answer: backToSource } });
    await first.s.run();
    await first.host.announceTo("c:1", RUN_DEADLINE);
    assert.equal(first.cluster.calls.filter(([, rpc]) => rpc === "AnnounceHost").length, 1);
  });

  test("an application error on AnnounceHost does not switch: the rest comes from the origin", async () => {
    const { s, told } = session(["a:1", "b:1"], {
      "a:1": { announceHost: grpc.status.INVALID_ARGUMENT, answer: () => assert.fail("never registered") },
      "b:1": { answer: backToSource },
    });
    const result = await s.run();
    assert.equal(result.complete, false);
    assert.match(result.reason ?? "", /scheduler a:1 refused AnnounceHost/);
    assert.deepEqual(told, []);
  });

  test("no scheduler left: not complete, with the reason", async () => {
    const { s } = session(["a:1"], { "a:1": { answer: reset } });
    const result = await s.run();
    assert.deepEqual([result.complete, result.reason], [false, "no scheduler left after a:1 failed"]);
  });
});
