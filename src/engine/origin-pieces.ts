// Missing pieces straight from the origin with ranged GETs, several at once. The one
// back-to-source loop: used inside a scheduler conversation (NeedBackToSource, reported
// piece by piece) and after it (no scheduler left, or none configured).
import { createCrc32Hasher } from "../storage/digest.js";
import { RangeNotSupportedError } from "../transport/origin.js";
import { backoffSleep } from "../transport/retry-policy.js";
import type { OriginTransport } from "./parts.js";
import type { FinishedPiece, PieceLedger } from "./piece-ledger.js";

export interface OriginPiecesOptions {
  ledger: PieceLedger;
  origin: OriginTransport;
  url: string;
  concurrency: number;
  signal: AbortSignal;
  onPiece?: (piece: FinishedPiece) => void;
  /** A piece failed and will be tried again (the ledger's retry policy said so). */
  onRetry?: (piece: number, err: unknown, attempt: number) => void;
}

/**
 * Every piece from the origin until the ledger is complete. Pieces in flight elsewhere
 * (an older conversation's parent transfers) may still fail: the loop waits for the
 * ledger to change and takes them then. Rejects with the signal's reason on abort.
 */
export async function fetchRestFromOrigin(opts: OriginPiecesOptions): Promise<void> {
  const { ledger, signal } = opts;
  while (!ledger.complete) {
    await fetchPiecesFromOrigin(opts);
    if (ledger.complete) return;
    await ledger.nextChange(signal);
    if (signal.aborted) throw signal.reason;
  }
}

/**
 * Fetch every piece that is neither finished nor in flight. A failed piece is tried again
 * after a backoff while the ledger's retry policy allows (5xx, 408, 429, resets, short
 * bodies, stalls); resolves when they are all written; rejects with the first error that
 * is final (typed, with its exit code) after the other workers have stopped.
 * RangeNotSupportedError is passed on for the caller to stream the whole object.
 */
export async function fetchPiecesFromOrigin(opts: OriginPiecesOptions): Promise<void> {
  const { ledger: state, origin, url, signal } = opts;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failure !== undefined || signal.aborted) return;
      const next = state.missing().find((p) => state.claim(p.number));
      if (!next) return;
      const started = Date.now();
      try {
        // Straight to disk chunk by chunk as it arrives (still in cache), the crc32
        // computed on the way: no piece-sized buffer, no staging copy. The file's one
        // writer queues the chunk; the transport reuses its buffer once it is written.
        const crc = createCrc32Hasher();
        await origin.getRangeInto(url, next.offset, next.length, (chunk, position) => {
          crc.update(chunk);
          return state.writePart(position, chunk);
        }, signal);
        const piece = state.markFinished({ number: next.number, digest: crc.digest(), source: "origin", costMs: Date.now() - started, createdAt: new Date(started) });
        opts.onPiece?.(piece);
      } catch (err) {
        state.release(next.number);
        if (signal.aborted) return;
        // A 200 to a ranged GET (same version): the caller streams the whole object instead.
        const decision = err instanceof RangeNotSupportedError ? undefined : state.retry.onFailure(next.number, err);
        if (!decision?.retry) {
          if (failure === undefined) failure = err;
          else if (err instanceof RangeNotSupportedError) err.release();
          return;
        }
        opts.onRetry?.(next.number, err, decision.attempt);
        await backoffSleep(decision.delayMs, signal).catch(() => undefined);
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, opts.concurrency) }, () => worker());
  await Promise.all(workers);
  if (failure !== undefined) throw failure;
  if (signal.aborted) throw signal.reason;
}
