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
    const staging = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
    for (;;) {
      if (failure !== undefined || signal.aborted) return;
      const next = state.missing().find((p) => state.claim(p.number));
      if (!next) return;
      const started = Date.now();
      try {
        // Straight to disk chunk by chunk, the crc32 computed on the way: no piece-sized
        // buffer per transfer (memory and copies), and the disk works while bytes arrive.
        const crc = createCrc32Hasher();
        const batch = new WriteBatch(staging, (position, bytes) => state.writePart(position, bytes));
        await origin.getRangeInto(url, next.offset, next.length, (chunk, position) => {
          crc.update(chunk);
          return batch.add(chunk, position);
        }, signal);
        await batch.flush();
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

/** Network chunks are ~64 KiB; writing them in 1 MiB batches cuts write(2) calls 16-fold. */
const WRITE_BATCH_BYTES = 1 << 20;

/** Collects contiguous chunks in a reused staging buffer and writes them in one call. */
class WriteBatch {
  private start = 0;
  private used = 0;
  private readonly staging: Buffer;
  private readonly write: (position: number, bytes: Buffer) => Promise<void>;

  constructor(staging: Buffer, write: (position: number, bytes: Buffer) => Promise<void>) {
    this.staging = staging;
    this.write = write;
  }

  async add(chunk: Buffer, position: number): Promise<void> {
    if (this.used > 0 && (position !== this.start + this.used || this.used + chunk.length > this.staging.length)) await this.flush();
    if (chunk.length >= this.staging.length) return this.write(position, chunk);
    if (this.used === 0) this.start = position;
    chunk.copy(this.staging, this.used);
    this.used += chunk.length;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const bytes = this.staging.subarray(0, this.used);
    this.used = 0;
    await this.write(this.start, bytes);
  }
}
