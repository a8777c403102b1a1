// End-to-end: parents that misbehave on the vortex wire, written byte by byte by the fake
// parent's raw server (rawVortex). A parent whose header carries no crc32 cannot vouch for
// its bytes; a parent that is slow but moving (well above download.lowSpeedLimit) is kept,
// even when one piece takes longer than pieceTimeout — with --disable-back-to-source that
// is the difference between the file and exit 69.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { encodePieceContentHeader } from "../../src/transport/vortex-codec.js";
import type { AnnouncePeerRequest } from "../../src/gen/scheduler/v2/scheduler.js";
import { parentPeer } from "../support/scheduler-stream.js";
import { exists } from "../support/cli-e2e.js";
import type { RawPieceRequest } from "../support/parent.js";
import { MiB, assertDownloaded, assertWireHygiene, startRig, type P2PRig } from "./p2p-harness.js";

const rigs: P2PRig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

const CONTENT = randomBytes(4 * MiB + 777); // 2 pieces
const originGets = (r: P2PRig): number => r.cluster.origin!.requests.filter((q) => q.method === "GET").length;

async function rig(pieceTimeout = "2s"): Promise<P2PRig> {
  const r = await startRig({ content: CONTENT, pieceTimeout });
  rigs.push(r);
  return r;
}

/** An honest answer sent in 64 KiB steps every 40 ms (≈ 1.6 MiB/s): 4 MiB take ≈ 2.6 s. */
function paced(socket: Socket, q: RawPieceRequest): void {
  const all = Buffer.concat([encodePieceContentHeader(q.metadata), q.truth]);
  let at = 0;
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer);
    if (at >= all.length) {
      clearInterval(timer);
      socket.end();
      return;
    }
    socket.write(all.subarray(at, at + 64 * 1024));
    at += 64 * 1024;
  }, 40);
  socket.once("close", () => clearInterval(timer));
}

/** The true header with its digest emptied, and the bytes with one bit flipped. */
function unsignedCorrupt(socket: Socket, q: RawPieceRequest): void {
  const wrong = Buffer.from(q.truth);
  wrong[0] = wrong[0]! ^ 0x01;
  socket.end(Buffer.concat([encodePieceContentHeader({ ...q.metadata, digest: "" }), wrong]));
}

describe("hostile parents on the vortex wire", () => {
  test("a parent slower than pieceTimeout per piece but moving (--disable-back-to-source): every piece from it, exit 0, not one origin GET", async () => {
    const r = await rig();
    const parent = await r.addParent();
    parent.rawVortex(paced);
    const run = await r.run(["--disable-back-to-source"]);
    await assertDownloaded(r, run);
    assert.equal(run.json!.pieces.fromParents, 2);
    assert.equal(run.json!.backToSource, false);
    assert.equal(originGets(r), 0, "the origin was asked for bytes");
    assert.deepEqual(parent.rawRequests().sort(), [0, 1], "a piece was asked for twice");
    assertWireHygiene(r);
  });

  test("a parent sending no crc32 and wrong bytes (--disable-back-to-source): exit 69, not one origin GET, no file", async () => {
    const r = await rig();
    const parent = await r.addParent();
    parent.rawVortex(unsignedCorrupt);
    const run = await r.run(["--disable-back-to-source"]);
    assert.equal(run.code, 69, run.stderr);
    assert.equal(run.json?.exitCode, 69);
    assert.equal(run.json?.pieces.fromParents, 0);
    assert.equal(originGets(r), 0, "the origin was asked for bytes");
    assert.equal(await exists(r.work.out), false, "a file was left at -O");
    assertWireHygiene(r);
  });

  test("the same without --disable-back-to-source: the origin's bytes, exit 0", async () => {
    const r = await rig();
    const parent = await r.addParent();
    parent.rawVortex(unsignedCorrupt);
    const run = await r.run([]);
    await assertDownloaded(r, run);
    assert.equal(run.json!.pieces.fromParents, 0);
    assert.equal(run.json!.pieces.fromSource, 2);
    assertWireHygiene(r);
  });

  test("a scheduler offering ourselves as the only parent: no stall on our own upload server, the origin's bytes at once (pieceTimeout 60 s, run deadline 40 s)", async () => {
    const r = await rig("60s");
    const scheduler = r.order[0]!;
    // The register is answered with our own peer on our own host, as a full Go Peer.
    scheduler.scriptAnswers((request: AnnouncePeerRequest) => {
      if (request.request?.$case !== "registerPeerRequest") return undefined;
      const host = scheduler.hosts.get(request.hostId)!;
      const now = new Date();
      const task = { id: r.taskId, type: 0, url: r.url, contentLength: BigInt(CONTENT.length), pieceLength: BigInt(4 * MiB), pieceCount: 2, state: "Running", createdAt: now, updatedAt: now };
      const self = parentPeer({ peerId: request.peerId, hostId: host.id, hostname: host.hostname, ip: host.ip, port: host.port }, task, now);
      return { $case: "normalTaskResponse", value: { candidateParents: [self] } };
    });
    const run = await r.run([]);
    await assertDownloaded(r, run);
    assert.equal(run.json!.pieces.fromSource, 2);
    const cases = scheduler.streamMessages(run.json!.peerId!).map((m) => m.request!.$case);
    assert.deepEqual(cases.slice(0, 3), ["registerPeerRequest", "downloadPeerStartedRequest", "reschedulePeerRequest"]);
    assertWireHygiene(r);
  });
});
