import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { TimeoutError } from "../../src/errors.js";
import { deferred } from "../support/wait.js";
import {
  VortexErrorCode,
  VortexProtocolError,
  VortexRemoteError,
  decodeError,
  decodeHeader,
  encodeDownloadPiece,
  encodePieceContentHeader,
  isVortexNotFound,
  type PieceMetadata,
} from "../../src/transport/vortex-codec.js";
import { fetchPiece, VortexConnectionError, type FetchPieceOptions } from "../../src/transport/vortex-client.js";
import { startVortexServer, type PieceLookupResult, type VortexServer, type VortexServerOptions } from "../../src/serve/vortex-server.js";

const TASK_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90".repeat(2);

function metaFor(n: number, data: Buffer): PieceMetadata {
  return { number: n, offset: n * 1000, length: data.length, digest: `crc32:${n}`, parentId: "", trafficType: 1, costSeconds: 0n, createdAtSeconds: 1_700_000_000n };
}

function pieceBytes(n: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + n * 7) & 0xff;
  return out;
}

async function withVortex(
  pieces: Map<number, Buffer>,
  extra: Partial<VortexServerOptions>,
  fn: (server: VortexServer) => Promise<void>,
): Promise<void> {
  const server = await startVortexServer({
    host: "127.0.0.1",
    port: 0,
    lookup: async (taskId, n) => {
      const data = taskId === TASK_ID ? pieces.get(n) : undefined;
      return data ? { metadata: metaFor(n, data), data } : undefined;
    },
    ...extra,
  });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** A raw TCP server for misbehaving parents; all its sockets die with it. */
async function withRawServer(onSocket: (socket: Socket) => void, fn: (port: number) => Promise<void>): Promise<void> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await fn((server.address() as { port: number }).port);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Sends bytes to a vortex server and returns everything it answers before closing. */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const got: Buffer[] = [];
    // A hang guard only: the servers under test close within their own (short) deadlines.
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error("server did not close within 20 s"));
    }, 20_000);
    socket.on("data", (chunk: Buffer) => got.push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(guard);
      resolve(Buffer.concat(got));
    });
    socket.write(bytes);
  });
}

function opts(port: number, pieceNumber: number, more: Partial<FetchPieceOptions> = {}): FetchPieceOptions {
  return { host: "127.0.0.1", port, taskId: TASK_ID, pieceNumber, timeoutMs: 3000, maxLength: 1 << 20, ...more };
}

