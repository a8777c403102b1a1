// The process-wide upload server over a fake ServedPieces: SyncPieces tells a child what
// we have (now and as it lands), vortex hands out the bytes, serve()/withdraw() decide
// which tasks are offered. Real servers on 127.0.0.1, no sleeps: every wait is an event.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { DfdaemonUploadClient, type SyncPiecesResponse } from "../../src/gen/dfdaemon/v2/dfdaemon.js";
import { HealthClient, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health.js";
import { startUploadServer, type ServedPiece, type ServedPieces, type UploadServer } from "../../src/serve/upload.js";
import { fetchPiece } from "../../src/transport/vortex-client.js";
import { isVortexNotFound } from "../../src/transport/vortex-codec.js";

const TASK = "a".repeat(64);

/** Pieces of four bytes each, filled with their number; finish(n) makes one available. */
class FakePieces implements ServedPieces {
  private readonly done = new Map<number, ServedPiece>();
  private readonly events = new EventEmitter<{ finished: [ServedPiece] }>();
  finish(n: number): void {
    const piece: ServedPiece = { number: n, offset: n * 4, length: 4, digest: `crc32:${n}`, parentId: "", costMs: 1500, createdAt: new Date(2_000_000) };
    this.done.set(n, piece);
    this.events.emit("finished", piece);
  }
  finishedPiece(n: number): ServedPiece | undefined {
    return this.done.get(n);
  }
  async read(n: number): Promise<{ piece: ServedPiece; data: Buffer } | undefined> {
    const piece = this.done.get(n);
    return piece ? { piece, data: Buffer.alloc(4, n) } : undefined;
  }
  onFinished(listener: (piece: ServedPiece) => void): () => void {
    this.events.on("finished", listener);
    return () => this.events.off("finished", listener);
  }
  listeners(): number {
    return this.events.listenerCount("finished");
  }
}

function sync(client: DfdaemonUploadClient, taskId: string, pieces: number[]): { got: SyncPiecesResponse[]; ended: Promise<grpc.StatusObject>; first: Promise<void> } {
  const got: SyncPiecesResponse[] = [];
  const call = client.syncPieces({ hostId: "child", taskId, interestedPieceNumbers: pieces });
  let firstSeen: () => void = () => undefined;
  const first = new Promise<void>((resolve) => (firstSeen = resolve));
  call.on("data", (msg: SyncPiecesResponse) => {
    got.push(msg);
    firstSeen();
  });
  call.on("error", () => undefined);
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  return { got, ended, first };
}

describe("upload server", () => {
  let server: UploadServer;
  let client: DfdaemonUploadClient;
  const pieces = new FakePieces();
  let withdraw: () => void;

  before(async () => {
    server = await startUploadServer({ bindIp: "127.0.0.1", advertiseIp: "127.0.0.1", grpcPort: 0, tcpPort: 0 });
    withdraw = server.serve(TASK, pieces);
    client = new DfdaemonUploadClient(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.close();
  });

  test("health answers SERVING for the upload service", async () => {
    const health = new HealthClient(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    const status = await new Promise<number>((resolve, reject) =>
      health.check({ service: "dfdaemon.v2.DfdaemonUpload" }, (err, res) => (err ? reject(err) : resolve(res!.status))),
    );
    health.close();
    assert.equal(status, HealthCheckResponse_ServingStatus.SERVING);
  });

  test("SyncPieces: what we have at once, the rest as it lands, then the stream ends", async () => {
    pieces.finish(0);
    const s = sync(client, TASK, [0, 1]);
    await s.first;
    assert.deepEqual(s.got.map((m) => m.number), [0]);
    pieces.finish(1);
    const status = await s.ended;
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(
      s.got.map((m) => [m.number, Number(m.offset), Number(m.length), m.ip, m.tcpPort]),
      [
        [0, 0, 4, "127.0.0.1", server.tcpPort],
        [1, 4, 4, "127.0.0.1", server.tcpPort],
      ],
    );
    assert.equal(pieces.listeners(), 0, "the finished listener is removed with the stream");
  });

  test("vortex hands out a finished piece's bytes and metadata; a missing one is not found", async () => {
    const { metadata, data } = await fetchPiece({ host: "127.0.0.1", port: server.tcpPort, taskId: TASK, pieceNumber: 1, timeoutMs: 5000, maxLength: 4 });
    assert.deepEqual(data, Buffer.alloc(4, 1));
    assert.deepEqual([metadata.number, metadata.offset, metadata.length, metadata.digest], [1, 4, 4, "crc32:1"]);
    await assert.rejects(fetchPiece({ host: "127.0.0.1", port: server.tcpPort, taskId: TASK, pieceNumber: 9, timeoutMs: 5000, maxLength: 4 }), (err) => isVortexNotFound(err));
  });

  test("bad requests and tasks not offered (or withdrawn) are refused", async () => {
    const empty = sync(client, TASK, []);
    assert.equal((await empty.ended).code, grpc.status.INVALID_ARGUMENT);
    const other = sync(client, "b".repeat(64), [0]);
    assert.equal((await other.ended).code, grpc.status.INTERNAL);
    withdraw();
    const gone = sync(client, TASK, [0]);
    assert.equal((await gone.ended).code, grpc.status.INTERNAL);
    await assert.rejects(fetchPiece({ host: "127.0.0.1", port: server.tcpPort, taskId: TASK, pieceNumber: 0, timeoutMs: 5000, maxLength: 4 }), (err) => isVortexNotFound(err));
  });
});
