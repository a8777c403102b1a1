// One request/answer on a lean range-reader connection: write the GET, parse the head,
// hand each body chunk to the sink in place, pause the socket while every receive
// buffer is still owned by the sink, and end exactly once (done, declined, stale, failed).
import type { Connection } from "./range-reader.js";
import { OriginUnreachableError, PartialTransferError, TimeoutError } from "../errors.js";
import { HttpHeadError, MAX_HEAD_BYTES, contentLengthOf, findHeadEnd, keepsAlive, parseResponseHead, type ResponseHead } from "./http-head.js";

/**
 * The caller's verdict on an answer head (status ≠ 1xx/3xx): true to read the body as
 * the requested range, false to decline (the caller retries through undici), or throw a
 * typed error (a 4xx/5xx, a Content-Range that does not fit, another version).
 */
export type RangeAnswerCheck = (status: number, headers: Readonly<Record<string, string>>) => boolean;

/**
 * Takes body bytes at their file position. `chunk` is a view of a receive buffer: it is
 * reused as soon as a returned promise settles (or at once when nothing is returned).
 */
export type RangeSink = (chunk: Buffer, position: number) => Promise<void> | void;

export type ExchangeEnd =
  | { kind: "done" }
  | { kind: "declined"; reason: string }
  /** A reused connection ended before any answer byte: the server had closed it. */
  | { kind: "stale" }
  | { kind: "failed"; error: unknown };

export interface ExchangeOptions {
  conn: Connection;
  offset: number;
  length: number;
  where: string;
  readTimeoutMs: number;
  bodyTimeoutMs: number;
  check: RangeAnswerCheck;
  sink: RangeSink;
  progress?: (bytes: number) => void;
  signal?: AbortSignal;
  finished: (end: ExchangeEnd) => void;
}

/** Below this much room left in a receive buffer, its bytes are handed over (a TLS record is 16 KiB). */
const MIN_READ_SPACE = 64 * 1024;

export class Exchange {
  private readonly o: ExchangeOptions;
  private stage: "head" | "body" | "over" = "head";
  private headParts: Buffer[] = [];
  private headBytes = 0;
  private head: ResponseHead | undefined;
  private bodyLength = 0;
  /** Body bytes read off the wire, and the part of them handed to the sink. */
  private consumed = 0;
  private delivered = 0;
  private overSent = false;
  /** Body bytes bound for the sink (delivered, or waiting in the current buffer). */
  private taken = 0;
  /** The receive buffer being filled, how far, and its body bytes not yet handed over. */
  private base: Buffer;
  private filled = 0;
  private pendingFrom = 0;
  private pendingEnd = 0;
  /** Set by flush(): the next read starts a fresh buffer. */
  private rotate = false;
  /** Receive buffers the sink still owns → number of its chunks not yet settled; oldest first. */
  private readonly busy = new Map<Buffer, number>();
  private waitingFor: Buffer | undefined;
  private sawBytes = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.end({ kind: "failed", error: this.o.signal?.reason });

  constructor(opts: ExchangeOptions) {
    this.o = opts;
    // The socket reads into the view it was last given; start from there.
    const next = opts.conn.nextBuffer;
    this.base = opts.conn.bufferOf(next) ?? next;
    this.filled = next.byteOffset - this.base.byteOffset;
  }

  start(request: Buffer): void {
    this.o.conn.reusable = false;
    if (this.o.signal?.aborted) return this.onAbort();
    this.o.signal?.addEventListener("abort", this.onAbort, { once: true });
    this.armTimer();
    this.o.conn.socket.write(request);
    // An idle connection was left paused by the exchange before.
    this.o.conn.socket.resume();
  }