describe("fetchPiece against startVortexServer", () => {
  test("returns exactly the piece bytes and metadata", async () => {
    const pieces = new Map([[0, pieceBytes(0, 70_000)], [1, pieceBytes(1, 1)], [2, Buffer.alloc(0)]]);
    const served: Array<[number, number]> = [];
    await withVortex(pieces, { hooks: { onServed: (_t, n, bytes) => served.push([n, bytes]) } }, async (server) => {
      for (const n of [0, 1, 2]) {
        const got = await fetchPiece(opts(server.port, n, { expectedLength: pieces.get(n)!.length }));
        assert.deepEqual(got.metadata, metaFor(n, pieces.get(n)!));
        assert.ok(got.data.equals(pieces.get(n)!), `piece ${n} bytes`);
      }
    });
    assert.deepEqual(served, [[0, 70_000], [1, 1], [2, 0]]);
  });

  test("streamed to a sink: chunks at their file positions, crc32 computed on the way, no buffer returned", async () => {
    // crc32("123456789") = 0xCBF43926, the CRC-32/IEEE check value.
    const check = Buffer.from("123456789");
    const large = pieceBytes(3, 300_000);
    const pieces = new Map([[0, check], [3, large]]);
    await withVortex(pieces, {}, async (server) => {
      const small = await fetchPiece(opts(server.port, 0, { sink: () => undefined, fileOffset: 0 }));
      assert.equal(small.digest, "crc32:3421780262");
      assert.equal(small.data.length, 0);

      const file = Buffer.alloc(1_000_000);
      const positions: number[] = [];
      const got = await fetchPiece(opts(server.port, 3, {
        fileOffset: 500_000,
        sink: async (chunk, position) => {
          positions.push(position);
          await new Promise((resolve) => setImmediate(resolve)); // a slow disk: the next chunk waits
          chunk.copy(file, position);
        },
      }));
      assert.ok(file.subarray(500_000, 800_000).equals(large));
      assert.equal(positions[0], 500_000);
      assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
      const whole = await fetchPiece(opts(server.port, 3));
      assert.equal(got.digest, whole.digest, "streamed and buffered digests agree");
      assert.notEqual(got.digest, small.digest);
    });
  });

  test("a sink failure fails the transfer with the sink's error", async () => {
    const pieces = new Map([[0, pieceBytes(0, 200_000)]]);
    await withVortex(pieces, {}, async (server) => {
      const disk = new Error("disk full");
      const err = await fetchPiece(opts(server.port, 0, { sink: () => Promise.reject(disk) })).catch((e: unknown) => e);
      assert.equal(err, disk);
    });
  });

  test("a missing piece is a NotFound VortexRemoteError", async () => {
    await withVortex(new Map(), {}, async (server) => {
      const err = await fetchPiece(opts(server.port, 9)).catch((e: unknown) => e);
      assert.ok(err instanceof VortexRemoteError);
      assert.equal(err.vortexCode, VortexErrorCode.NotFound);
      assert.equal(err.code, "ERR_VORTEX_REMOTE");
      assert.ok(isVortexNotFound(err));
      assert.match(err.message, new RegExp(`piece ${TASK_ID}-9 not found`));
    });
  });

  test("a failing lookup is an Internal error frame", async () => {
    const server = await startVortexServer({ host: "127.0.0.1", port: 0, lookup: async () => { throw new Error("disk on fire"); } });
    try {
      const err = await fetchPiece(opts(server.port, 0)).catch((e: unknown) => e);
      assert.ok(err instanceof VortexRemoteError);
      assert.equal(err.vortexCode, VortexErrorCode.Internal);
      assert.match(err.message, /disk on fire/);
      assert.equal(isVortexNotFound(err), false);
    } finally {
      await server.close();
    }
  });

  test("a piece longer than maxLength or than expected is refused", async () => {
    await withVortex(new Map([[0, pieceBytes(0, 1000)]]), {}, async (server) => {
      const tooBig = await fetchPiece(opts(server.port, 0, { maxLength: 999 })).catch((e: unknown) => e);
      assert.ok(tooBig instanceof VortexProtocolError);
      assert.equal(tooBig.reason, "oversized");
      const wrong = await fetchPiece(opts(server.port, 0, { expectedLength: 1001 })).catch((e: unknown) => e);
      assert.ok(wrong instanceof VortexProtocolError);
      assert.equal(wrong.reason, "mismatch");
    });
  });

  test("short data from the lookup makes the client fail and the server report the cut", async () => {
    const data = pieceBytes(3, 50_000);
    const aborted: Array<[number, number]> = [];
    const server = await startVortexServer({
      host: "127.0.0.1",
      port: 0,
      lookup: async (_t, n): Promise<PieceLookupResult> => ({ metadata: metaFor(n, data), data: data.subarray(0, 20_000) }),
      hooks: { onAborted: (_t, n, bytes) => aborted.push([n, bytes]) },
    });
    try {
      const err = await fetchPiece(opts(server.port, 3)).catch((e: unknown) => e);
      assert.ok(err instanceof VortexProtocolError || err instanceof VortexConnectionError, String(err));
      assert.deepEqual(aborted, [[3, 20_000]]);
    } finally {
      await server.close();
    }
  });

  test("a request beyond maxConcurrent is refused at once with an Error frame (Internal), not queued; the slot serves again once free", async () => {
    const gate = deferred();
    const firstLookup = deferred();
    const refused: number[] = [];
    const data = pieceBytes(0, 10);
    const server = await startVortexServer({
      host: "127.0.0.1",
      port: 0,
      maxConcurrent: 1,
      lookup: async (_t, n) => {
        if (n === 0) {
          firstLookup.resolve();
          await gate.promise;
        }
        return { metadata: metaFor(n, data), data };
      },
      hooks: { onRefused: (_t, n) => refused.push(n) },
    });
    try {
      const first = fetchPiece(opts(server.port, 0));
      await firstLookup.promise;
      // 20 s deadline: an answer that only came with a timeout would fail the asserts below.
      const err = await fetchPiece(opts(server.port, 1, { timeoutMs: 20_000 })).catch((e: unknown) => e);
      assert.ok(err instanceof VortexRemoteError, String(err));
      assert.equal(err.vortexCode, VortexErrorCode.Internal);
      assert.match(err.message, /upload slots full \(1 uploads in progress\)/);
      assert.deepEqual(refused, [1]);
      gate.resolve();
      assert.equal((await first).metadata.number, 0);
      assert.equal((await fetchPiece(opts(server.port, 1))).metadata.number, 1, "the freed slot serves the next request");
    } finally {
      await server.close();
    }
  });

  test("after close() connects are refused", async () => {
    await withVortex(new Map([[0, pieceBytes(0, 10)]]), {}, async (server) => {
      await server.close();
      const err = await fetchPiece(opts(server.port, 0)).catch((e: unknown) => e);
      assert.ok(err instanceof VortexConnectionError);
      assert.equal(err.code, "ECONNREFUSED");
      assert.equal(server.connections(), 0);
    });
  });
});

