// ParentFetcher over a fake SyncPieces stream, a fake vortex transport and a hand-driven
// timer: a failed piece goes to another parent that has it at once, or back to the same
// parent after the retry policy's backoff; dead parents and spent budgets end the tries;
// every crc32 a parent announces is kept for the origin to compare with.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { ParentFetcher, ParentPieceError, type ParentFetchResult } from "../../src/engine/parents.js";
import type { ParentClients, VortexTransport } from "../../src/engine/parts.js";
import { PieceLedger } from "../../src/engine/piece-ledger.js";
import type { Peer } from "../../src/gen/common/v2/common.js";
import type { SyncPiecesResponse } from "../../src/gen/dfdaemon/v2/dfdaemon.js";
import { VortexConnectionError, type FetchPieceOptions, type FetchedPiece } from "../../src/transport/vortex-client.js";
import { RetryPolicy } from "../../src/transport/retry-policy.js";
import type { PieceMetadata } from "../../src/transport/vortex-codec.js";
import { fakeTimer, type FakeTimer } from "../support/fake-timer.js";

const LENGTH = 16;
const GOOD = "crc32:7";

class FakeSyncCall extends EventEmitter {
  cancel(): void {}
}

/** unsigned: the header carries no crc32 (digest ""), the bytes are whatever they are. */
type Answer = "ok" | "corrupt" | "unsigned" | "reset" | { digest: string; fail: true } | { slowMs: number };

interface Rig {
  timer: FakeTimer;
  ledger: PieceLedger;
  calls: Array<{ parent: number; piece: number; at: number }>;
  syncs: FakeSyncCall[];
  fetcher: ParentFetcher;
  result: Promise<ParentFetchResult>;
}

/**
 * Parents, each listed with the pieces it announces at once; `script`: what parent i's
 * successive requests get (default "ok"); retries 2, jitter fixed at 0.5.
 */
function rig(pieceCount: number, parents: number[][], script: Record<number, Answer[]> = {}, retries = 2, hostIds: string[] = [], stallTimeoutMs = 3_600_000): Rig {
  const timer = fakeTimer();
  const plan = Array.from({ length: pieceCount }, (_, n) => ({ number: n, offset: n * LENGTH, length: LENGTH }));
  const ledger = new PieceLedger(plan, { tempPath: "/nonexistent", writePiece: async () => undefined }, new RetryPolicy({ retries, random: () => 0.5 }));
  const calls: Rig["calls"] = [];
  const answers = new Map<number, Answer[]>(Object.entries(script).map(([i, list]) => [Number(i) + 1, [...list]]));
  const syncs: FakeSyncCall[] = [];
  const clients: ParentClients = {
    open: () => {
      const call = new FakeSyncCall();
      syncs.push(call);
      return { syncPieces: () => call, close: () => undefined } as unknown as ReturnType<ParentClients["open"]>;
    },
  };
  const vortex = (async (opts: FetchPieceOptions): Promise<FetchedPiece> => {
    calls.push({ parent: opts.port - 1, piece: opts.pieceNumber, at: timer.now() });
    const answer = answers.get(opts.port)?.shift() ?? "ok";
    if (answer === "reset") throw new VortexConnectionError("reset", "ECONNRESET");
    if (typeof answer === "object" && "slowMs" in answer) {
      // A slow but moving parent: the bytes take this long (its low-speed watchdog is not tripped).
      await new Promise<void>((resolve) => timer.setTimeout(resolve, answer.slowMs));
      const metadata = { number: opts.pieceNumber, offset: opts.pieceNumber * LENGTH, length: LENGTH, digest: GOOD } as PieceMetadata;
      return { metadata, data: Buffer.alloc(0), digest: GOOD };
    }
    const announced = typeof answer === "object" ? answer.digest : answer === "unsigned" ? "" : GOOD;
    const metadata = { number: opts.pieceNumber, offset: opts.pieceNumber * LENGTH, length: LENGTH, digest: announced } as PieceMetadata;
    opts.onMetadata?.(metadata);
    if (typeof answer === "object") throw new ParentPieceError("cut short after the header");
    return { metadata, data: Buffer.alloc(0), digest: answer === "corrupt" || answer === "unsigned" ? "crc32:1" : GOOD };
  }) as VortexTransport;
  const peers = parents.map((_, i) => ({ id: `parent-${i}`, host: { id: hostIds[i] ?? `parent-host-${i}`, ip: "127.0.0.1", port: 9000 + i } }) as unknown as Peer);
  const fetcher = new ParentFetcher({
    parents: peers,
    ledger,
    vortex,
    clients,
    timer,
    deadline: Date.now() + 3_600_000,
    taskId: "task",
    hostId: "host",
    concurrency: 4,
    pieceTimeoutMs: 1000,
    lowSpeedLimit: 1024,
    stallTimeoutMs,
    report: { finished: () => undefined, failed: () => undefined, debug: () => undefined },
  });
  const result = fetcher.run();
  parents.forEach((pieces, i) => {
    for (const n of pieces) {
      const msg: SyncPiecesResponse = { number: n, offset: BigInt(n * LENGTH), length: BigInt(LENGTH), ip: "127.0.0.1", tcpPort: i + 1 };
      syncs[i]!.emit("data", msg);
    }
  });
  return { timer, ledger, calls, syncs, fetcher, result };
}

