// A vortex connection that reads into one reused receive buffer (net `onread`) instead
// of letting the socket allocate a fresh 64 KiB Buffer for every read. Those buffers are
// garbage as soon as a chunk is written, but V8 frees them only when a GC happens to
// run: measured on a 1 GiB download from one parent, 15–30 MiB of them were waiting to
// be collected at any time (process.memoryUsage().arrayBuffers, a 1.4 → 31.8 MiB
// sawtooth), a quarter of dfget's peak RSS.
//
// The socket pauses after each read and resumes only when the reader asks for the next
// chunk — so the chunk it was handed (and every view of it) stays untouched until then.
import { connect, type Socket } from "node:net";

/** Receive buffer per connection; each piece in flight has one. */
export const RECEIVE_BUFFER_BYTES = 256 * 1024;
/** Spare buffers kept for the next connections (pieces in flight are 4–16). */
const MAX_SPARE_BUFFERS = 16;
const spare: Buffer[] = [];

function takeBuffer(): Buffer {
  // allocUnsafeSlow: its own ArrayBuffer, never a slice of Node's shared pool.
  return spare.pop() ?? Buffer.allocUnsafeSlow(RECEIVE_BUFFER_BYTES);
}

function giveBack(buffer: Buffer): void {
  if (spare.length < MAX_SPARE_BUFFERS) spare.push(buffer);
}

/**
 * Yields views of the connection's receive buffer, one read each. A chunk is valid until
 * the next call to next(): that call is what lets the socket read into the buffer again.
 * Ends with done at EOF; rejects with the socket's error (destroy(err) included).
 */
export class ReusedBufferSource implements AsyncIterator<Uint8Array>, AsyncIterable<Uint8Array> {
  readonly socket: Socket;
  private buffer: Buffer | undefined;
  private chunk: Buffer | undefined;
  private ended = false;
  /** The reader has handed the buffer back (or never had it): a read may land in it. */
  private readable = true;
  private failure: { error: unknown } | undefined;
  private waiter: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (err: unknown) => void } | undefined;

  constructor(opts: { host: string; port: number }) {
    const buffer = takeBuffer();
    this.buffer = buffer;
    let socket: Socket;
    try {
      socket = this.connect(opts, buffer);
    } catch (err) {
      // connect() throws on a bad port or host: the buffer goes back, or it is lost for good.
      this.buffer = undefined;
      giveBack(buffer);
      throw err;
    }
    this.socket = socket;
    this.socket.on("error", (err) => this.finish({ error: err }));
    this.socket.on("end", () => this.finish(undefined));
    this.socket.on("close", () => this.finish(undefined));
  }

  private connect(opts: { host: string; port: number }, buffer: Buffer): Socket {
    return connect({
      host: opts.host,
      port: opts.port,
      noDelay: true,
      onread: {
        buffer,
        callback: (n: number) => {
          if (!this.readable) {
            // A read past the pause (Node's TLS sockets do this; plain TCP must not) has
            // overwritten bytes the reader may still be writing: fail the transfer, so the
            // piece is fetched and written again, rather than let it count.
            this.socket.destroy(new Error("vortex socket read into a buffer still in use"));
            return false;
          }
          this.readable = false;
          this.deliver(buffer.subarray(0, n));
          return false; // paused until the reader is done with this chunk
        },
      },
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    const chunk = this.chunk;
    if (chunk) {
      this.chunk = undefined;
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      // The previous chunk is done with: the buffer may be read into again.
      this.readable = true;
      this.socket.resume();
    });
  }

  /**
   * Destroys the socket and keeps the buffer for another connection. Call it once the
   * reader is done with every chunk; after destroy() no read lands in the buffer.
   */
  close(): void {
    this.socket.destroy();
    const buffer = this.buffer;
    this.buffer = undefined;
    this.chunk = undefined;
    if (buffer) giveBack(buffer);
  }

  private deliver(chunk: Buffer): void {
    const waiter = this.waiter;
    if (!waiter) {
      this.chunk = chunk;
      return;
    }
    this.waiter = undefined;
    waiter.resolve({ value: chunk, done: false });
  }

  private finish(failure: { error: unknown } | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = failure;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (!waiter) return;
    if (failure) waiter.reject(failure.error);
    else waiter.resolve({ value: undefined, done: true });
  }
}
