// End-to-end: children that request a piece from our upload server and never read it
// cannot starve the honest ones. dfget runs with pieceTimeout 4 s (the low-speed window,
// for its uploads as for its downloads) and 16 upload slots; while its download is held
// open (the parent drips its last full piece until the test releases it), 16 stalled
// children take every slot; a 17th request is answered at once with an Error frame
// ("upload slots full"), not queued; once the stalled children are cut (one window after
// their reads stopped) an honest child gets its piece; then the download ends, exit 0.
// (Where the kernel's socket buffers absorb a whole piece, a stalled child frees its slot
// by itself and the 17th request is served: see the comment at the assertion.)
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { setTimeout as pause } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import type { Host } from "../../src/gen/common/v2/common.js";
import { DfdaemonUploadClient, type SyncPiecesResponse } from "../../src/gen/dfdaemon/v2/dfdaemon.js";
import { fetchPiece, type FetchedPiece } from "../../src/transport/vortex-client.js";
import { VortexErrorCode, VortexRemoteError, encodeDownloadPiece, encodePieceContentHeader } from "../../src/transport/vortex-codec.js";
import type { RawPieceRequest } from "../support/parent.js";
import { deferred, waitFor } from "../support/wait.js";
import { PIECE_LENGTH, assertDownloaded, sha256, startRig, type P2PRig } from "./p2p-harness.js";

const CONTENT = randomBytes(3 * PIECE_LENGTH + 123); // 4 pieces: 0–2 of 4 MiB, 3 of 123 bytes
/** dfget's upload slots (serve/upload.ts default). */
const SLOTS = 16;
/** Longest the honest child may take, counted from the refusal: a few 4 s windows, far below the 360 s upload deadline. */
const HONEST_GUARD_MS = 30_000;
const rigs: P2PRig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

