// The one back-to-source loop against a fake origin: what it fetches, how it waits for
// pieces in flight elsewhere, and that the signal ends that wait (the old loop in
// download.ts waited on the ledger's "changed" event and ignored the signal).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fetchRestFromOrigin } from "../../src/engine/origin-pieces.js";
import type { OriginTransport } from "../../src/engine/parts.js";
import { PieceLedger } from "../../src/engine/piece-ledger.js";
import { OriginHttpError, exitCodeOf } from "../../src/errors.js";
import { RangeNotSupportedError } from "../../src/transport/origin.js";

const URL = "http://origin.test/f";

function ledgerOf(pieces: number, pieceLength = 4): { ledger: PieceLedger; writes: Map<number, Buffer> } {
  const writes = new Map<number, Buffer>();
  const plan = Array.from({ length: pieces }, (_, n) => ({ number: n, offset: n * pieceLength, length: pieceLength }));
  const ledger = new PieceLedger(plan, { tempPath: "/nonexistent", writePiece: async (offset, data) => void writes.set(offset, Buffer.from(data)) });
  return { ledger, writes };
}

function origin(getRangeInto: OriginTransport["getRangeInto"]): OriginTransport {
  return { head: () => Promise.reject(new Error("not used")), streamWhole: () => Promise.reject(new Error("not used")), getRangeInto };
}

/** Serves bytes whose value is the piece's offset, records every range, and resolves `served(n)` after the n-th. */
function recordingOrigin(): { transport: OriginTransport; ranges: Array<[number, number]>; served(n: number): Promise<void> } {
  const ranges: Array<[number, number]> = [];
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  return {
    ranges,
    served: (n) => new Promise<void>((resolve) => (ranges.length >= n ? resolve() : waiting.push({ n, resolve }))),
    transport: origin(async (_url, offset, length, sink) => {
      await sink(Buffer.alloc(length, offset), offset);
      ranges.push([offset, length]);
      for (const w of waiting.filter((w) => ranges.length >= w.n)) w.resolve();
    }),
  };
}

describe("fetchRestFromOrigin", () => {
  test("fetches every missing piece once, with crc32 digests, and reports each", async () => {
    const { ledger, writes } = ledgerOf(5);
    const { transport, ranges } = recordingOrigin();
    const reported: number[] = [];
    await fetchRestFromOrigin({ ledger, origin: transport, url: URL, concurrency: 2, signal: new AbortController().signal, onPiece: (p) => reported.push(p.number) });
    assert.equal(ledger.complete, true);
    assert.deepEqual(ranges.sort((a, b) => a[0] - b[0]), [[0, 4], [4, 4], [8, 4], [12, 4], [16, 4]]);
    assert.deepEqual(reported.sort(), [0, 1, 2, 3, 4]);
    assert.deepEqual(writes.get(8), Buffer.alloc(4, 8));
    // crc32 of four zero bytes is 0x2144df1c = 558161692 (Dragonfly's decimal form).
    assert.equal(ledger.finishedPiece(0)!.digest, "crc32:558161692");
    assert.deepEqual(ledger.counts(), { total: 5, fromParents: 0, fromSource: 5, reused: 0 });
  });

  test("a piece in flight elsewhere is waited for, and taken over when that transfer gives it up", async () => {
    const { ledger } = ledgerOf(3);
    const { transport, ranges, served } = recordingOrigin();
    assert.equal(ledger.claim(1), true, "a parent transfer holds piece 1");
    const done = fetchRestFromOrigin({ ledger, origin: transport, url: URL, concurrency: 1, signal: new AbortController().signal });
    await served(2);
    assert.deepEqual(ranges, [[0, 4], [8, 4]]);
    ledger.release(1);
    await done;
    assert.deepEqual(ranges, [[0, 4], [8, 4], [4, 4]]);
  });

  test("the wait for a piece in flight elsewhere ends when the signal fires", async () => {
    const { ledger } = ledgerOf(2);
    const { transport } = recordingOrigin();
    ledger.claim(1);
    // Abort only once the loop is waiting for the ledger to change.
    const waiting = new Promise<void>((resolve) => {
      const nextChange = ledger.nextChange.bind(ledger);
      ledger.nextChange = (signal) => {
        resolve();
        return nextChange(signal);
      };
    });
    const controller = new AbortController();
    const done = fetchRestFromOrigin({ ledger, origin: transport, url: URL, concurrency: 1, signal: controller.signal });
    await waiting;
    const reason = new Error("interrupted");
    controller.abort(reason);
    await assert.rejects(done, (err) => err === reason);
    assert.equal(ledger.complete, false);
  });

  test("an already aborted signal ends the loop before any request", async () => {
    const { ledger } = ledgerOf(2);
    const { transport, ranges } = recordingOrigin();
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    await assert.rejects(fetchRestFromOrigin({ ledger, origin: transport, url: URL, concurrency: 2, signal: controller.signal }), /gone/);
    assert.deepEqual(ranges, []);
  });

  test("the first origin error ends the loop; the piece goes back to missing", async () => {
    const { ledger } = ledgerOf(2);
    const failing = origin(async () => {
      throw new OriginHttpError(503, "origin answered 503");
    });
    await assert.rejects(fetchRestFromOrigin({ ledger, origin: failing, url: URL, concurrency: 2, signal: new AbortController().signal }), (err: unknown) => (err as OriginHttpError).code === "ERR_ORIGIN_HTTP");
    assert.deepEqual(ledger.missing().map((p) => p.number), [0, 1]);
  });

  test("an origin that stops honouring Range is handed up as it is, so the run can fall back to one streamed GET", async () => {
    const { ledger } = ledgerOf(1);
    const ignoring = origin(async () => {
      throw new RangeNotSupportedError("origin ignored the Range header");
    });
    await assert.rejects(fetchRestFromOrigin({ ledger, origin: ignoring, url: URL, concurrency: 1, signal: new AbortController().signal }), (err: unknown) => (err as RangeNotSupportedError).code === "ERR_RANGE_NOT_SUPPORTED");
  });
});

