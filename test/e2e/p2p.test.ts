// End-to-end: the BUILT dfget downloads through the strict fake cluster — pieces from seed
// parents (SyncPieces + vortex), back-to-source through the scheduler, the small-file
// bypass, and bad parents (corrupt piece, connection cut mid-piece). Every scenario also
// checks that each message dfget sent would have passed the Go scheduler's validation.
import { after, afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { status } from "@grpc/grpc-js";
import type { AnnouncePeerRequest } from "../../src/gen/scheduler/v2/scheduler.js";
import type { FakeParent } from "../support/parent.js";
import {
  MiB,
  PIECE_LENGTH,
  assertDownloaded,
  assertWireHygiene,
  duplicates,
  onEachEvent,
  onFirstEvent,
  registrationsAt,
  reportedPieces,
  startRig,
  streamCases,
  type P2PRig,
} from "./p2p-harness.js";

const CONTENT = randomBytes(22 * MiB + 321); // 6 pieces
const PIECES = Math.ceil(CONTENT.length / PIECE_LENGTH);
const rigs: P2PRig[] = [];

async function rig(content = CONTENT, schedulers = 1): Promise<P2PRig> {
  const r = await startRig({ content, schedulers });
  rigs.push(r);
  return r;
}

after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

// Every message dfget sent in a test passed the Go-style validation; checked after each
// test, so every test stands alone.
let checkedRigs = 0;
afterEach(() => {
  const fresh = rigs.slice(checkedRigs);
  checkedRigs = rigs.length;
  for (const r of fresh) assertWireHygiene(r);
});

/** The one registration dfget made at `rig`'s only scheduler, and the messages about it. */
function onlyConversation(r: P2PRig): { peerId: string; cases: string[] } {
  const scheduler = r.order[0]!;
  const peers = registrationsAt(scheduler);
  assert.equal(peers.length, 1, `registrations at ${scheduler.name}: ${peers.join(", ")}`);
  return { peerId: peers[0]!, cases: streamCases(scheduler, peers[0]!) };
}

/** Stream shape of a download served wholly by parents. */
function assertParentConversation(r: P2PRig, peerId: string, cases: string[]): void {
  assert.equal(cases[0], "registerPeerRequest");
  assert.equal(cases[1], "downloadPeerStartedRequest");
  assert.equal(cases.at(-1), "downloadPeerFinishedRequest");
  assert.deepEqual([...reportedPieces(r.order[0]!, peerId)].sort((a, b) => a - b), Array.from({ length: r.pieceCount }, (_, i) => i));
  assert.ok(!cases.includes("downloadPeerBackToSourceStartedRequest"));
  const ends = r.order[0]!.events.filter((e) => e.rpc === "AnnouncePeer.end").map((e) => (e.message as { code: number }).code);
  assert.deepEqual(ends, [status.OK]);
}

function assertLeft(r: P2PRig, peerId: string): void {
  const scheduler = r.order[0]!;
  assert.deepEqual(scheduler.calls("DeletePeer").map((m) => (m as { peerId: string }).peerId), [peerId]);
  assert.equal(scheduler.calls("DeleteHost").length, 1);
}

describe("dfget P2P engine against the fake cluster", () => {
  test("one seed parent: every piece from it, nothing from the origin", async () => {
    const r = await rig();
    const parent = await r.addParent();
    const run = await r.run();
    await assertDownloaded(r, run);
    const json = run.json!;
    assert.equal(json.pieces.fromParents, PIECES);
    assert.equal(json.pieces.fromSource, 0);
    assert.equal(json.backToSource, false);
    assert.equal(json.scheduler.used, r.order[0]!.addr);
    assert.equal(json.scheduler.switches, 0);
    assert.equal(r.cluster.origin!.bytesServed(), 0);
    assert.equal(parent.bytesServed(), CONTENT.length);
    assert.deepEqual(duplicates(parent.piecesServed()), []);
    assert.equal(parent.syncRequests.length, 1);
    assert.equal(parent.syncRequests[0]!.taskId, r.taskId);
    assert.deepEqual(parent.syncRequests[0]!.interestedPieceNumbers, Array.from({ length: PIECES }, (_, i) => i));
    const { peerId, cases } = onlyConversation(r);
    assert.equal(json.peerId, peerId);
    assertParentConversation(r, peerId, cases);
    assertLeft(r, peerId);
    assertWireHygiene(r);
  });

  test("three seed parents: each serves a share, together exactly the file", async () => {
    const content = randomBytes(48 * MiB + 7); // 13 pieces
    const r = await rig(content);
    const parents = [await r.addParent(), await r.addParent(), await r.addParent()];
    const run = await r.run();
    await assertDownloaded(r, run);
    assert.equal(run.json!.pieces.fromParents, r.pieceCount);
    assert.equal(r.cluster.origin!.bytesServed(), 0);
    for (const p of parents) assert.ok(p.bytesServed() > 0, `parent ${p.peerId} served nothing`);
    assert.equal(parents.reduce((sum, p) => sum + p.bytesServed(), 0), content.length, "some piece was fetched twice");
    const { peerId, cases } = onlyConversation(r);
    assertParentConversation(r, peerId, cases);
    // Each report names the parent that really sent the bytes.
    const byParent = new Map(parents.map((p) => [p.peerId, new Set(p.piecesServed())]));
    for (const m of r.order[0]!.streamMessages(peerId)) {
      if (m.request?.$case !== "downloadPieceFinishedRequest") continue;
      const piece = m.request.value.piece!;
      assert.ok(byParent.get(piece.parentId!)?.has(piece.number), `piece ${piece.number} reported from ${piece.parentId}`);
    }
    assertWireHygiene(r);
  });

  test("a parent still downloading: pieces appear over time, all come from it", async () => {
    const r = await rig();
    const parent = await r.addParent([0, 1]);
    // Each piece dfget reports from the parent lets the parent finish one more: the rest
    // reach dfget only through its open SyncPieces stream.
    let next = 2;
    const isFromParent = (e: { rpc: string; message: unknown }): boolean =>
      e.rpc === "AnnouncePeer" && (e.message as AnnouncePeerRequest).request?.$case === "downloadPieceFinishedRequest";
    onEachEvent(r.order[0]!, isFromParent, () => {
      if (next < PIECES) parent.addPiece(next++);
    });
    const run = await r.run();
    await assertDownloaded(r, run);
    assert.equal(next, PIECES, "the run ended before every piece was added");
    assert.equal(run.json!.pieces.fromParents, PIECES);
    assert.equal(run.json!.backToSource, false);
    assert.equal(r.cluster.origin!.bytesServed(), 0);
    assert.equal(parent.bytesServed(), CONTENT.length);
    const { peerId, cases } = onlyConversation(r);
    assertParentConversation(r, peerId, cases);
    assert.ok(!cases.includes("reschedulePeerRequest"), `dfget gave up on a parent that was still downloading: ${cases.join(" ")}`);
    assertWireHygiene(r);
  });

  test("no parents: back-to-source through the scheduler, every piece reported", async () => {
    const r = await rig();
    const run = await r.run();
    await assertDownloaded(r, run);
    const json = run.json!;
    assert.equal(json.backToSource, true);
    assert.equal(json.pieces.fromSource, PIECES);
    assert.equal(json.pieces.fromParents, 0);
    assert.equal(r.cluster.origin!.bytesServed(), CONTENT.length);
    const { peerId, cases } = onlyConversation(r);
    assert.equal(r.order[0]!.responses(peerId)[0]?.response?.$case, "needBackToSourceResponse");
    assert.deepEqual(cases, [
      "registerPeerRequest",
      "downloadPeerBackToSourceStartedRequest",
      ...Array<string>(PIECES).fill("downloadPieceBackToSourceFinishedRequest"),
      "downloadPeerBackToSourceFinishedRequest",
    ]);
    assert.deepEqual([...reportedPieces(r.order[0]!, peerId)].sort((a, b) => a - b), Array.from({ length: PIECES }, (_, i) => i));
    assertLeft(r, peerId);
    assertWireHygiene(r);
  });

  test("an empty file: empty output, no scheduler contacted", async () => {
    const r = await rig(Buffer.alloc(0));
    await r.addParent();
    const run = await r.run();
    await assertDownloaded(r, run);
    assert.equal((await readFile(r.work.out)).length, 0);
    assert.equal(run.json!.pieces.total, 0);
    for (const s of r.cluster.schedulers) {
      assert.deepEqual(s.events.map((e) => e.rpc), [], `${s.name} was contacted`);
      assert.equal(s.connectionCount(), 0);
    }
  });

  test("a 3 MiB file goes straight to the origin: no registration anywhere", async () => {
    const r = await rig(randomBytes(3 * MiB), 3);
    const parent = await r.addParent();
    const run = await r.run();
    await assertDownloaded(r, run);
    assert.equal(run.json!.pieces.fromSource, 1);
    assert.equal(run.json!.backToSource, true);
    assert.equal(run.json!.scheduler.used, null);
    for (const s of r.cluster.schedulers) {
      assert.deepEqual(s.registrations(), [], `${s.name} got a registration`);
      assert.deepEqual(s.events.map((e) => e.rpc), [], `${s.name} was contacted`);
    }
    assert.equal(parent.bytesServed(), 0);
    assert.equal(r.cluster.origin!.bytesServed(), 3 * MiB);
  });

  /** A bad parent A has every piece; B lacks piece `bad` until A has failed it. */
  async function badParentCase(fault: (a: FakeParent, piece: number) => void): Promise<void> {
    const bad = 2;
    const r = await rig();
    const a = await r.addParent();
    const b = await r.addParent(Array.from({ length: PIECES }, (_, i) => i).filter((n) => n !== bad));
    fault(a, bad);
    const isPieceFailed = (e: { rpc: string; message: unknown }): boolean =>
      e.rpc === "AnnouncePeer" && (e.message as AnnouncePeerRequest).request?.$case === "downloadPieceFailedRequest";
    onFirstEvent(r.order[0]!, isPieceFailed, () => b.addPiece(bad));
    const run = await r.run();
    await assertDownloaded(r, run);
    const { peerId } = onlyConversation(r);
    const failures = r.order[0]!.streamMessages(peerId).flatMap((m) => (m.request?.$case === "downloadPieceFailedRequest" ? [m.request.value] : []));
    assert.deepEqual(failures.map((f) => [f.pieceNumber, f.parentId, f.temporary]), [[bad, a.peerId, true]]);
    const finished = r.order[0]!.streamMessages(peerId).flatMap((m) => (m.request?.$case === "downloadPieceFinishedRequest" ? [m.request.value.piece!] : []));
    assert.deepEqual(finished.filter((p) => p.number === bad).map((p) => p.parentId), [b.peerId], "piece reported from the wrong parent");
    assert.ok(b.piecesServed().includes(bad));
    assert.equal(run.json!.pieces.fromParents, PIECES);
    assert.equal(r.cluster.origin!.bytesServed(), 0);
    assertWireHygiene(r);
  }

  test("a corrupt piece is caught and fetched from the other parent", () => badParentCase((a, n) => a.corruptPiece(n)));
  test("a parent that dies mid-piece: the piece comes from the other parent", () => badParentCase((a, n) => a.dieMidPiece(n)));

  test("the only parent always sends a corrupt piece: caught, asked once more after a backoff (--retry 1), then the origin through the scheduler", async () => {
    const r = await rig();
    const parent = await r.addParent();
    parent.corruptPiece(3);
    const run = await r.run(["--retry", "1"]);
    await assertDownloaded(r, run);
    const { peerId, cases } = onlyConversation(r);
    const failures = r.order[0]!.streamMessages(peerId).flatMap((m) => (m.request?.$case === "downloadPieceFailedRequest" ? [m.request.value] : []));
    assert.deepEqual(failures.map((f) => [f.pieceNumber, f.parentId, f.temporary]), [[3, parent.peerId, true], [3, parent.peerId, true]]);
    assert.deepEqual(parent.piecesServed().filter((n) => n === 3), [3, 3]);
    assert.ok(cases.includes("reschedulePeerRequest"), cases.join(" "));
    assert.ok(cases.includes("downloadPeerBackToSourceStartedRequest"), cases.join(" "));
    assert.deepEqual(reportedPieces(r.order[0]!, peerId).filter((n) => n === 3), [3]);
    assert.equal(run.json!.pieces.fromParents, PIECES - 1);
    assert.equal(run.json!.pieces.fromSource, 1);
    assert.equal(r.cluster.origin!.bytesServed(), PIECE_LENGTH);
    assertWireHygiene(r);
  });
});