const endSyncs = (r: Rig): void => r.syncs.forEach((s) => s.emit("end"));

describe("ParentFetcher retries", () => {
  // Backoff with random 0.5: ceiling · (0.25 + 0.75 · 0.5) → 156 ms after the 1st failure, 313 ms after the 2nd.
  test("the only parent that has the piece gets it again after the backoff, not before", async () => {
    const r = rig(1, [[]], { 0: ["corrupt"] });
    r.syncs[0]!.emit("data", { number: 0, offset: 0n, length: BigInt(LENGTH), ip: "127.0.0.1", tcpPort: 1 } satisfies SyncPiecesResponse);
    await r.timer.advance(155);
    assert.deepEqual(r.calls, [{ parent: 0, piece: 0, at: 0 }]);
    await r.timer.advance(1);
    assert.deepEqual(r.calls, [{ parent: 0, piece: 0, at: 0 }, { parent: 0, piece: 0, at: 156 }]);
    assert.equal(await r.result, "complete");
    assert.equal(r.ledger.finishedPiece(0)?.parentId, "parent-0");
  });

  test("another parent that has the piece gets it at once", async () => {
    const r = rig(1, [[0], [0]], { 0: ["corrupt"] });
    // Both announced piece 0 before the first transfer: parent 0 was least busy (the first).
    await r.timer.advance(0);
    assert.deepEqual(r.calls, [{ parent: 0, piece: 0, at: 0 }, { parent: 1, piece: 0, at: 0 }]);
    assert.equal(await r.result, "complete");
  });

  test("a parent that fails the same piece twice is not asked a third time: the rest of the budget is the origin's", async () => {
    const r = rig(1, [[0]], { 0: ["corrupt", "corrupt", "corrupt"] });
    endSyncs(r);
    await r.timer.advance(10_000);
    assert.deepEqual(r.calls.map((c) => c.at), [0, 156]);
    assert.equal(await r.result, "exhausted");
    assert.equal(r.ledger.isFinished(0), false);
    // --retry 2: two failures so far, so the origin still gets its try.
    assert.equal(r.ledger.retry.onFailure(0, new ParentPieceError("origin's try failed too")).retry, false);
  });

  test("two parents, each failing the piece twice: the other at once, then each again after the backoff, then none", async () => {
    const bad: Answer[] = ["corrupt", "corrupt", "corrupt"];
    const r = rig(1, [[0], [0]], { 0: [...bad], 1: [...bad] }, 5);
    endSyncs(r);
    await r.timer.advance(10_000);
    // Backoffs after the 2nd and 3rd failures: 313 ms, then 625 ms (313 + 625 = 938).
    assert.deepEqual(r.calls.map((c) => `${c.parent}@${c.at}`), ["0@0", "1@0", "0@313", "1@938"]);
    assert.equal(await r.result, "exhausted");
  });

  test("a piece whose header carries no crc32 does not count: nothing vouches for its bytes", async () => {
    const r = rig(1, [[0]], { 0: ["unsigned", "unsigned"] });
    endSyncs(r);
    await r.timer.advance(10_000);
    assert.deepEqual(r.calls.map((c) => c.at), [0, 156]);
    assert.equal(await r.result, "exhausted");
    assert.equal(r.ledger.isFinished(0), false);
  });

  test("a candidate on our own host (the fetcher's hostId) is never asked: the others are", async () => {
    const r = rig(2, [[0, 1], [0, 1]], {}, 2, ["host"]);
    assert.equal(await r.result, "complete");
    assert.deepEqual(r.calls.map((c) => c.parent), [1, 1]);
  });

  test("ourselves as the only candidate: exhausted at once, without waiting for a stall", async () => {
    const r = rig(1, [[0]], {}, 2, ["host"]);
    assert.equal(await r.result, "exhausted");
    assert.deepEqual(r.calls, []);
  });

  test("a parent repeating a piece it already announced does not hold the fetcher past the stall timeout", async () => {
    // Piece 0 fails twice (at 0 and 156 ms): the parent may not try it again, yet keeps announcing it.
    const r = rig(1, [[0]], { 0: ["corrupt", "corrupt"] }, 5, [], 1000);
    let settled: ParentFetchResult | undefined;
    void r.result.then((result) => (settled = result));
    for (let t = 0; t < 8; t++) {
      await r.timer.advance(400);
      r.syncs[0]!.emit("data", { number: 0, offset: 0n, length: BigInt(LENGTH), ip: "127.0.0.1", tcpPort: 1 } satisfies SyncPiecesResponse);
    }
    assert.deepEqual(r.calls.map((c) => c.at), [0, 156]);
    assert.equal(settled, "exhausted");
  });

  test("a transfer still in flight is not a quiet spell: the stall timeout waits for it", async () => {
    const r = rig(1, [[0]], { 0: [{ slowMs: 2500 }] }, 2, [], 1000);
    let settled: ParentFetchResult | undefined;
    void r.result.then((result) => (settled = result));
    await r.timer.advance(2400);
    assert.equal(settled, undefined, "gave up on a parent that was still sending");
    await r.timer.advance(100);
    assert.equal(settled, "complete");
    assert.equal(r.ledger.finishedPiece(0)?.parentId, "parent-0");
  });

  test("a reset parent is dead: never asked again, even after any backoff", async () => {
    const r = rig(2, [[0, 1]], { 0: ["reset", "ok"] });
    endSyncs(r);
    await r.timer.advance(10_000);
    assert.equal(r.calls.filter((c) => c.piece === 0).length, 1);
    assert.equal(await r.result, "exhausted");
  });

  test("the crc32 of a header whose bytes never came is kept; the origin's other crc32 for that piece is another version", async () => {
    const r = rig(1, [[0]], { 0: [{ digest: "crc32:42", fail: true }] }, 0);
    endSyncs(r);
    assert.equal(await r.result, "exhausted");
    assert.equal(r.ledger.versions.compareWithOrigin(0, "crc32:42"), undefined);
    assert.deepEqual(r.ledger.versions.compareWithOrigin(0, "crc32:43"), { kind: "crc32", piece: 0, origin: "crc32:43", parent: "crc32:42", parentId: "parent-0" });
  });

  test("once another version is known, no parent piece is asked for or counts", async () => {
    const r = rig(2, [[]]);
    r.ledger.versions.distrust({ kind: "length", origin: 32, parents: 31, parentId: "parent-0" });
    r.syncs[0]!.emit("data", { number: 0, offset: 0n, length: BigInt(LENGTH), ip: "127.0.0.1", tcpPort: 1 } satisfies SyncPiecesResponse);
    endSyncs(r);
    assert.equal(await r.result, "exhausted");
    assert.deepEqual(r.calls, []);
  });

  test("a piece laid out otherwise than the plan (another size) is ignored", async () => {
    const r = rig(1, [[]]);
    r.syncs[0]!.emit("data", { number: 0, offset: 0n, length: BigInt(LENGTH - 1), ip: "127.0.0.1", tcpPort: 1 } satisfies SyncPiecesResponse);
    endSyncs(r);
    assert.equal(await r.result, "exhausted");
    assert.deepEqual(r.calls, []);
  });
});
