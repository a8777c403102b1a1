// End-to-end: parents that fail on the vortex path (issue 11 items 1 and 3). A parent that
// goes silent is dropped by the low-speed rule (pieceTimeout window) and its pieces come
// from the origin — or, with --disable-back-to-source, the run ends in 69 without one
// origin GET. A corrupt piece spends a try of the piece's shared retry budget (--retry),
// and is asked again of the same parent after a backoff when no other parent has it.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { AnnouncePeerRequest } from "../../src/gen/scheduler/v2/scheduler.js";
import { exists, partFiles } from "../support/cli-e2e.js";
import type { FakeScheduler } from "../support/scheduler.js";
import { MiB, PIECE_LENGTH, assertDownloaded, assertWireHygiene, onFirstEvent, registrationsAt, startRig, type P2PRig } from "./p2p-harness.js";

const rigs: P2PRig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

/** The reported case: 48 MiB, three schedulers (ring owner first), pieceTimeout 2 s. */
async function rig(content: Buffer, schedulers: number): Promise<P2PRig> {
  const r = await startRig({ content, schedulers, pieceTimeout: "2s" });
  rigs.push(r);
  return r;
}

const isPieceReport = (e: { rpc: string; message: unknown }): boolean => {
  const c = (e.message as AnnouncePeerRequest).request?.$case;
  return e.rpc === "AnnouncePeer" && (c === "downloadPieceFinishedRequest" || c === "downloadPieceBackToSourceFinishedRequest");
};
const isPieceFailed = (e: { rpc: string; message: unknown }): boolean =>
  e.rpc === "AnnouncePeer" && (e.message as AnnouncePeerRequest).request?.$case === "downloadPieceFailedRequest";

/** GETs the origin received (the HEAD is allowed even with --disable-back-to-source). */
const originGets = (r: P2PRig): number => r.cluster.origin!.requests.filter((q) => q.method === "GET").length;

describe("bad parents on the vortex path", () => {
  const BIG = randomBytes(48 * MiB); // 12 pieces

  /** Owner blackholed; the only parent serves until dfget's first piece report, then goes silent. */
  async function silentParentCase(extra: string[]): Promise<{ r: P2PRig; run: Awaited<ReturnType<P2PRig["run"]>> }> {
    const r = await rig(BIG, 3);
    const [owner, second] = r.order as [FakeScheduler, FakeScheduler];
    owner.blackhole();
    const parent = await r.addParent();
    onFirstEvent(second, isPieceReport, () => parent.goSilent());
    const run = await r.run(extra);
    assert.ok(registrationsAt(second).length >= 1, `the second scheduler was never reached\n${run.stderr}`);
    const held = parent.silentRequests().length;
    // Dropped at its first low-speed trip: never more than the 4 transfers in flight (concurrentPieceCount).
    assert.ok(held >= 1 && held <= 4, `the silent parent was asked for ${held} pieces`);
    return { r, run };
  }

  test("ring owner blackholed, the parent goes silent: its pieces come from the origin, exit 0", async () => {
    const { r, run } = await silentParentCase([]);
    await assertDownloaded(r, run);
    const json = run.json!;
    assert.ok(json.pieces.fromSource >= 1, `fromSource ${json.pieces.fromSource}`);
    // Every piece the parent held silent was taken by the origin; nothing fetched twice but
    // the one parent piece the origin sends again to compare crc32s (a mixed run, no
    // parent crc32 for any origin piece: the version cross-check costs one piece).
    const parent = r.parents[0]!;
    const twice = parent.bytesServed() + r.cluster.origin!.bytesServed() - BIG.length;
    assert.ok(twice <= PIECE_LENGTH, `fetched ${twice} bytes twice`);
    assertWireHygiene(r);
  });

  test("the same with --disable-back-to-source: exit 69, not one origin GET, no file", async () => {
    const { r, run } = await silentParentCase(["--disable-back-to-source"]);
    assert.equal(run.code, 69, run.stderr);
    assert.equal(run.json?.exitCode, 69);
    assert.equal(originGets(r), 0, "the origin was asked for bytes");
    assert.equal(await exists(r.work.out), false, "a file was left at -O");
    assert.ok(!(await partFiles(r.work.dir)).some((f) => !f.includes(".dfget.")), "a stray temp file was left");
    assertWireHygiene(r);
  });

  const SMALL = randomBytes(22 * MiB + 321); // 6 pieces
  const PIECES = Math.ceil(SMALL.length / PIECE_LENGTH);
  const BAD = 2;

  /** Parent A serves a corrupt piece BAD; B lacks it until A's failure is reported. */
  async function corruptPieceCase(extra: string[]): Promise<{ r: P2PRig; run: Awaited<ReturnType<P2PRig["run"]>> }> {
    const r = await rig(SMALL, 1);
    const a = await r.addParent();
    const b = await r.addParent(Array.from({ length: PIECES }, (_, i) => i).filter((n) => n !== BAD));
    a.corruptPiece(BAD);
    onFirstEvent(r.order[0]!, isPieceFailed, () => b.addPiece(BAD));
    const run = await r.run(extra);
    assert.ok(a.piecesServed().includes(BAD), "A never served the corrupt piece");
    return { r, run };
  }

  test("a corrupt piece is retried on the other parent: right bytes, the retry on record", async () => {
    const { r, run } = await corruptPieceCase([]);
    await assertDownloaded(r, run);
    const [a, b] = r.parents as [P2PRig["parents"][number], P2PRig["parents"][number]];
    assert.deepEqual(a.piecesServed().filter((n) => n === BAD), [BAD], "A was asked for the bad piece again");
    assert.deepEqual(b.piecesServed().filter((n) => n === BAD), [BAD], "the retry did not reach B");
    assert.equal(r.cluster.origin!.bytesServed(), 0);
    assertWireHygiene(r);
  });

  test("--retry 0: the corrupt piece spends the budget, so no parent retries it; the origin has the only try", async () => {
    const { r, run } = await corruptPieceCase(["--retry", "0"]);
    await assertDownloaded(r, run);
    const b = r.parents[1]!;
    assert.ok(!b.piecesServed().includes(BAD), "B was asked for a piece whose budget was spent");
    assert.equal(run.json!.pieces.fromSource, 1);
    assert.equal(r.cluster.origin!.bytesServed(), PIECE_LENGTH);
    assertWireHygiene(r);
  });

  test("the only parent sends piece 2 corrupt once (--disable-back-to-source): the same parent is asked again after a backoff, exit 0, not one origin GET", async () => {
    const r = await rig(SMALL, 1);
    const a = await r.addParent();
    a.corruptPiece(BAD, 1);
    const run = await r.run(["--disable-back-to-source"]);
    await assertDownloaded(r, run);
    assert.deepEqual(a.piecesServed().filter((n) => n === BAD), [BAD, BAD], "piece 2 was not served twice by the parent");
    assert.equal(run.json!.pieces.fromParents, PIECES);
    assert.equal(originGets(r), 0, "the origin was asked for bytes");
    assertWireHygiene(r);
  });

  test("--retry 0 --disable-back-to-source: no parent left for the piece → exit 69, not one origin GET", async () => {
    const { r, run } = await corruptPieceCase(["--retry", "0", "--disable-back-to-source"]);
    assert.equal(run.code, 69, run.stderr);
    assert.equal(originGets(r), 0, "the origin was asked for bytes");
    assert.equal(await exists(r.work.out), false, "a file was left at -O");
    assertWireHygiene(r);
  });
});
