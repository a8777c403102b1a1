// The piece ledger: claims, releases, what counts as finished, counts by source, the
// ServedPieces face the upload server reads, and the wait for a change.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PieceLedger, type FinishedPiece } from "../../src/engine/piece-ledger.js";

const PLAN = [0, 1, 2].map((n) => ({ number: n, offset: n * 4, length: n === 2 ? 2 : 4 }));

function ledger(tempPath = "/nonexistent"): { ledger: PieceLedger; writes: Array<[number, string]> } {
  const writes: Array<[number, string]> = [];
  return { writes, ledger: new PieceLedger(PLAN, { tempPath, writePiece: async (offset, data) => void writes.push([offset, data.toString()]) }) };
}

const parentPiece = (n: number): Omit<FinishedPiece, "offset" | "length"> => ({ number: n, digest: "crc32:1", source: "parent", parentId: "p1", costMs: 1, createdAt: new Date(0) });

describe("PieceLedger", () => {
  test("a piece is claimed once; release gives it back and says so", () => {
    const { ledger: l } = ledger();
    const changes: number[] = [];
    l.on("changed", () => changes.push(1));
    assert.equal(l.claim(1), true);
    assert.equal(l.claim(1), false);
    assert.deepEqual(l.missing().map((p) => p.number), [0, 2]);
    assert.deepEqual(l.unfinished().map((p) => p.number), [0, 1, 2]);
    l.release(1);
    l.release(1);
    assert.deepEqual(changes, [1], "one change per real release");
    assert.deepEqual(l.missing().map((p) => p.number), [0, 1, 2]);
  });

  test("store writes at the piece's offset and counts it once; a wrong length is refused", async () => {
    const { ledger: l, writes } = ledger();
    const finished: number[] = [];
    const unsubscribe = l.onFinished((p) => finished.push(p.number));
    l.claim(0);
    const piece = await l.store(parentPiece(0), Buffer.from("abcd"));
    assert.deepEqual({ offset: piece.offset, length: piece.length }, { offset: 0, length: 4 });
    l.markFinished(parentPiece(0));
    assert.deepEqual(finished, [0], "finished is announced once");
    await assert.rejects(l.store(parentPiece(2), Buffer.from("abc")), /piece 2: 3 bytes, expected 2/);
    l.claim(2);
    await l.store({ ...parentPiece(2), source: "origin", parentId: undefined }, Buffer.from("xy"));
    unsubscribe();
    l.claim(1);
    l.markFinished({ ...parentPiece(1), reused: true });
    assert.deepEqual(finished, [0, 2], "no listener after unsubscribe");
    assert.deepEqual(writes, [[0, "abcd"], [8, "xy"]]);
    assert.deepEqual(l.counts(), { total: 3, fromParents: 1, fromSource: 1, reused: 1 });
    assert.equal(l.bytesWritten, 10);
    assert.equal(l.complete, true);
    await assert.rejects(l.store(parentPiece(7), Buffer.alloc(4)), /piece 7 is not in the plan/);
  });

  test("read gives a finished piece's bytes back from the temp file; unfinished ones are not served", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dfget-ledger-"));
    try {
      const path = join(dir, "part");
      await writeFile(path, "abcdefghij");
      const l = new PieceLedger(PLAN, { tempPath: path, writePiece: async () => undefined });
      l.markFinished(parentPiece(1));
      assert.equal(await l.read(0), undefined);
      const got = await l.read(1);
      assert.equal(got?.data.toString(), "efgh");
      assert.equal(l.finishedPiece(1)?.parentId, "p1");
      await l.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("nextChange resolves on the next change, or at once when the signal fires", async () => {
    const { ledger: l } = ledger();
    const controller = new AbortController();
    l.claim(0);
    const changed = l.nextChange(controller.signal);
    l.release(0);
    await changed;
    const aborted = l.nextChange(controller.signal);
    controller.abort();
    await aborted;
    await l.nextChange(controller.signal);
    assert.equal(l.listenerCount("changed"), 0, "no listener left behind");
  });

  test("dropParentPieces unfinishes every parent piece, resumed ones too (an earlier run may have had the same old copy), and says which", () => {
    const { ledger: l } = ledger();
    l.markFinished(parentPiece(0));
    l.markFinished({ ...parentPiece(1), reused: true });
    l.markFinished({ ...parentPiece(2), source: "origin", parentId: undefined });
    const unfinished: number[] = [];
    l.on("unfinished", (n) => unfinished.push(n));
    assert.deepEqual(l.dropParentPieces(), [0, 1]);
    assert.deepEqual(unfinished, [0, 1]);
    assert.deepEqual(l.missing().map((p) => p.number), [0, 1]);
    assert.equal(l.bytesWritten, 2);
    assert.deepEqual(l.counts(), { total: 3, fromParents: 0, fromSource: 1, reused: 0 });
  });

  test("a parent piece already delivered (stdout) cannot be dropped: exit 18, nothing dropped", () => {
    const { ledger: l } = ledger();
    l.markFinished(parentPiece(0));
    l.markFinished(parentPiece(1));
    l.markDelivered(0);
    assert.throws(() => l.dropParentPieces(), (err: unknown) => (err as { exitCode?: number }).exitCode === 18 && /piece 0, from a parent, was already written to stdout/.test(String(err)));
    assert.equal(l.finishedCount, 2);
  });
});
