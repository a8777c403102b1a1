// Missing pieces straight from the origin with ranged GETs, several at once. The one
// back-to-source loop: used inside a scheduler conversation (NeedBackToSource, reported
// piece by piece) and after it (no scheduler left, or none configured).
import { WriteError } from "../errors.js";
import { createCrc32Hasher } from "../storage/digest.js";
import { RangeNotSupportedError } from "../transport/origin.js";
import type { OriginTransport } from "./parts.js";
import type { FinishedPiece, PieceLedger } from "./piece-ledger.js";

export interface OriginPiecesOptions {
  ledger: PieceLedger;
  origin: OriginTransport;
  url: string;
  concurrency: number;
  signal: AbortSignal;
  onPiece?: (piece: FinishedPiece) => void;
}

/**
 * Every piece from the origin until the ledger is complete. Pieces in flight elsewhere
 * (an older conversation's parent transfers) may still fail: the loop waits for the
 * ledger to change and takes them then. Rejects with the signal's reason on abort.
 */
export async function fetchRestFromOrigin(opts: OriginPiecesOptions): Promise<void> {
  const { ledger, signal } = opts;
  while (!ledger.complete) {
    await fetchPiecesFromOrigin(opts).catch((err: unknown) => {
      if (err instanceof RangeNotSupportedError) throw new WriteError("origin stopped honouring Range requests mid-download", { cause: err });
      throw err;
    });
    if (ledger.complete) return;
    await ledger.nextChange(signal);
    if (signal.aborted) throw signal.reason;
  }
}

/**
 * Fetch every piece that is neither finished nor in flight. Resolves when they are all
 * written; rejects with the first origin error (typed, with its exit code) after the
 * other workers have stopped.
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
        failure ??= err;
        return;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, opts.concurrency) }, () => worker());
  await Promise.all(workers);
  if (failure !== undefined) throw failure;
  if (signal.aborted) throw signal.reason;
}
