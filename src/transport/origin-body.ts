// Reading one undici answer body under the low-speed rule: chunk by chunk, each awaited
// (backpressure), a surplus past what was asked closes the connection instead of being
// drained. Transport errors come back translated (origin-errors.ts); errors thrown by the
// chunk handler pass through unchanged.
import type { Dispatcher } from "undici";
import { TimeoutError, messageOf } from "../errors.js";
import { drop } from "./origin-http.js";
import type { LowSpeedWatchdog } from "./low-speed.js";

export interface BodyPump {
  response: Dispatcher.ResponseData;
  watchdog: LowSpeedWatchdog;
  /** How far the body got, for messages ("3000 of 20000 bytes of …"). */
  progress: () => string;
  onChunk: (chunk: Buffer) => Promise<void> | void;
  /** True once every byte asked for has arrived: a later chunk is a surplus. */
  enough: () => boolean;
  /** A transport error → the typed error to throw (origin-errors.ts). */
  translate: (err: unknown, progress: string) => unknown;
}

export async function pumpBody(p: BodyPump): Promise<void> {
  const { response, watchdog } = p;
  const body = response.body;
  const onAbort = (): void => void body.destroy(watchdog.signal.reason instanceof Error ? watchdog.signal.reason : undefined);
  if (watchdog.signal.aborted) onAbort();
  else watchdog.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const chunks = body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = (await chunks.next()) as IteratorResult<Buffer>;
      } catch (err) {
        if (watchdog.tripped) throw new TimeoutError("low-speed", `${messageOf(watchdog.signal.reason)}, after ${p.progress()}`);
        throw p.translate(err, p.progress());
      }
      if (next.done) return;
      if (p.enough()) {
        drop(body); // a surplus beyond what was asked: the connection is not reused
        return;
      }
      watchdog.bytes(next.value.length);
      try {
        await p.onChunk(next.value);
      } catch (err) {
        drop(body);
        throw err;
      }
    }
  } finally {
    watchdog.signal.removeEventListener("abort", onAbort);
  }
}
