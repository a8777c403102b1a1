// The low-speed rule on vortex piece transfers (issue 11 item 3): transport/low-speed's
// watchdog, driven by hand-made timers. A parent that sends nothing for a window is cut
// with TimeoutError("low-speed"); one that keeps moving above the limit is never cut.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { TimeoutError } from "../../src/errors.js";
import { encodePieceContentHeader, type PieceMetadata } from "../../src/transport/vortex-codec.js";
import { fetchPiece } from "../../src/transport/vortex-client.js";
import { deferred } from "../support/wait.js";
import { handTimers } from "../support/fake-timer.js";

const TASK_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90".repeat(2);
const WINDOW_MS = 1000;
const LIMIT = 1024;


/** A parent that accepts, reads the request, and lets the test decide what to send. */
async function withParent(fn: (port: number, nextRequest: () => Promise<Socket>) => Promise<void>): Promise<void> {
  const arrived: Array<Promise<Socket>> = [];
  const pending: Array<(socket: Socket) => void> = [];
  const open = new Set<Socket>();
  const slot = (): void => {
    arrived.push(new Promise<Socket>((resolve) => pending.push(resolve)));
  };
  slot();
  const server: Server = createServer((socket) => {
    open.add(socket);
    socket.on("error", () => {});
    socket.once("data", () => {
      slot();
      pending.shift()!(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    await fn(port, () => arrived.shift()!);
  } finally {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function meta(length: number): PieceMetadata {
  return { number: 0, offset: 0, length, digest: "crc32:0", parentId: "", trafficType: 1, costSeconds: 0n, createdAtSeconds: 1_700_000_000n };
}

describe("vortex transfers under the low-speed rule", () => {
  test("a parent silent for a window is cut with TimeoutError(low-speed)", async () => {
    await withParent(async (port, nextRequest) => {
      const timers = handTimers();
      const sink: Buffer[] = [];
      const transfer = fetchPiece({
        host: "127.0.0.1", port, taskId: TASK_ID, pieceNumber: 0, timeoutMs: 60_000, maxLength: 4096,
        sink: (chunk) => void sink.push(chunk),
        lowSpeed: { limitBytesPerSecond: LIMIT, windowMs: WINDOW_MS, timers },
      });
      const socket = await nextRequest();
      timers.advance(WINDOW_MS / 2);
      timers.advance(WINDOW_MS / 2);
      await assert.rejects(transfer, (err: unknown) => err instanceof TimeoutError && err.phase === "low-speed" && /no data/.test(err.message));
      socket.destroy();
    });
  });

  test("a parent that drips below the limit is cut; one above it finishes however long it takes", async () => {
    await withParent(async (port, nextRequest) => {
      const length = 8 * LIMIT;
      // The sink says when the client has the bytes: time moves only after they arrived.
      let received = 0;
      let want = { bytes: 0, reached: deferred() };
      const until = (bytes: number): Promise<void> => {
        want = { bytes, reached: deferred() };
        if (received >= bytes) want.reached.resolve();
        return want.reached.promise;
      };
      const run = (timers: ReturnType<typeof handTimers>): Promise<unknown> => {
        received = 0;
        return fetchPiece({
          host: "127.0.0.1", port, taskId: TASK_ID, pieceNumber: 0, timeoutMs: 60_000, maxLength: length,
          sink: (chunk) => {
            received += chunk.length;
            if (received >= want.bytes) want.reached.resolve();
          },
          lowSpeed: { limitBytesPerSecond: LIMIT, windowMs: WINDOW_MS, timers },
        });
      };
      // Moving: 2 KiB per window over four windows of hand time — slow, never cut.
      const fastTimers = handTimers();
      const moving = run(fastTimers);
      const fast = await nextRequest();
      fast.write(encodePieceContentHeader(meta(length)));
      for (let sent = 2 * LIMIT; sent <= length; sent += 2 * LIMIT) {
        fast.write(Buffer.alloc(2 * LIMIT));
        await until(sent);
        fastTimers.advance(WINDOW_MS);
      }
      await moving;
      fast.destroy();

      // Dripping: 100 bytes in a window, below 1 KiB/s.
      const slowTimers = handTimers();
      const dripping = run(slowTimers);
      const slow = await nextRequest();
      slow.write(encodePieceContentHeader(meta(length)));
      slow.write(Buffer.alloc(100));
      await until(100);
      slowTimers.advance(WINDOW_MS / 2);
      slowTimers.advance(WINDOW_MS / 2);
      await assert.rejects(dripping, (err: unknown) => err instanceof TimeoutError && err.phase === "low-speed" && /below 1024 B\/s/.test(err.message));
      slow.destroy();
    });
  });
});
