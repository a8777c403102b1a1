// `-O -`: pieces arrive in any order but a pipe can only take bytes in order. Out-of-order
// pieces wait in memory; each contiguous run is written as soon as it is complete, with
// backpressure from the pipe honoured, and fed to the whole-file hasher in the same order.
import type { Writable } from "node:stream";
import { PartialTransferError, WriteError } from "../errors.js";
import type { Hasher } from "./digest.js";

export interface OrderedStdoutSinkOptions {
  /** Where the bytes go; process.stdout by default. Never ended by the sink. */
  out?: Writable;
  /** Updated with every byte, in content order. */
  hasher?: Hasher;
}

export class OrderedStdoutSink {
  private readonly out: Writable;
  private readonly hasher: Hasher | undefined;
  private readonly held = new Map<number, Buffer>();
  private heldBytes = 0;
  private nextNumber = 0;
  private written = 0;
  private streamError: Error | undefined;
  /** Serialises flushes: concurrent write() calls must not interleave bytes. */
  private flushing: Promise<void> = Promise.resolve();
  private readonly onStreamError = (err: Error): void => {
    this.streamError ??= err;
  };

  constructor(opts: OrderedStdoutSinkOptions = {}) {
    this.out = opts.out ?? process.stdout;
    this.hasher = opts.hasher;
    // A closed pipe (`dfget -O - | head`) surfaces as EPIPE here; keep it for the next
    // write() instead of letting an unhandled 'error' crash the process.
    this.out.on("error", this.onStreamError);
  }

  /** Bytes received but not yet written because an earlier piece is missing. */
  get bufferedBytes(): number {
    return this.heldBytes;
  }

  /** Bytes handed to the stream so far (all of them in order). */
  get writtenBytes(): number {
    return this.written;
  }

  /** The piece the stream is waiting for. */
  get nextPieceNumber(): number {
    return this.nextNumber;
  }

  /**
   * Accepts a piece. Resolves once every piece that has become contiguous is written and
   * the stream has drained; a piece that must wait resolves at once. A piece already
   * written or already held is ignored (a re-fetched duplicate). Rejects with WriteError
   * when the stream fails.
   */
  async write(pieceNumber: number, data: Buffer): Promise<void> {
    if (!Number.isSafeInteger(pieceNumber) || pieceNumber < 0) {
      throw new RangeError(`piece number must be a non-negative integer, got ${pieceNumber}`);
    }
    this.throwIfFailed();
    if (pieceNumber < this.nextNumber || this.held.has(pieceNumber)) return;
    this.held.set(pieceNumber, data);
    this.heldBytes += data.length;
    if (pieceNumber !== this.nextNumber) return;
    const flush = this.flushing.then(() => this.flushContiguous());
    // A failed flush must not poison later ones with an unhandled rejection; each
    // caller still sees its own failure through `flush`.
    this.flushing = flush.catch(() => undefined);
    await flush;
  }

  /**
   * Waits for pending writes; rejects with PartialTransferError if a piece is still
   * missing. Detaches from the stream; does not end it (stdout stays open).
   */
  async finish(): Promise<void> {
    await this.flushing;
    this.out.off("error", this.onStreamError);
    this.throwIfFailed();
    if (this.held.size > 0) {
      throw new PartialTransferError(
        `stdout: piece ${this.nextNumber} never arrived; ${this.held.size} later piece(s) (${this.heldBytes} bytes) were not written`,
      );
    }
  }

  private async flushContiguous(): Promise<void> {
    for (let data = this.held.get(this.nextNumber); data !== undefined; data = this.held.get(this.nextNumber)) {
      this.throwIfFailed();
      this.held.delete(this.nextNumber);
      this.heldBytes -= data.length;
      this.nextNumber++;
      this.hasher?.update(data);
      this.written += data.length;
      if (!this.out.write(data)) await this.waitForDrain();
    }
    this.throwIfFailed();
  }

  private waitForDrain(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        this.out.off("drain", onDrain);
        this.out.off("error", onError);
        this.out.off("close", onClose);
      };
      const onDrain = (): void => {
        cleanup();
        resolve();
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(this.toWriteError(err));
      };
      // A stream that closes without draining would otherwise leave us waiting forever.
      const onClose = (): void => {
        cleanup();
        reject(new WriteError("cannot write to stdout: the stream closed"));
      };
      this.out.on("drain", onDrain);
      this.out.on("error", onError);
      this.out.on("close", onClose);
    });
  }

  private throwIfFailed(): void {
    if (this.streamError) throw this.toWriteError(this.streamError);
    if (this.out.destroyed || this.out.writableEnded) {
      throw new WriteError("cannot write to stdout: the stream is closed");
    }
  }

  private toWriteError(err: Error): WriteError {
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    return new WriteError(`cannot write to stdout: ${code}`, { cause: err });
  }
}