/** Piece 0 finished from parent "p" with `digest`; the rest missing. */
function withParentPiece(pieces: number, digest: string): PieceLedger {
  const { ledger } = ledgerOf(pieces);
  assert.equal(ledger.claim(0), true);
  ledger.markFinished({ number: 0, digest, source: "parent", parentId: "p", costMs: 0, createdAt: new Date(0) });
  return ledger;
}

// crc32 of four bytes of 0 (piece 0 from recordingOrigin) is crc32:558161692.
describe("fetchRestFromOrigin and the parents' version", () => {
  const signal = new AbortController().signal;

  test("a mixed run with no parent crc32 to compare fetches one parent piece again, hashed only: same version, kept", async () => {
    const ledger = withParentPiece(2, "crc32:558161692");
    const { transport, ranges } = recordingOrigin();
    await fetchRestFromOrigin({ ledger, origin: transport, url: URL, concurrency: 2, signal });
    assert.deepEqual(ranges, [[4, 4], [0, 4]]);
    assert.equal(ledger.versions.compared, 1);
    assert.deepEqual(ledger.counts(), { total: 2, fromParents: 1, fromSource: 1, reused: 0 });
  });

  test("... another version: the parents' pieces are dropped and fetched from the origin", async () => {
    const ledger = withParentPiece(2, "crc32:1");
    const { transport, ranges } = recordingOrigin();
    const dropped: number[] = [];
    ledger.on("unfinished", (n) => dropped.push(n));
    await fetchRestFromOrigin({ ledger, origin: transport, url: URL, concurrency: 2, signal });
    assert.deepEqual(ranges, [[4, 4], [0, 4], [0, 4]]);
    assert.deepEqual(dropped, [0]);
    assert.deepEqual(ledger.versions.mismatch, { kind: "crc32", piece: 0, origin: "crc32:558161692", parent: "crc32:1", parentId: "p" });
    assert.deepEqual(ledger.counts(), { total: 2, fromParents: 0, fromSource: 2, reused: 0 });
    assert.equal(ledger.finishedPiece(0)!.digest, "crc32:558161692");
  });

  test("an origin piece a parent announced another crc32 for: compared on the way, no extra piece", async () => {
    const ledger = withParentPiece(2, "crc32:1");
    ledger.versions.announce(1, "p", "crc32:9");
    const { transport, ranges } = recordingOrigin();
    await fetchRestFromOrigin({ ledger, origin: transport, url: URL, concurrency: 1, signal });
    assert.deepEqual(ranges, [[4, 4], [0, 4]]);
    assert.equal(ledger.versions.mismatch?.kind, "crc32");
    assert.deepEqual(ledger.counts(), { total: 2, fromParents: 0, fromSource: 2, reused: 0 });
  });

  test("a parent piece already written to stdout cannot be dropped: exit 18, nothing refetched", async () => {
    const ledger = withParentPiece(2, "crc32:1");
    ledger.markDelivered(0);
    const { transport, ranges } = recordingOrigin();
    await assert.rejects(fetchRestFromOrigin({ ledger, origin: transport, url: URL, concurrency: 2, signal }), (err: unknown) => exitCodeOf(err) === 18 && /already written to stdout/.test(String(err)));
    assert.deepEqual(ranges, [[4, 4], [0, 4]]);
  });

  test("another version recorded before the loop (the parents' task size): their pieces are dropped first", async () => {
    const ledger = withParentPiece(2, "crc32:558161692");
    ledger.versions.distrust({ kind: "length", origin: 8, parents: 7, parentId: "p" });
    const { transport, ranges } = recordingOrigin();
    await fetchRestFromOrigin({ ledger, origin: transport, url: URL, concurrency: 1, signal });
    assert.deepEqual(ranges, [[0, 4], [4, 4]]);
    assert.deepEqual(ledger.counts(), { total: 2, fromParents: 0, fromSource: 2, reused: 0 });
  });
});