  /**
   * `n` bytes were read into `this.base` from `this.filled` on. Returns
   * the view the next read goes into, and whether to read on.
   */
  onBytes(n: number): { buffer: Buffer; keepReading: boolean } {
    this.sawBytes = true;
    this.timer?.refresh();
    const start = this.filled;
    this.filled += n;
    try {
      let bodyBytes = n;
      if (this.stage === "head") bodyBytes = this.takeHead(this.base.subarray(start, this.filled)) ?? 0;
      if (bodyBytes > 0 && this.stage === "body") this.takeBody(this.filled - bodyBytes, bodyBytes);
    } catch (err) {
      this.end({ kind: "failed", error: err });
    }
    this.maybeDone();
    return this.nextRead();
  }

  onSocketError(err: Error): void {
    this.cut((err as NodeJS.ErrnoException).code ?? err.message);
  }

  onSocketEnd(): void {
    this.cut("closed");
  }

  /** The connection ended or broke: stale, unreachable, or a body cut short. */
  private cut(why: string): void {
    if (this.stage === "over") return;
    const { where, length } = this.o;
    if (this.stage === "head") {
      if (!this.sawBytes && this.o.conn.used > 1) return this.end({ kind: "stale" });
      return this.end({ kind: "failed", error: new OriginUnreachableError(`origin connection ended (${why}) before an answer for ${where}`) });
    }
    if (this.taken >= length) return this.maybeDone();
    this.end({ kind: "failed", error: new PartialTransferError(`origin connection ended (${why}) after ${this.taken} of ${length} bytes of ${where}`) });
  }

  /** Collects the head; returns how many body bytes followed it at the end of `chunk`. */
  private takeHead(chunk: Buffer): number | undefined {
    let bytes = chunk;
    let searchFrom = 0;
    if (this.headParts.length > 0) {
      searchFrom = this.headBytes;
      bytes = Buffer.concat([...this.headParts, chunk]);
    }
    const end = findHeadEnd(bytes, searchFrom);
    if (end > MAX_HEAD_BYTES || (end < 0 && bytes.length > MAX_HEAD_BYTES)) {
      throw new HttpHeadError(`origin sent a response head over ${MAX_HEAD_BYTES / 1024} KiB for ${this.o.where}`);
    }
    if (end < 0) {
      // Keep a copy of the partial head: the receive buffer is read into again from its start.
      this.headParts = [Buffer.from(bytes)];
      this.headBytes = bytes.length;
      this.filled = 0;
      return undefined;
    }
    const head = parseResponseHead(bytes.subarray(0, end));
    this.head = head;
    this.headParts = [];
    const declined = this.declineReason(head);
    if (declined !== undefined) {
      this.end({ kind: "declined", reason: declined });
      return undefined;
    }
    this.stage = "body";
    this.armTimer(); // the body's gap deadline from here on
    this.pendingFrom = this.pendingEnd = this.filled - (bytes.length - end);
    return bytes.length - end;
  }

  private declineReason(head: ResponseHead): string | undefined {
    const { status, headers } = head;
    if (status < 200) return `informational ${status}`;
    if (status >= 300 && status < 400) return `redirect ${status}`;
    if (!this.o.check(status, headers)) return `status ${status}`;
    if (status !== 206) return `status ${status}`;
    if (headers["transfer-encoding"] !== undefined) return "transfer coding";
    const length = contentLengthOf(head);
    if (length === undefined) return "no content length";
    this.bodyLength = length;
    return undefined;
  }

  /**
   * `count` body bytes arrived at `this.base[at…]`. They stay in the buffer until it is
   * nearly full or the range is complete (TLS hands over 16 KiB records: one write per
   * record would cost more than the copy it saves), then go to the sink in one piece.
   */
  private takeBody(at: number, count: number): void {
    const room = this.bodyLength - this.consumed;
    if (count > room) this.overSent = true;
    const body = Math.min(count, room);
    this.consumed += body;
    this.o.progress?.(body);
    const wanted = Math.min(body, this.o.length - this.taken);
    this.taken += wanted;
    this.pendingEnd = at + wanted;
    const rangeComplete = this.taken >= this.o.length || this.consumed >= this.bodyLength;
    if (rangeComplete || this.base.length - this.filled < MIN_READ_SPACE) this.flush();
  }

