// Missing pieces straight from the origin with ranged GETs, several at once. The one
// back-to-source loop: used inside a scheduler conversation (NeedBackToSource, reported
// piece by piece) and after it (no scheduler left, or none configured).
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
  /** A piece failed and will be tried again (the ledger's retry policy said so). */
  onRetry?: (piece: number, err: unknown, attempt: number) => void;
}

/**
 * Every piece from the origin until the ledger is complete. Pieces in flight elsewhere
 * (an older conversation's parent transfers) may still fail: the loop waits for the
 * ledger to change and takes them then. A run that mixes parent and origin pieces ends
 * with at least one crc32 compared (verifyOneParentPiece); when the parents turn out to
 * hold another version, their pieces are dropped and fetched here too. Rejects with the
 * signal's reason on abort.
 */
export async function fetchRestFromOrigin(opts: OriginPiecesOptions): Promise<void> {
  const { ledger, signal } = opts;
  // Another version found before this loop (the parents' task size): drop their pieces now.
  if (ledger.versions.mismatch) ledger.dropParentPieces();
  do {
    while (!ledger.complete) {
      await fetchPiecesFromOrigin(opts);
      if (ledger.complete) break;
      if (ledger.missing().length > 0) continue; // released or dropped after the workers left
      await ledger.nextChange(signal);
      if (signal.aborted) throw signal.reason;
    }
  } while (await verifyOneParentPiece(opts));
}

/**
 * Issue 11: parents may hold another version of the object, and a run whose origin pieces
 * never had a parent-announced crc32 to compare with would never know. The cheapest design
 * that still guarantees one comparison per mixed run: nothing extra while comparisons
 * happen on the way (an origin piece a parent had announced); only when the origin loop
 * is done and none happened is one piece that came from a parent — the shortest — fetched
 * from the origin once more, hashed and not written (cost: one piece, and only then).
 * Resolves true when it found another version and dropped the parents' pieces.
 */
async function verifyOneParentPiece(opts: OriginPiecesOptions): Promise<boolean> {
  const { ledger, origin, url, signal } = opts;
  const versions = ledger.versions;
  if (versions.compared > 0 || versions.mismatch) return false;
  // Pieces an earlier run of this download left count too (the record says where they came
  // from): parent pieces resumed next to origin pieces are a mix like any other.
  const finished = ledger.finishedPieces();
  const fromParents = finished.filter((p) => p.source === "parent");
  if (fromParents.length === 0 || !finished.some((p) => p.source === "origin")) return false;
  const probe = fromParents.reduce((a, b) => (b.length < a.length ? b : a));
  // Its digest was checked against the parent's header when it came: it is the parent's version.
  versions.announce(probe.number, probe.parentId ?? "parent", probe.digest);
  for (;;) {
    const crc = createCrc32Hasher();
    try {
      await origin.getRangeInto(url, probe.offset, probe.length, (chunk) => void crc.update(chunk), signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const final = await backoffBeforeRetry(opts, `verify ${probe.number}`, probe.number, err);
      if (final !== undefined) throw final;
      continue;
    }
    if (!versions.compareWithOrigin(probe.number, crc.digest())) return false;
    ledger.dropParentPieces();
    return true;
  }
}

/**
 * After a failed origin GET (`key`: the retry budget it counts against): the error to end
 * with when the failure is final — a 200 to a ranged GET (same version) is, the caller then
 * streams the whole object; a Retry-After past the run's deadline ends it with exit 28 —
 * else undefined once the backoff before the next try is over. Rejects with the signal's
 * reason when it aborts meanwhile.
 */
async function backoffBeforeRetry(opts: OriginPiecesOptions, key: string | number, piece: number, err: unknown): Promise<unknown> {
  if (err instanceof RangeNotSupportedError) return err;
  try {
    await opts.ledger.retry.backoff(key, err, opts.signal, (attempt) => opts.onRetry?.(piece, err, attempt));
    return undefined;
  } catch (final) {
    if (opts.signal.aborted) throw opts.signal.reason; // the wait was cut by the abort
    return final;
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
      let otherVersion = false;
      try {
        // Straight to disk chunk by chunk as it arrives (still in cache), the crc32
        // computed on the way: no piece-sized buffer, no staging copy. The file's one
        // writer queues the chunk; the transport reuses its buffer once it is written.
        const crc = createCrc32Hasher();
        await origin.getRangeInto(url, next.offset, next.length, (chunk, position) => {
          crc.update(chunk);
          return state.writePart(position, chunk);
        }, signal);
        const digest = crc.digest();
        const piece = state.markFinished({ number: next.number, digest, source: "origin", costMs: Date.now() - started, createdAt: new Date(started) });
        opts.onPiece?.(piece);
        otherVersion = state.versions.compareWithOrigin(next.number, digest) !== undefined;
      } catch (err) {
        state.release(next.number);
        if (signal.aborted) return;
        const final = await backoffBeforeRetry(opts, next.number, next.number, err).catch(() => undefined);
        if (final !== undefined) {
          if (failure === undefined) failure = final;
          else if (err instanceof RangeNotSupportedError) err.release();
          return;
        }
        continue;
      }
      if (!otherVersion) continue;
      // The parents hold another version: their pieces are fetched here again (this
      // worker and the others take them as missing), or stdout already has one (exit 18).
      try {
        state.dropParentPieces();
      } catch (err) {
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
