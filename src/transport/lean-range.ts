// A ranged GET through the lean reader (range-reader.ts) under the same checks and
// low-speed rule as undici's answers get in origin.ts: the pinned size and version
// (response-check.ts), a watchdog from the head on, the caller's abort.
import { TimeoutError, messageOf } from "../errors.js";
import { redactUrl } from "../net/redact.js";
import { RangeNotSupportedError, unexpectedStatus } from "./origin-errors.js";
import type { LowSpeedWatchdog } from "./low-speed.js";
import type { RangeReader, RangeSink } from "./range-reader.js";
import { checkRangeAnswer, type PinnedVersion } from "./response-check.js";

export interface LeanRangeContext {
  reader: RangeReader;
  /** The first HEAD's size and validator, when there was one. */
  pinned: { size: number; pin: PinnedVersion } | undefined;
  /** The request headers for this URL (the user's, credentials only at home, `extra`). */
  headersFor(url: URL, extra: Array<[string, string]>): string[];
  /** A low-speed watchdog for one body. */
  watch(what: string): LowSpeedWatchdog;
}

/**
 * True when every byte of the range went to the sink; false when the reader declined the
 * answer before any byte (a redirect, a chunked body, a 200 to stream) and undici must ask.
 */
export async function readLeanRange(
  ctx: LeanRangeContext,
  url: URL,
  at: { offset: number; length: number },
  extra: Array<[string, string]>,
  sink: RangeSink,
  signal?: AbortSignal,
): Promise<boolean> {
  const where = `range ${at.offset}-${at.offset + at.length - 1} of ${redactUrl(url)}`;
  // Watched from the head on, as on the undici path; it aborts the read through `slow`.
  const slow = new AbortController();
  let watchdog: LowSpeedWatchdog | undefined;
  const check = (status: number, headers: Readonly<Record<string, string>>): boolean => {
    const total = ctx.pinned?.size;
    if (total === undefined) {
      if (status === 200) throw new RangeNotSupportedError(`origin ignored the Range header (200 instead of 206) for ${where}`);
      if (status !== 206) throw unexpectedStatus(status, url, headers);
    } else if (checkRangeAnswer(status, headers, { ...at, where, total, pin: ctx.pinned?.pin ?? {} }).kind === "whole") {
      return false; // undici asks again and keeps the 200's body for streamWhole()
    }
    watchdog = ctx.watch(where);
    watchdog.signal.addEventListener("abort", () => slow.abort(watchdog?.signal.reason), { once: true });
    return true;
  };
  // One signal for the reader: the caller's abort or a low-speed trip (a plain relay, not
  // AbortSignal.any, whose composite signals Node 20 may collect while still needed).
  const relay = (): void => slow.abort(signal?.reason);
  if (signal?.aborted) relay();
  else signal?.addEventListener("abort", relay, { once: true });
  let received = 0;
  const progress = (bytes: number): void => {
    received += bytes;
    watchdog?.bytes(bytes);
  };
  try {
    const headers = ctx.headersFor(url, extra);
    const result = await ctx.reader.read({ url, ...at, headers, where, check, sink, progress, signal: slow.signal });
    return result.kind === "done";
  } catch (err) {
    if (watchdog?.tripped && err === watchdog.signal.reason) {
      throw new TimeoutError("low-speed", `${messageOf(err)}, after ${received} of ${at.length} bytes of ${where}`);
    }
    throw err;
  } finally {
    signal?.removeEventListener("abort", relay);
    watchdog?.stop();
  }
}