  /** Hands the bytes waiting in the current buffer to the sink and moves to the next buffer. */
  private flush(): void {
    const base = this.base;
    const from = this.pendingFrom;
    const to = this.pendingEnd;
    this.rotate = true;
    this.pendingFrom = to;
    if (to <= from) return;
    const position = this.o.offset + this.delivered;
    this.delivered += to - from;
    const pending = this.o.sink(base.subarray(from, to), position);
    if (!pending) return;
    this.busy.set(base, (this.busy.get(base) ?? 0) + 1);
    pending.then(
      () => this.release(base),
      (err: unknown) => {
        this.release(base);
        this.end({ kind: "failed", error: err });
      },
    );
  }

  private release(buffer: Buffer): void {
    const left = (this.busy.get(buffer) ?? 1) - 1;
    if (left > 0) this.busy.set(buffer, left);
    else this.busy.delete(buffer);
    if (left === 0 && this.waitingFor === buffer && this.stage !== "over") {
      this.waitingFor = undefined;
      this.armTimer();
      this.o.conn.socket.resume();
    }
    this.maybeDone();
  }

  /**
   * Where the next read goes and whether to read on. When every receive buffer is still
   * owned by the sink the socket pauses until the oldest comes back, and the next read goes
   * into a spare, never into a held buffer: Node's TLS socket goes on handing over records
   * it had already decrypted after onread said stop (seen on Node 20.20), and those bytes
   * must not land under a write in flight. Bytes that arrive while paused are taken as any
   * others; a plain TCP socket stops at once and simply resumes into the spare.
   */
  private nextRead(): { buffer: Buffer; keepReading: boolean } {
    if (this.rotate) {
      this.rotate = false;
      this.filled = this.pendingFrom = this.pendingEnd = 0;
      const free = this.o.conn.buffers.find((b) => !this.busy.has(b));
      if (free) this.base = free;
      else {
        this.waitingFor ??= this.busy.keys().next().value as Buffer;
        this.base = this.o.conn.spare(this.busy);
        // Waiting on the disk, not the network: no read deadline meanwhile.
        clearTimeout(this.timer);
      }
    }
    const keepReading = this.stage !== "over" && this.waitingFor === undefined;
    return { buffer: this.base.subarray(this.filled), keepReading };
  }

  private maybeDone(): void {
    if (this.stage !== "body" || this.busy.size > 0 || this.pendingEnd > this.pendingFrom) return;
    if (this.delivered < this.o.length) {
      if (this.consumed >= this.bodyLength) {
        const { where, length } = this.o;
        this.end({ kind: "failed", error: new PartialTransferError(`origin sent ${this.taken} of ${length} bytes of ${where}`) });
      }
      return;
    }
    const whole = this.consumed === this.bodyLength && !this.overSent;
    this.end({ kind: "done" }, whole && this.head !== undefined && keepsAlive(this.head));
  }

  private armTimer(): void {
    clearTimeout(this.timer);
    const ms = this.stage === "head" ? this.o.readTimeoutMs : this.o.bodyTimeoutMs;
    this.timer = setTimeout(() => {
      const { where, length } = this.o;
      const message = this.stage === "head"
        ? `origin sent no response within ${ms} ms for ${where}`
        : `origin sent no data for ${ms} ms after ${this.taken} of ${length} bytes of ${where}`;
      this.end({ kind: "failed", error: new TimeoutError("origin", message) });
    }, ms);
  }

  private end(end: ExchangeEnd, reusable = false): void {
    if (this.stage === "over") return;
    this.stage = "over";
    clearTimeout(this.timer);
    this.o.signal?.removeEventListener("abort", this.onAbort);
    this.o.conn.reusable = reusable;
    if (!reusable) this.o.conn.socket.destroy();
    this.o.finished(end);
  }
}
