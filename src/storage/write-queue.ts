// One writer per file: positioned writes go through a FIFO with exactly one write(2) in
// flight. Several large pwrites to the same file at once contend in the kernel (measured
// here: 1 GiB in 4 MiB writes took 0.35 s one at a time, 0.84–1.0 s eight at a time), and
// writing each network chunk while it is still in cache beats batching it up.
//
// When a write(2) can start, accepted writes that continue it in the file (the next chunks
// of the same piece, wherever they sit in the queue) go with it in one writev(2), up to
// MAX_GATHER_BYTES: each system call through the thread pool costs about as much as
// copying 256 KiB into the page cache (1 GiB in 256 KiB writes: ~0.57 s; gathered into
// 2–4 MiB writevs: ~0.25–0.29 s, measured here), and a connection's chunks queue up
// behind each other while one write is in flight.
//
// The queue holds at most `maxQueuedBytes` of accepted writes; a write that would go past
// that waits for room before it is accepted (one larger than the bound is accepted alone),
// so producers that do not await cannot pile up memory. The first failure is sticky: it
// rejects the write that failed, every write queued behind it and every later one — a
// file with a hole in it is no use to anyone.
import { WriteError } from "../errors.js";

/** write(2) at a position: bytes written (may be short). A FileHandle.write adapter. */
export type PositionedWrite = (data: Buffer, offset: number, length: number, position: number) => Promise<number>;
/** writev(2) at a position: bytes written (may be short). A FileHandle.writev adapter. */
export type PositionedWriteV = (buffers: Buffer[], position: number) => Promise<number>;

/** Upper bound of one gathered writev(2) (and of IOV entries, far below IOV_MAX). */
const MAX_GATHER_BYTES = 4 * 1024 * 1024;
const MAX_GATHER_ENTRIES = 64;

interface Pending {
  position: number;
  data: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

export class WriteQueue {
  private readonly writeAt: PositionedWrite;
  private readonly writeVAt: PositionedWriteV | undefined;
  private readonly maxQueuedBytes: number;
  private readonly describe: string;
  /** Accepted, in order; the head is in flight when `writing`. */
  private readonly accepted: Pending[] = [];
  /** Waiting for room, in order. */
  private readonly waiting: Pending[] = [];
  private acceptedBytes = 0;
  private writing = false;
  private failure: unknown;
  private idle: Array<() => void> = [];

  /** `describe` names the file in errors ("/tmp/.x.dfget-ab12.part"). */
  /** `writeVAt`: gather contiguous writes into one writev(2); without it, one write(2) each. */
  constructor(writeAt: PositionedWrite, describe: string, maxQueuedBytes = DEFAULT_MAX_QUEUED_BYTES, writeVAt?: PositionedWriteV) {
    if (!(maxQueuedBytes > 0)) throw new RangeError(`maxQueuedBytes must be positive, got ${maxQueuedBytes}`);
    this.writeAt = writeAt;
    this.writeVAt = writeVAt;
    this.describe = describe;
    this.maxQueuedBytes = maxQueuedBytes;
  }

  /** Bytes accepted and not yet written (the one in flight included). */
  get queuedBytes(): number {
    return this.acceptedBytes;
  }

  /**
   * Resolves once all of `data` is written at `position`; `data` must stay untouched
   * until then (no copy is made). Rejects with WriteError.
   */
  write(position: number, data: Buffer): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (data.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ position, data, resolve, reject });
      this.admit();
      this.kick();
    });
  }

  /** Resolves when nothing is queued or in flight (failures are reported to their writers). */
  drained(): Promise<void> {
    if (!this.writing && this.accepted.length === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private admit(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      const fits = this.acceptedBytes + next.data.length <= this.maxQueuedBytes;
      if (!fits && this.acceptedBytes > 0) return;
      this.waiting.shift();
      this.accepted.push(next);
      this.acceptedBytes += next.data.length;
    }
  }

  private kick(): void {
    if (this.writing) return;
    const head = this.accepted[0];
    if (!head) {
      const idle = this.idle;
      this.idle = [];
      for (const resolve of idle) resolve();
      return;
    }
    this.writing = true;
    const batch = this.gather(head);
    this.writeBatch(batch).then(
      () => {
        for (const entry of batch) this.settle(entry);
        this.writing = false;
        this.admit();
        this.kick();
        for (const entry of batch) entry.resolve();
      },
      (err: unknown) => {
        // The failed entries are still accepted: fail() rejects them with everything else.
        this.writing = false;
        this.fail(err);
        this.kick();
      },
    );
  }

  /** `head` and the accepted writes that continue it in the file, in file order. */
  private gather(head: Pending): Pending[] {
    const batch = [head];
    if (!this.writeVAt) return batch;
    let end = head.position + head.data.length;
    let bytes = head.data.length;
    for (;;) {
      const at = this.accepted.findIndex((e) => e.position === end && !batch.includes(e));
      const next = this.accepted[at];
      if (!next || bytes + next.data.length > MAX_GATHER_BYTES || batch.length >= MAX_GATHER_ENTRIES) return batch;
      // Never ahead of an older write to the same bytes (a failed try's chunks still
      // queued when the piece is fetched again): the newer bytes must land last.
      if (this.accepted.slice(0, at).some((e) => !batch.includes(e) && overlaps(e, next))) return batch;
      batch.push(next);
      end += next.data.length;
      bytes += next.data.length;
    }
  }

  private settle(entry: Pending): void {
    const at = this.accepted.indexOf(entry);
    if (at >= 0) this.accepted.splice(at, 1);
    this.acceptedBytes -= entry.data.length;
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 1 || !this.writeVAt) {
      for (const entry of batch) await this.writeFully(entry.data, entry.position);
      return;
    }
    const position = batch[0]!.position;
    const total = batch.reduce((sum, e) => sum + e.data.length, 0);
    const written = await this.writeVAt(batch.map((e) => e.data), position);
    if (written <= 0) throw new WriteError(`cannot write ${this.describe}: no progress`);
    if (written >= total) return;
    // Short (e.g. near ENOSPC): the rest, buffer by buffer, from where it stopped.
    let skip = written;
    for (const entry of batch) {
      if (skip >= entry.data.length) {
        skip -= entry.data.length;
        continue;
      }
      await this.writeFully(entry.data.subarray(skip), entry.position + skip);
      skip = 0;
    }
  }

  private async writeFully(data: Buffer, position: number): Promise<void> {
    let written = 0;
    // write(2) may be short (e.g. near ENOSPC); keep going until everything is down.
    while (written < data.length) {
      const bytes = await this.writeAt(data, written, data.length - written, position + written);
      if (bytes <= 0) throw new WriteError(`cannot write ${this.describe}: no progress`);
      written += bytes;
    }
  }

  private fail(err: unknown): void {
    if (this.failure === undefined) {
      const code = (err as NodeJS.ErrnoException | undefined)?.code ?? (err instanceof Error ? err.message : String(err));
      this.failure = err instanceof WriteError ? err : new WriteError(`cannot write ${this.describe}: ${code}`, { cause: err });
    }
    const dropped = [...this.accepted, ...this.waiting];
    this.accepted.length = 0;
    this.waiting.length = 0;
    this.acceptedBytes = 0;
    for (const entry of dropped) entry.reject(this.failure);
  }
}

function overlaps(a: Pending, b: Pending): boolean {
  return a.position < b.position + b.data.length && b.position < a.position + a.data.length;
}
