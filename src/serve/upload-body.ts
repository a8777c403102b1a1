// Sending a piece body to a child under the low-speed rule (cli.md: download.lowSpeedLimit
// over a download.pieceTimeout window, the rule our own downloads follow). Progress is
// what the kernel took: a write's callback fires once its chunk left our buffers, so a
// child that stops reading stops the count as soon as the socket buffers are full. A
// child that takes fewer bytes than the limit over a window (or none) is cut, and its
// upload slot is free again — it cannot hold one for the whole upload deadline.
import type { Socket } from "node:net";
import { LowSpeedWatchdog, type WatchdogTimers } from "../transport/low-speed.js";

export interface UploadLowSpeed {
  /** Bytes per second the child must take on average over a window; 0 = only silence trips. */
  limitBytesPerSecond: number;
  windowMs: number;
  timers?: WatchdogTimers;
}

export interface BodyOutcome {
  /** Every byte was handed to the kernel. */
  sent: boolean;
  /** Body bytes the kernel took. */
  bytes: number;
  /** The child was cut by the low-speed rule (the message says how slow). */
  lowSpeed?: string;
}

/** Chunks handed to the socket one at a time, so that progress is seen as it happens. */
const CHUNK_BYTES = 64 * 1024;

/**
 * Writes `head` then `body`; resolves when the last byte left for the kernel, or when the
 * socket closed first (destroyed by us, the child or the watchdog). Never rejects.
 */
export function writeWatched(socket: Socket, head: Buffer, body: Buffer, what: string, lowSpeed?: UploadLowSpeed): Promise<BodyOutcome> {
  const watchdog = lowSpeed && new LowSpeedWatchdog({ ...lowSpeed, what });
  const outcome: BodyOutcome = { sent: false, bytes: 0 };
  return new Promise<BodyOutcome>((resolve) => {
    const done = (): void => {
      watchdog?.stop();
      socket.off("drain", pump);
      socket.off("close", done);
      resolve(outcome);
    };
    watchdog?.signal.addEventListener("abort", () => {
      outcome.lowSpeed = (watchdog.signal.reason as Error).message;
      socket.destroy();
    }, { once: true });
    const parts = [head, ...chunksOf(body)];
    let next = 0;
    function pump(): void {
      while (next < parts.length && !socket.destroyed) {
        const part = parts[next]!;
        const isBody = next > 0;
        const last = ++next === parts.length;
        const more = socket.write(part, (err) => {
          if (err) return; // "close" follows and settles
          watchdog?.bytes(part.length);
          if (isBody) outcome.bytes += part.length;
          if (last) {
            outcome.sent = true;
            done();
          }
        });
        if (!more) return; // "drain" calls again
      }
    }
    socket.on("drain", pump);
    socket.once("close", done);
    if (socket.destroyed) return done();
    pump();
  });
}

function chunksOf(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += CHUNK_BYTES) out.push(body.subarray(at, at + CHUNK_BYTES));
  return out;
}
