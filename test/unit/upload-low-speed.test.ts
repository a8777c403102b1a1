// The low-speed rule on uploads (serve/upload-body.ts): a child that requests a piece and
// then reads less than download.lowSpeedLimit over a window — or nothing — is cut and its
// upload slot freed, as a parent that stops sending loses ours. Unit: a fake socket whose
// writes the test acknowledges by hand, and hand-driven watchdog timers. Server: the real
// vortex server with a child that stops reading after its first bytes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";
import { startVortexServer } from "../../src/serve/vortex-server.js";
import { writeWatched, type BodyOutcome } from "../../src/serve/upload-body.js";
import { encodeDownloadPiece, type PieceMetadata } from "../../src/transport/vortex-codec.js";
import { fetchPiece } from "../../src/transport/vortex-client.js";
import { deferred, HANG_GUARD_MS } from "../support/wait.js";
import { handTimers, settle } from "../support/fake-timer.js";

const KiB = 1024;
const WINDOW_MS = 1000;
const TASK_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90".repeat(2);


/** A socket whose kernel takes a write only when the test calls take(); write() always asks for "drain". */
class FakeSocket extends EventEmitter {
  destroyed = false;
  readonly pending: Array<{ length: number; cb: (err?: Error | null) => void }> = [];
  write(chunk: Buffer, cb: (err?: Error | null) => void): boolean {
    this.pending.push({ length: chunk.length, cb });
    return false;
  }
  /** The kernel takes the oldest pending write; "drain" when none is left. */
  take(): number {
    const next = this.pending.shift();
    if (!next) return 0;
    next.cb(null);
    if (this.pending.length === 0) this.emit("drain");
    return next.length;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.pending.splice(0)) p.cb(new Error("destroyed"));
    this.emit("close");
  }
}

function watched(body: number, limit: number): { socket: FakeSocket; timers: ReturnType<typeof handTimers>; outcome: Promise<BodyOutcome> } {
  const socket = new FakeSocket();
  const timers = handTimers();
  const outcome = writeWatched(socket as unknown as Socket, Buffer.alloc(10), Buffer.alloc(body), "child 10.0.0.9:5000 (piece 3)", { limitBytesPerSecond: limit, windowMs: WINDOW_MS, timers });
  return { socket, timers, outcome };
}

describe("writeWatched: the low-speed rule for a child's reads", () => {
  test("a child that takes the header and then nothing for a window is cut: socket destroyed, 0 body bytes", async () => {
    const { socket, timers, outcome } = watched(256 * KiB, 1 * KiB);
    assert.equal(socket.take(), 10, "the header");
    timers.advance(WINDOW_MS / 2);
    assert.equal(socket.destroyed, false, "half a window is not a window");
    timers.advance(WINDOW_MS / 2);
    // Window [0, 1000]: the 10 header bytes < 1 KiB/s × 1 s.
    assert.equal(socket.destroyed, true);
    assert.deepEqual(await outcome, { sent: false, bytes: 0, lowSpeed: "10 B/s over 1000 ms (below 1024 B/s) from child 10.0.0.9:5000 (piece 3)" });
  });

  test("a child silent from the start is cut after one window with 'no data'", async () => {
    const { socket, timers, outcome } = watched(64 * KiB, 1 * KiB);
    timers.advance(WINDOW_MS);
    assert.equal(socket.destroyed, true);
    assert.deepEqual(await outcome, { sent: false, bytes: 0, lowSpeed: "no data for 1000 ms from child 10.0.0.9:5000 (piece 3)" });
  });

  test("a child reading 64 KiB per window (64 KiB/s, above 1 KiB/s) is never cut, however many windows it takes", async () => {
    const { socket, timers, outcome } = watched(4 * 64 * KiB, 1 * KiB);
    socket.take(); // header
    for (let i = 0; i < 4; i++) {
      await settle(); // the next chunk is written after "drain"
      assert.equal(socket.take(), 64 * KiB);
      timers.advance(WINDOW_MS);
      assert.equal(socket.destroyed, false, `window ${i + 1}`);
    }
    assert.deepEqual(await outcome, { sent: true, bytes: 4 * 64 * KiB });
  });

  test("a child reading 64 KiB per window under a 128 KiB/s limit is cut at the first full window", async () => {
    const { socket, timers, outcome } = watched(4 * 64 * KiB, 128 * KiB);
    socket.take(); // header
    await settle();
    assert.equal(socket.take(), 64 * KiB);
    timers.advance(WINDOW_MS);
    assert.equal(socket.destroyed, true);
    const got = await outcome;
    assert.equal(got.sent, false);
    assert.equal(got.bytes, 64 * KiB);
    assert.equal(got.lowSpeed, "65546 B/s over 1000 ms (below 131072 B/s) from child 10.0.0.9:5000 (piece 3)");
  });
});

/** Turns a hang (the child never cut) into a failure. */
async function hangGuard<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), HANG_GUARD_MS);
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}

function meta(n: number, length: number): PieceMetadata {
  return { number: n, offset: 0, length, digest: "crc32:0", parentId: "", trafficType: 1, costSeconds: 0n, createdAtSeconds: 1_700_000_000n };
}

/** A child that sends its request, takes its first bytes and then never reads again. */
function stalledChild(port: number, pieceNumber: number): { started: Promise<void>; socket: Socket } {
  const started = deferred();
  const socket = connect({
    host: "127.0.0.1",
    port,
    onread: { buffer: Buffer.alloc(64), callback: () => (started.resolve(), false) },
  });
  socket.on("error", () => {});
  socket.write(encodeDownloadPiece(TASK_ID, pieceNumber));
  return { started: started.promise, socket };
}

describe("vortex server: a stalled child loses its slot", () => {
  test("with one slot, a child that stops reading a 16 MiB piece is cut at the window's check, and the next child is served", async () => {
    const timers = handTimers();
    const big = Buffer.alloc(16 * 1024 * KiB, 7);
    const small = Buffer.from("honest");
    const aborted: Array<{ piece: number; lowSpeed?: string }> = [];
    const cut = deferred();
    const server = await startVortexServer({
      host: "127.0.0.1",
      port: 0,
      maxConcurrent: 1,
      // 1 GiB/s: what the kernel's socket buffers absorb of a stalled 16 MiB piece is far below it.
      lowSpeed: { limitBytesPerSecond: 1024 * 1024 * KiB, windowMs: WINDOW_MS, timers },
      lookup: async (_t, n) => (n === 0 ? { metadata: meta(0, big.length), data: big } : { metadata: meta(1, small.length), data: small }),
      hooks: {
        onAborted: (_t, piece, _bytes, lowSpeed) => {
          aborted.push({ piece, lowSpeed });
          cut.resolve();
        },
      },
    });
    const child = stalledChild(server.port, 0);
    try {
      await child.started;
      timers.advance(WINDOW_MS);
      await hangGuard(cut.promise, "the stalled child to be cut");
      assert.equal(aborted.length, 1);
      assert.equal(aborted[0]!.piece, 0);
      assert.match(aborted[0]!.lowSpeed ?? "", /^\d+ B\/s over 1000 ms \(below 1073741824 B\/s\) from child 127\.0\.0\.1:\d+ \(piece 0\)$/);
      const got = await fetchPiece({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, pieceNumber: 1, timeoutMs: 10_000, maxLength: 64 });
      assert.equal(got.data.toString(), "honest");
    } finally {
      child.socket.destroy();
      await server.close();
    }
  });
});
