// The pieces of one task: which are verified on disk, which are in flight, where each
// came from. It outlives any one scheduler conversation, so a switch keeps every
// finished piece, and the upload server reads from it (as its ServedPieces) to serve
// other peers.
import { EventEmitter } from "node:events";
import { open, type FileHandle } from "node:fs/promises";
import type { ServedPieces } from "../serve/pieces.js";
import { ClusterVersionError } from "../errors.js";
import { DEFAULT_RETRIES, RetryPolicy } from "../transport/retry-policy.js";
import { ParentVersionCheck, describeMismatch } from "./parent-versions.js";

export interface PiecePlanEntry {
  number: number;
  offset: number;
  length: number;
}

export type PieceSource = "parent" | "origin";

export interface FinishedPiece extends PiecePlanEntry {
  /** `crc32:<decimal>` of the bytes, as Dragonfly reports it. */
  digest: string;
  source: PieceSource;
  /** Peer id of the parent it came from (parent pieces only). */
  parentId?: string;
  costMs: number;
  createdAt: Date;
  /** Verified by an earlier run of the same command (resume), not transferred now. */
  reused?: boolean;
}

/** What the ledger holds, by where the bytes came from (the JSON summary's `pieces`). */
export interface PieceCounts {
  total: number;
  fromParents: number;
  fromSource: number;
  reused: number;
}

/** Where verified bytes are written (a PieceFile beside the output). */
export interface PieceWriter {
  readonly tempPath: string;
  writePiece(offset: number, data: Buffer): Promise<void>;
}

export class PieceLedger extends EventEmitter<{ finished: [FinishedPiece]; unfinished: [number]; changed: [] }> implements ServedPieces {
  readonly plan: readonly PiecePlanEntry[];
  private readonly finished = new Map<number, FinishedPiece>();
  private readonly inFlight = new Set<number>();
  private readonly writer: PieceWriter;
  private reader: Promise<FileHandle> | undefined;
  private bytesDone = 0;
  /** Pieces already handed on for good (written to stdout): they can no longer be dropped. */
  private readonly delivered = new Set<number>();

  /** Tries per piece across sources (--retry), shared by every loop that fetches pieces. */
  readonly retry: RetryPolicy;
  /** Whether the parents' version is the origin's, shared by the parent and origin loops. */
  readonly versions: ParentVersionCheck;

  constructor(plan: readonly PiecePlanEntry[], writer: PieceWriter, retry: RetryPolicy = new RetryPolicy({ retries: DEFAULT_RETRIES }), versions: ParentVersionCheck = new ParentVersionCheck()) {
    super();
    this.setMaxListeners(0);
    this.plan = plan;
    this.writer = writer;
    this.retry = retry;
    this.versions = versions;
  }

