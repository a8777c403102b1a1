import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { DfdaemonUploadClient, type SyncPiecesRequest, type SyncPiecesResponse } from "../../src/gen/dfdaemon/v2/dfdaemon.js";
import { HealthCheckResponse_ServingStatus, HealthClient } from "../../src/gen/grpc/health/v1/health.js";
import { isVortexNotFound, VortexProtocolError } from "../../src/transport/vortex-codec.js";
import { fetchPiece, VortexConnectionError } from "../../src/transport/vortex-client.js";
import { startSeedParent, type FakeParent } from "../support/parent.js";
import { waitFor } from "../support/wait.js";

const TASK_ID = "5d41402abc4b2a76b9719d911017c592".repeat(2);
const PIECE_LENGTH = 64 * 1024;
// 3.5 pieces: the last piece is short.
const CONTENT = Buffer.from(Array.from({ length: PIECE_LENGTH * 3 + PIECE_LENGTH / 2 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));

function slice(n: number): Buffer {
  return CONTENT.subarray(n * PIECE_LENGTH, Math.min((n + 1) * PIECE_LENGTH, CONTENT.length));
}

async function withParent(pieces: "all" | number[], fn: (parent: FakeParent) => Promise<void>): Promise<void> {
  const parent = await startSeedParent({ content: CONTENT, taskId: TASK_ID, pieceLength: PIECE_LENGTH, pieces, hostname: "seed-a" });
  try {
    await fn(parent);
  } finally {
    await parent.close();
  }
}

function uploadClient(parent: FakeParent): DfdaemonUploadClient {
  return new DfdaemonUploadClient(`127.0.0.1:${parent.grpcPort}`, grpc.credentials.createInsecure());
}

interface SyncOutcome {
  messages: SyncPiecesResponse[];
  status: grpc.StatusObject;
}

/** Runs SyncPieces to its end; onMessage may act on the parent between messages. */
function syncPieces(client: DfdaemonUploadClient, request: SyncPiecesRequest, onMessage?: (m: SyncPiecesResponse, count: number) => void): Promise<SyncOutcome> {
  return new Promise((resolve) => {
    const messages: SyncPiecesResponse[] = [];
    const call = client.syncPieces(request, { deadline: Date.now() + 5000 });
    call.on("data", (m: SyncPiecesResponse) => {
      messages.push(m);
      onMessage?.(m, messages.length);
    });
    call.on("error", () => {});
    call.on("status", (status: grpc.StatusObject) => resolve({ messages, status }));
  });
}

function fetchOpts(parent: FakeParent, n: number) {
  return { host: parent.ip, port: parent.tcpPort, taskId: TASK_ID, pieceNumber: n, timeoutMs: 3000, maxLength: PIECE_LENGTH };
}

describe("fake seed parent", () => {
  test("ids and ports look like a Rust seed peer's", async () => {
    await withParent("all", async (parent) => {
      assert.equal(parent.hostId, "127.0.0.1-seed-a-seed");
      assert.match(parent.peerId, /^127\.0\.0\.1-seed-a-[0-9a-f-]{36}-seed$/);
      assert.ok(parent.grpcPort > 0 && parent.tcpPort > 0 && parent.grpcPort !== parent.tcpPort);
    });
  });

  test("SyncPieces streams existing pieces, then late ones as they are added, then ends OK", async () => {
    await withParent([0, 2], async (parent) => {
      const client = uploadClient(parent);
      const request = { hostId: "127.0.0.1-child", taskId: TASK_ID, interestedPieceNumbers: [0, 1, 2, 3] };
      const { messages, status } = await syncPieces(client, request, (_m, count) => {
        // Added while the stream waits, as a parent that is still downloading.
        if (count === 2) parent.addPiece(3);
        if (count === 3) parent.addPiece(1);
      });
      client.close();
      assert.equal(status.code, grpc.status.OK);
      assert.deepEqual(messages.map((m) => m.number), [0, 2, 3, 1]);
      const last = messages.find((m) => m.number === 3)!;
      assert.equal(last.offset, BigInt(3 * PIECE_LENGTH));
      assert.equal(last.length, BigInt(PIECE_LENGTH / 2));
      assert.equal(last.ip, "127.0.0.1");
      assert.equal(last.tcpPort, parent.tcpPort);
      assert.deepEqual(parent.syncRequests, [request]);
    });
  });

  test("SyncPieces ends once the task is complete even if more was asked for", async () => {
    await withParent("all", async (parent) => {
      const client = uploadClient(parent);
      const { messages, status } = await syncPieces(client, { hostId: "h", taskId: TASK_ID, interestedPieceNumbers: [1, 9] });
      client.close();
      assert.equal(status.code, grpc.status.OK);
      assert.deepEqual(messages.map((m) => m.number), [1]);
    });
  });

  test("SyncPieces validates like a Rust parent", async () => {
    await withParent("all", async (parent) => {
      const client = uploadClient(parent);
      const empty = await syncPieces(client, { hostId: "h", taskId: TASK_ID, interestedPieceNumbers: [] });
      assert.equal(empty.status.code, grpc.status.INVALID_ARGUMENT);
      const noHost = await syncPieces(client, { hostId: "", taskId: TASK_ID, interestedPieceNumbers: [0] });
      assert.equal(noHost.status.code, grpc.status.INVALID_ARGUMENT);
      const unknown = await syncPieces(client, { hostId: "h", taskId: "f".repeat(64), interestedPieceNumbers: [0] });
      assert.equal(unknown.status.code, grpc.status.INTERNAL);
      assert.match(unknown.status.details, /task f{64} not found/);
      client.close();
      assert.equal(parent.syncRequests.length, 3);
    });
  });

  test("vortex returns the exact bytes and a crc32 digest of them", async () => {
    await withParent("all", async (parent) => {
      for (const n of [0, 3]) {
        const { metadata, data } = await fetchPiece(fetchOpts(parent, n));
        assert.ok(data.equals(slice(n)), `piece ${n}`);
        assert.equal(metadata.digest, `crc32:${crc32(slice(n))}`);
        assert.equal(metadata.offset, n * PIECE_LENGTH);
        assert.equal(metadata.trafficType, 1);
        assert.equal(metadata.parentId, "");
      }
      assert.deepEqual(parent.piecesServed(), [0, 3]);
      assert.equal(parent.bytesServed(), PIECE_LENGTH + PIECE_LENGTH / 2);
    });
  });

  test("a piece the parent does not have yet is NotFound over vortex", async () => {
    await withParent([0], async (parent) => {
      const err = await fetchPiece(fetchOpts(parent, 1)).catch((e: unknown) => e);
      assert.ok(isVortexNotFound(err), String(err));
      parent.addPiece(1);
      assert.ok((await fetchPiece(fetchOpts(parent, 1))).data.equals(slice(1)));
    });
  });

  test("corruptPiece serves wrong bytes under the true digest", async () => {
    await withParent("all", async (parent) => {
      parent.corruptPiece(2);
      const { metadata, data } = await fetchPiece(fetchOpts(parent, 2));
      assert.equal(data.length, slice(2).length);
      assert.ok(!data.equals(slice(2)));
      assert.equal(metadata.digest, `crc32:${crc32(slice(2))}`);
      assert.notEqual(`crc32:${crc32(data)}`, metadata.digest);
    });
  });

  test("dieMidPiece makes fetchPiece fail after half the bytes", async () => {
    await withParent("all", async (parent) => {
      parent.dieMidPiece(1);
      const err = await fetchPiece(fetchOpts(parent, 1)).catch((e: unknown) => e);
      assert.ok(err instanceof VortexProtocolError || (err instanceof VortexConnectionError && err.code !== "ECONNREFUSED"), String(err));
      assert.equal(parent.bytesServed(), PIECE_LENGTH / 2);
      assert.deepEqual(parent.piecesServed(), []);
      // Other pieces are unaffected.
      assert.ok((await fetchPiece(fetchOpts(parent, 0))).data.equals(slice(0)));
    });
  });

  test("kill() refuses new vortex and gRPC connections", async () => {
    await withParent("all", async (parent) => {
      await parent.kill();
      const err = await fetchPiece(fetchOpts(parent, 0)).catch((e: unknown) => e);
      assert.ok(err instanceof VortexConnectionError, String(err));
      assert.equal(err.code, "ECONNREFUSED");
      const client = uploadClient(parent);
      const { status } = await syncPieces(client, { hostId: "h", taskId: TASK_ID, interestedPieceNumbers: [0] });
      client.close();
      assert.equal(status.code, grpc.status.UNAVAILABLE);
    });
  });

  test("kill() cuts a SyncPieces stream that is waiting for pieces", async () => {
    await withParent([0], async (parent) => {
      const client = uploadClient(parent);
      const outcome = syncPieces(client, { hostId: "h", taskId: TASK_ID, interestedPieceNumbers: [0, 1] }, () => {
        void parent.kill();
      });
      const { messages, status } = await outcome;
      client.close();
      assert.deepEqual(messages.map((m) => m.number), [0]);
      assert.notEqual(status.code, grpc.status.OK);
    });
  });

  test("a cancelled SyncPieces stream is dropped; close() ends waiting ones with UNAVAILABLE", async () => {
    const parent = await startSeedParent({ content: CONTENT, taskId: TASK_ID, pieceLength: PIECE_LENGTH, pieces: [0] });
    const client = uploadClient(parent);
    try {
      const cancelled = client.syncPieces({ hostId: "h", taskId: TASK_ID, interestedPieceNumbers: [0, 1] });
      cancelled.on("error", () => {});
      await new Promise<void>((resolve) => cancelled.once("data", () => resolve()));
      cancelled.cancel();
      await waitFor("the parent to drop the cancelled stream", () => parent.openSyncStreams() === 0);
      parent.addPiece(1); // must not write to the cancelled call
      const waiting = syncPieces(client, { hostId: "h", taskId: TASK_ID, interestedPieceNumbers: [2] });
      await waitFor("the second stream to wait for piece 2", () => parent.openSyncStreams() === 1);
      await parent.close();
      const { messages, status } = await waiting;
      assert.deepEqual(messages, []);
      assert.equal(status.code, grpc.status.UNAVAILABLE);
    } finally {
      client.close();
      await parent.kill();
    }
  });

  test("health answers SERVING for '' and the upload service, NOT_FOUND otherwise", async () => {
    await withParent("all", async (parent) => {
      const client = new HealthClient(`127.0.0.1:${parent.grpcPort}`, grpc.credentials.createInsecure());
      const check = (service: string) =>
        new Promise<{ status?: number; code?: number }>((resolve) => {
          client.check({ service }, new grpc.Metadata(), { deadline: Date.now() + 3000 }, (err, res) =>
            resolve(err ? { code: err.code } : { status: res.status }),
          );
        });
      assert.deepEqual(await check(""), { status: HealthCheckResponse_ServingStatus.SERVING });
      assert.deepEqual(await check("dfdaemon.v2.DfdaemonUpload"), { status: HealthCheckResponse_ServingStatus.SERVING });
      assert.deepEqual(await check("scheduler.v2.Scheduler"), { code: grpc.status.NOT_FOUND });
      client.close();
    });
  });
});
