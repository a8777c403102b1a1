// Resume when the pieces come from a parent (issue 11 item 5): dfget is killed (-9) after
// two pieces from the parent; the same command again reuses them, fetches only the other
// four from the parent, never asks the origin for a byte, and leaves nothing behind. While
// the rerun waits for the parent, another peer fetches a reused piece from our upload
// server (SyncPieces, then vortex): resumed pieces are served like any other.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Host } from "../../src/gen/common/v2/common.js";
import { DfdaemonUploadClient, type SyncPiecesResponse } from "../../src/gen/dfdaemon/v2/dfdaemon.js";
import { fetchPiece } from "../../src/transport/vortex-client.js";
import { baseEnv } from "../support/cli.js";
import { partFiles } from "../support/cli-e2e.js";
import { waitFor } from "../support/wait.js";
import { MiB, PIECE_LENGTH, assertDownloaded, sha256, startRig, type P2PRig } from "./p2p-harness.js";

const CONTENT = randomBytes(22 * MiB + 5); // 6 pieces
const rigs: P2PRig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

function recordedCount(record: string): number {
  try {
    const text = readFileSync(record, "utf8");
    return text === "" ? 0 : (JSON.parse(text) as { pieces: unknown[] }).pieces.length;
  } catch {
    return 0;
  }
}

/** SyncPieces at our upload server for one piece: the first answer (ip, tcpPort, …). */
function syncOne(grpcPort: number, taskId: string, piece: number): Promise<SyncPiecesResponse> {
  const client = new DfdaemonUploadClient(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  return new Promise<SyncPiecesResponse>((resolve, reject) => {
    const call = client.syncPieces({ hostId: "127.0.0.1-other-child", taskId, interestedPieceNumbers: [piece] }, { deadline: Date.now() + 10_000 });
    call.on("data", (m: SyncPiecesResponse) => resolve(m));
    call.on("error", reject);
    call.on("status", (s: grpc.StatusObject) => reject(new Error(`SyncPieces ended ${s.code} ${s.details} before an answer`)));
  }).finally(() => client.close());
}

describe("resume from parents", () => {
  test("kill -9 after two parent pieces, rerun: reused 2, the other 4 from the parent, none from the origin; a reused piece is served to another peer", async () => {
    const r = await startRig({ content: CONTENT, pieceTimeout: "20s" });
    rigs.push(r);
    const path = "/p2p.bin";
    const origin = r.cluster.origin!;
    const tmp = join(r.work.dir, "tmp");
    await mkdir(tmp);
    const env = baseEnv({ TMPDIR: tmp });
    // The parent has two pieces and gets no more until the test says so: dfget waits on it.
    const parent = await r.addParent([0, 1]);
    const scheduler = r.order[0]!;
    const record = join(r.work.dir, ".out.bin.dfget.json");

    const killed = await r.run([], {
      env,
      onSpawn: (child) => {
        waitFor("two pieces in the resume record", () => recordedCount(record) >= 2, 30_000).then(() => child.kill("SIGKILL"), () => child.kill("SIGKILL"));
      },
    });
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    assert.deepEqual([...parent.piecesServed()].sort(), [0, 1]);
    const servedBefore = parent.piecesServed().length;

    let reusedPiece: Buffer | undefined;
    const rerun = await r.run([], {
      env,
      onSpawn: () => {
        // The rerun's AnnounceHost (the second one) names its upload server.
        waitFor("the rerun's AnnounceHost", () => scheduler.calls("AnnounceHost").length >= 2, 30_000)
          .then(async () => {
            const announced = scheduler.calls("AnnounceHost").at(-1) as { host: Host };
            const answer = await syncOne(announced.host.port, r.taskId, 0);
            assert.ok(answer.tcpPort, "SyncPieces names our vortex port");
            const { data } = await fetchPiece({ host: answer.ip, port: answer.tcpPort, taskId: r.taskId, pieceNumber: 0, timeoutMs: 10_000, maxLength: PIECE_LENGTH });
            reusedPiece = Buffer.from(data);
          })
          .catch(() => undefined)
          .finally(() => parent.addAllPieces());
      },
    });
    await assertDownloaded(r, rerun);
    assert.equal(rerun.json?.pieces.reused, 2);
    assert.equal(rerun.json?.pieces.fromParents, 4);
    assert.equal(rerun.json?.pieces.fromSource, 0);
    assert.equal(rerun.json?.backToSource, false);
    assert.deepEqual(parent.piecesServed().slice(servedBefore).sort(), [2, 3, 4, 5], "the rerun fetched only the missing pieces from the parent");
    assert.equal(origin.bytesServedFor(path), 0, "no byte from the origin in either run");
    assert.ok(reusedPiece, "another peer got reused piece 0 from our upload server");
    assert.equal(sha256(reusedPiece), sha256(CONTENT.subarray(0, PIECE_LENGTH)));
    assert.deepEqual(await partFiles(r.work.dir), [], "partial, record and lock removed on success");
    assert.deepEqual(await readdir(tmp), [], "nothing in TMPDIR");
    assert.equal(sha256(await readFile(r.work.out)), sha256(CONTENT));
  });
});