  get total(): number {
    return this.plan.length;
  }
  get finishedCount(): number {
    return this.finished.size;
  }
  get bytesWritten(): number {
    return this.bytesDone;
  }
  isFinished(n: number): boolean {
    return this.finished.has(n);
  }
  isInFlight(n: number): boolean {
    return this.inFlight.has(n);
  }
  get complete(): boolean {
    return this.finished.size === this.plan.length;
  }
  finishedPiece(n: number): FinishedPiece | undefined {
    return this.finished.get(n);
  }
  finishedPieces(): FinishedPiece[] {
    return [...this.finished.values()];
  }
  /** Pieces neither finished nor being fetched, in piece order. */
  missing(): PiecePlanEntry[] {
    return this.plan.filter((p) => !this.finished.has(p.number) && !this.inFlight.has(p.number));
  }
  /** Pieces not finished (in flight or not), in piece order. */
  unfinished(): PiecePlanEntry[] {
    return this.plan.filter((p) => !this.finished.has(p.number));
  }
  counts(): PieceCounts {
    const counts: PieceCounts = { total: this.plan.length, fromParents: 0, fromSource: 0, reused: 0 };
    for (const p of this.finished.values()) {
      if (p.reused) counts.reused++;
      else if (p.source === "parent") counts.fromParents++;
      else counts.fromSource++;
    }
    return counts;
  }
  onFinished(listener: (piece: FinishedPiece) => void): () => void {
    this.on("finished", listener);
    return () => this.off("finished", listener);
  }
  /** Resolves at the next change (a piece finished or released), or when `signal` aborts. */
  nextChange(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        this.off("changed", done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.on("changed", done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Claim a piece for fetching; false when it is done or someone else has it. */
  claim(n: number): boolean {
    if (this.finished.has(n) || this.inFlight.has(n)) return false;
    this.inFlight.add(n);
    return true;
  }
  release(n: number): void {
    if (this.inFlight.delete(n)) this.emit("changed");
  }

  /** Write verified bytes and mark the piece finished. The caller has checked the digest. */
  async store(piece: Omit<FinishedPiece, "offset" | "length">, data: Buffer): Promise<FinishedPiece> {
    const entry = this.entry(piece.number);
    if (data.length !== entry.length) throw new Error(`piece ${piece.number}: ${data.length} bytes, expected ${entry.length}`);
    try {
      await this.writer.writePiece(entry.offset, data);
    } catch (err) {
      this.release(piece.number);
      throw err;
    }
    return this.markFinished(piece);
  }

  /**
   * Bytes of a claimed piece, written as they arrive. They do not count (nor are they
   * served to anyone) until markFinished(); a failed piece is simply written again.
   */
  async writePart(position: number, chunk: Buffer): Promise<void> {
    await this.writer.writePiece(position, chunk);
  }

  /** All bytes of a claimed piece are on disk and verified: it counts from now on. */
  markFinished(piece: Omit<FinishedPiece, "offset" | "length">): FinishedPiece {
    const entry = this.entry(piece.number);
    this.inFlight.delete(piece.number);
    const done: FinishedPiece = { ...piece, offset: entry.offset, length: entry.length };
    if (!this.finished.has(piece.number)) {
      this.finished.set(piece.number, done);
      this.bytesDone += entry.length;
      this.emit("finished", done);
    }
    this.emit("changed");
    return done;
  }

  /** Piece n is being handed on for good (stdout): from now on it cannot be dropped. */
  markDelivered(n: number): void {
    this.delivered.add(n);
  }

  /**
   * The parents hold another version: every piece that came from a parent in this run is
   * unfinished again, to be fetched from the origin. Throws ClusterVersionError (exit 18)
   * when one of them was already delivered (stdout cannot be taken back); then nothing is
   * dropped. Returns the pieces dropped.
   */
  dropParentPieces(): number[] {
    // Resumed parent pieces too: an earlier run may have taken them from the same old copy.
    const dropped = [...this.finished.values()].filter((p) => p.source === "parent");
    const gone = dropped.find((p) => this.delivered.has(p.number));
    if (gone) {
      const why = this.versions.mismatch ? describeMismatch(this.versions.mismatch) : "the cluster holds another version of this URL";
      throw new ClusterVersionError(`${why}; piece ${gone.number}, from a parent, was already written to stdout and cannot be taken back: run again`);
    }
    for (const p of dropped) {
      this.finished.delete(p.number);
      this.bytesDone -= p.length;
      this.emit("unfinished", p.number);
    }
    if (dropped.length > 0) this.emit("changed");
    return dropped.map((p) => p.number);
  }

  private entry(n: number): PiecePlanEntry {
    const entry = this.plan[n];
    if (!entry) throw new Error(`piece ${n} is not in the plan`);
    return entry;
  }

  /** Bytes of a finished piece, read back from the temp file (for uploads). */
  async read(n: number): Promise<{ piece: FinishedPiece; data: Buffer } | undefined> {
    const piece = this.finished.get(n);
    if (!piece) return undefined;
    this.reader ??= open(this.writer.tempPath, "r");
    const fh = await this.reader;
    const data = Buffer.allocUnsafe(piece.length);
    let got = 0;
    while (got < piece.length) {
      const { bytesRead } = await fh.read(data, got, piece.length - got, piece.offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got !== piece.length) return undefined;
    return { piece, data };
  }

  async close(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await reader.then((fh) => fh.close()).catch(() => undefined);
  }
}
