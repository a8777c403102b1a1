// `-O -`, parents' pieces already on stdout, and then the origin turns out to ignore Range:
// the rest comes in one streamed GET from byte 0. Its first bytes must equal what the
// reader already has (read back from the temp file, where the pump took them from) —
// otherwise stdout would carry two versions — and only the bytes after them go out.
import { open, type FileHandle } from "node:fs/promises";
import { ClusterVersionError } from "../errors.js";

export class DeliveredPrefix {
  private fh: Promise<FileHandle> | undefined;

  /** `length`: bytes the reader has taken, from byte 0 of the file. */
  constructor(private readonly tempPath: string, readonly length: number) {}

  /** Compares a streamed chunk at `offset` with the delivered bytes it overlaps. */
  async check(offset: number, chunk: Buffer): Promise<void> {
    if (offset >= this.length) return;
    const n = Math.min(chunk.length, this.length - offset);
    this.fh ??= open(this.tempPath, "r");
    const had = Buffer.allocUnsafe(n);
    const { bytesRead } = await (await this.fh).read(had, 0, n, offset);
    if (bytesRead !== n || !had.equals(chunk.subarray(0, n))) {
      throw new ClusterVersionError(
        `the origin's bytes ${offset}–${offset + n - 1} differ from the parents' bytes already written to stdout, which cannot be taken back: run again`,
      );
    }
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.then((h) => h.close()).catch(() => undefined);
  }
}
