// Missing pieces straight from the origin with ranged GETs, several at once. Used inside
// a scheduler conversation (NeedBackToSource, reported piece by piece) and after it
// (no scheduler left, or none configured).
import { pieceDigest } from "../storage/digest.js";
import type { OriginClient } from "./origin.js";
import type { FinishedPiece, PieceState } from "./piece-state.js";

export interface OriginPiecesOptions {
  state: PieceState;
  origin: OriginClient;
  url: string;
  concurrency: number;
  signal?: AbortSignal;
  onPiece?: (piece: FinishedPiece) => void;
}

/**
 * Fetch every piece that is neither finished nor in flight. Resolves when they are all
 * written; rejects with the first origin error (typed, with its exit code) after the
 * other workers have stopped.
 */
export async function fetchPiecesFromOrigin(opts: OriginPiecesOptions): Promise<void> {
  const { state, origin, url, signal } = opts;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failure !== undefined || signal?.aborted) return;
      const next = state.missing().find((p) => state.claim(p.number));
      if (!next) return;
      const started = Date.now();
      try {
        const data = await origin.getRange(url, next.offset, next.length, signal);
        const piece = await state.store(
          { number: next.number, digest: pieceDigest(data), source: "origin", costMs: Date.now() - started, createdAt: new Date(started) },
          data,
        );
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
  if (signal?.aborted) throw signal.reason;
}