describe("fetchPiece against misbehaving parents", () => {
  test("a server that closes mid-body fails the fetch without waiting for the deadline", async () => {
    const data = pieceBytes(0, 1000);
    await withRawServer(
      (socket) => socket.once("data", () => {
        socket.write(Buffer.concat([encodePieceContentHeader(metaFor(0, data)), data.subarray(0, 400)]), () => socket.destroy());
      }),
      async (port) => {
        // Not a TimeoutError: the cut was noticed, not outwaited (the deadline is 60 s away).
        const err = await fetchPiece(opts(port, 0, { timeoutMs: 60_000 })).catch((e: unknown) => e);
        assert.ok(err instanceof VortexProtocolError || err instanceof VortexConnectionError, String(err));
        assert.ok(!(err instanceof TimeoutError));
      },
    );
  });

  test("a server that accepts but never answers times out", async () => {
    await withRawServer(() => {}, async (port) => {
      // 2 s, so that even a loaded machine has connected by then: the phase is "piece".
      const err = await fetchPiece(opts(port, 0, { timeoutMs: 2000 })).catch((e: unknown) => e);
      assert.ok(err instanceof TimeoutError, String(err));
      assert.equal(err.phase, "piece");
      assert.match(err.message, /piece 0: not received within 2000 ms/);
    });
  });

  test("bytes after the piece are ignored", async () => {
    const data = pieceBytes(5, 300);
    await withRawServer(
      (socket) => socket.once("data", () => socket.end(Buffer.concat([encodePieceContentHeader(metaFor(5, data)), data, Buffer.from("trailing junk")]))),
      async (port) => {
        const got = await fetchPiece(opts(port, 5));
        assert.ok(got.data.equals(data));
      },
    );
  });

  test("an answer for another piece is refused", async () => {
    const data = pieceBytes(1, 10);
    await withRawServer(
      (socket) => socket.once("data", () => socket.end(Buffer.concat([encodePieceContentHeader(metaFor(1, data)), data]))),
      async (port) => {
        const err = await fetchPiece(opts(port, 2)).catch((e: unknown) => e);
        assert.ok(err instanceof VortexProtocolError);
        assert.equal(err.reason, "mismatch");
      },
    );
  });

  test("the request sent is the 74-byte DownloadPiece frame", async () => {
    let request: Buffer | undefined;
    await withRawServer(
      (socket) => socket.once("data", (chunk: Buffer) => {
        request = chunk;
        socket.destroy();
      }),
      async (port) => {
        await fetchPiece(opts(port, 258)).catch(() => {});
      },
    );
    assert.ok(request);
    assert.equal(request.length, 74);
    assert.equal(request.subarray(1).toString("hex"), encodeDownloadPiece(TASK_ID, 258, 0).subarray(1).toString("hex"));
  });

  test("an aborted signal rejects with its reason", async () => {
    const controller = new AbortController();
    const reason = new Error("run interrupted");
    // Aborted once the parent holds the request, i.e. while the fetch is in flight.
    await withRawServer((socket) => socket.once("data", () => controller.abort(reason)), async (port) => {
      const err = await fetchPiece(opts(port, 0, { signal: controller.signal })).catch((e: unknown) => e);
      assert.equal(err, reason);
    });
  });
});

describe("startVortexServer against bad requests", () => {
  const pieces = new Map([[0, pieceBytes(0, 10)]]);

  async function answerTo(bytes: Buffer, extra: Partial<VortexServerOptions> = {}): Promise<Buffer> {
    let answer: Buffer = Buffer.alloc(0);
    await withVortex(pieces, extra, async (server) => {
      answer = await exchange(server.port, bytes);
    });
    return answer;
  }

  function errorFrame(answer: Buffer): { code: number; message: string } {
    const header = decodeHeader(answer);
    assert.equal(header.tag, 255);
    assert.equal(answer.length, 6 + header.length);
    return decodeError(answer.subarray(6));
  }

  test("a request of the wrong length gets InvalidArgument", async () => {
    const answer = await answerTo(Buffer.concat([Buffer.from("00000000000a", "hex"), Buffer.alloc(10)]));
    assert.equal(errorFrame(answer).code, VortexErrorCode.InvalidArgument);
  });

  test("a request claiming 4 GiB gets InvalidArgument without reading on", async () => {
    const answer = await answerTo(Buffer.from("0000ffffffff", "hex"));
    const { code, message } = errorFrame(answer);
    assert.equal(code, VortexErrorCode.InvalidArgument);
    assert.match(message, /4294967295/);
  });

  test("a garbage tag gets InvalidArgument", async () => {
    const answer = await answerTo(Buffer.from("00c800000044", "hex"));
    assert.equal(errorFrame(answer).code, VortexErrorCode.InvalidArgument);
  });

  test("a silent client is dropped after the request deadline", async () => {
    // exchange() fails if the server does not close on its own.
    const answer = await answerTo(Buffer.alloc(0), { requestTimeoutMs: 100 });
    assert.equal(answer.length, 0);
  });

  test("an unknown task id is NotFound", async () => {
    const answer = await answerTo(encodeDownloadPiece("f".repeat(64), 0));
    assert.equal(errorFrame(answer).code, VortexErrorCode.NotFound);
  });
});