/** SyncPieces at our upload server for one piece: its first answer, once dfget has the piece. */
function syncOne(grpcPort: number, taskId: string, piece: number): Promise<SyncPiecesResponse> {
  const client = new DfdaemonUploadClient(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  return new Promise<SyncPiecesResponse>((resolve, reject) => {
    const call = client.syncPieces({ hostId: "127.0.0.1-other-child", taskId, interestedPieceNumbers: [piece] }, { deadline: Date.now() + 20_000 });
    call.on("data", (m: SyncPiecesResponse) => resolve(m));
    call.on("error", reject);
    call.on("status", (s: grpc.StatusObject) => reject(new Error(`SyncPieces ended ${s.code} ${s.details} before an answer`)));
  }).finally(() => client.close());
}

/** A child that sends its request, takes its first 64 bytes (its upload has begun) and never reads again. */
function stalledChild(at: SyncPiecesResponse, taskId: string): { started: Promise<void>; socket: Socket } {
  const started = deferred();
  const socket = connect({
    host: at.ip,
    port: at.tcpPort!,
    onread: { buffer: Buffer.alloc(64), callback: () => (started.resolve(), false) },
  });
  socket.on("error", () => {});
  socket.write(encodeDownloadPiece(taskId, at.number));
  return { started: started.promise, socket };
}

/**
 * The parent's piece 2 in 4 KiB steps every 100 ms (40 KiB/s, far above the 1 KiB/s
 * limit: dfget keeps the transfer and stays up), the rest at once when `release` settles.
 */
function drip(release: Promise<void>): (socket: Socket, q: RawPieceRequest) => "pass" | void {
  return (socket, q) => {
    if (q.pieceNumber !== 2) return "pass";
    const all = Buffer.concat([encodePieceContentHeader(q.metadata), q.truth]);
    let at = 0;
    const timer = setInterval(() => {
      if (at + 4096 >= all.length) return; // the last bytes wait for the release
      socket.write(all.subarray(at, at + 4096));
      at += 4096;
    }, 100);
    socket.once("close", () => clearInterval(timer));
    void release.then(() => {
      clearInterval(timer);
      if (!socket.destroyed) socket.end(all.subarray(at));
    });
  };
}

/** The honest child: asks again while the slots are full (each answer comes at once), until served. */
async function honestFetch(at: SyncPiecesResponse, taskId: string): Promise<{ piece: FetchedPiece; refusals: number }> {
  const deadline = Date.now() + HONEST_GUARD_MS;
  for (let refusals = 0; ; refusals++) {
    const got = await fetchPiece({ host: at.ip, port: at.tcpPort!, taskId, pieceNumber: at.number, timeoutMs: 5_000, maxLength: PIECE_LENGTH }).catch((e: unknown) => e);
    if (!(got instanceof Error)) return { piece: got as FetchedPiece, refusals };
    if (!(got instanceof VortexRemoteError) || Date.now() > deadline) throw got;
    await pause(100); // spares the CPU between tries; correctness never depends on it
  }
}

describe("upload slots", () => {
  test(`${SLOTS} children that never read: a 17th request is refused at once, an honest child gets its piece once they are cut, and our download ends 0`, async () => {
    const r = await startRig({ content: CONTENT, pieceTimeout: "4s" });
    rigs.push(r);
    const parent = await r.addParent();
    const release = deferred();
    parent.rawVortex(drip(release.promise));
    const scheduler = r.order[0]!;
    const stalled: Socket[] = [];
    let scenario: Promise<{ refusal: unknown; honest: { piece: FetchedPiece; refusals: number } }> | undefined;

    const run = await r.run([], {
      onSpawn: () => {
        scenario = (async () => {
          await waitFor("dfget's AnnounceHost", () => scheduler.calls("AnnounceHost").length >= 1);
          const host = (scheduler.calls("AnnounceHost").at(-1) as { host: Host }).host;
          const piece0 = await syncOne(host.port, r.taskId, 0);
          const piece1 = await syncOne(host.port, r.taskId, 1);
          const children = Array.from({ length: SLOTS }, () => stalledChild(piece0, r.taskId));
          stalled.push(...children.map((c) => c.socket));
          await Promise.all(children.map((c) => c.started));
          // Every slot is held by a child that stopped reading: the next request is refused at once.
          const refusal = await fetchPiece({ host: piece1.ip, port: piece1.tcpPort!, taskId: r.taskId, pieceNumber: 1, timeoutMs: 3_000, maxLength: PIECE_LENGTH }).catch((e: unknown) => e);
          const honest = await honestFetch(piece1, r.taskId);
          return { refusal, honest };
        })().finally(() => release.resolve());
      },
    });
    for (const socket of stalled) socket.destroy();
    const { refusal, honest } = await scenario!;
    // A stalled child holds its slot only while the kernel cannot take the rest of its 4 MiB
    // piece: where socket buffers absorb a whole piece (they took 3.7 MiB here, and more on
    // a CI run), its upload ends and the 17th request is simply served. Either way the
    // request is answered at once (fetchPiece's 3 s deadline), and when it is refused, it is
    // refused in these words. Refusal and the low-speed cut are proven machine-independently
    // in test/unit/vortex-client-server.test.ts and test/unit/upload-low-speed.test.ts.
    if (refusal instanceof Error) {
      assert.ok(refusal instanceof VortexRemoteError, `a full server answers with an Error frame at once, got ${String(refusal)}`);
      assert.equal(refusal.vortexCode, VortexErrorCode.Internal);
      assert.match(refusal.message, /upload slots full \(16 uploads in progress\)/);
    } else {
      assert.equal(sha256((refusal as FetchedPiece).data), sha256(CONTENT.subarray(PIECE_LENGTH, 2 * PIECE_LENGTH)), "served, with the right bytes");
    }
    assert.equal(sha256(honest.piece.data), sha256(CONTENT.subarray(PIECE_LENGTH, 2 * PIECE_LENGTH)), "the honest child got piece 1");
    await assertDownloaded(r, run);
    assert.equal(run.json!.pieces.fromParents, 4);
    assert.equal(run.json!.backToSource, false);
  });
});
