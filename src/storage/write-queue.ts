// One writer per file: positioned writes go through a FIFO with exactly one write(2) in
// flight. Several large pwrites to the same file at once contend in the kernel (measured
// here: 1 GiB in 4 MiB writes took 0.35 s one at a time, 0.84–1.0 s eight at a time), and
// writing each network chunk while it is still in cache beats batching it up.
//
// The queue holds at most `maxQueuedBytes` of accepted writes; a write that would go past
// that waits for room before it is accepted (one larger than the bound is accepted alone),
// so producers that do not await cannot pile up memory. The first failure is sticky: it
// rejects the write that failed, every write queued behind it and every later one — a
// file with a hole in it is no use to anyone.
import { WriteError } from "../errors.js";

/** write(2) at a position: bytes written (may be short). A FileHandle.write adapter. */
export type PositionedWrite = (data: Buffer, offset: number, length: number, position: number) => Promise<number>;

interface Pending {
  position: number;
  data: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

export class WriteQueue {
  private readonly writeAt: PositionedWrite;
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
  constructor(writeAt: PositionedWrite, describe: string, maxQueuedBytes = DEFAULT_MAX_QUEUED_BYTES) {
    if (!(maxQueuedBytes > 0)) throw new RangeError(`maxQueuedBytes must be positive, got ${maxQueuedBytes}`);
    this.writeAt = writeAt;
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
    this.writeFully(head).then(
      () => {
        this.settleHead();
        head.resolve();
      },
      (err: unknown) => {
        // The failed write is still the head: fail() rejects it with everything behind it.
        this.writing = false;
        this.fail(err);
        this.kick();
      },
    );
  }

  private settleHead(): void {
    const head = this.accepted.shift();
    if (head) this.acceptedBytes -= head.data.length;
    this.writing = false;
    this.admit();
    this.kick();
  }

  private async writeFully(entry: Pending): Promise<void> {
    const { data, position } = entry;
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
