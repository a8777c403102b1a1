// `-O -`: pieces go to stdout in order as soon as the prefix before them is complete, so
// `dfget URL -O - | tar x` starts working before the download ends. Bytes are read back
// from the temp file rather than held in memory: a slow first piece must not make the
// pieces finished after it pile up in RAM.
import { open, type FileHandle } from "node:fs/promises";
import type { Writable } from "node:stream";
import { WriteError, messageOf } from "../errors.js";
import type { PieceLedger } from "./piece-ledger.js";

const CHUNK = 1 << 20;

export class StdoutPump {
  private readonly state: PieceLedger;
  private readonly out: Writable;
  private next = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private fh: Promise<FileHandle> | undefined;
  private readonly tempPath: string;
  private readonly onFinished = (): void => this.kick();
  private readonly onDelivered: () => void;
  private stopped = false;
  private readonly name: string;
  private readonly onFailure: (err: unknown) => void;
  /** Bytes the reader has taken (what progress shows with `-O -`). */
  delivered = 0;

  /** `name`: the target in messages ("stdout", or the device's path); `onFailure`: told at
   *  once when a write fails (the reader went away, the device is full). */
  constructor(
    state: PieceLedger,
    out: Writable,
    tempPath: string,
    onDelivered: () => void = () => undefined,
    opts: { name?: string; onFailure?: (err: unknown) => void } = {},
  ) {
    this.state = state;
    this.name = opts.name ?? "stdout";
    this.onFailure = opts.onFailure ?? (() => undefined);
    this.out = out;
    this.tempPath = tempPath;
    this.onDelivered = onDelivered;
    state.on("finished", this.onFinished);
  }

  /** Resolves once every piece has been written to the stream (call when the download is complete). */
  async finish(): Promise<void> {
    this.kick();
    await this.chain;
    this.state.off("finished", this.onFinished);
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.then((h) => h.close()).catch(() => undefined);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Stop listening (download failed); what was written stays written. */
  detach(): void {
    this.state.off("finished", this.onFinished);
  }

  /**
   * Deliver nothing more (the rest comes another way): waits for the piece being written,
   * then says how many bytes the reader has taken — those cannot be taken back.
   */
  async stop(): Promise<number> {
    this.stopped = true;
    this.detach();
    await this.chain;
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.then((h) => h.close()).catch(() => undefined);
    if (this.failure !== undefined) throw this.failure;
    return this.delivered;
  }

  private kick(): void {
    this.chain = this.chain.then(() => this.drain()).catch((err: unknown) => {
      if (this.failure !== undefined) return;
      this.failure = new WriteError(`cannot write to ${this.name}: ${messageOf(err)}`, { cause: err });
      this.onFailure(this.failure);
    });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.failure === undefined && this.next < this.state.total && this.state.isFinished(this.next)) {
      const piece = this.state.plan[this.next]!;
      // From here on the piece is the reader's: the ledger may no longer drop it.
      this.state.markDelivered(piece.number);
      this.fh ??= open(this.tempPath, "r");
      const fh = await this.fh;
      for (let done = 0; done < piece.length; ) {
        const want = Math.min(CHUNK, piece.length - done);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, piece.offset + done);
        if (bytesRead === 0) throw new Error(`temp file ended at ${piece.offset + done}`);
        await write(this.out, bytesRead === want ? buf : buf.subarray(0, bytesRead));
        done += bytesRead;
        this.delivered += bytesRead;
        this.onDelivered();
      }
      this.next++;
    }
  }
}

function write(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    out.once("error", onError);
    const flushed = out.write(chunk, (err) => {
      out.off("error", onError);
      if (err) reject(err);
      else if (flushed) resolve();
    });
    if (!flushed) out.once("drain", () => resolve());
  });
}
