// The output of one run while it downloads, with resume: the hidden partial and its record
// beside the output (resume.ts), under the output's lock (output-lock.ts). The engine asks
// it for the PieceFile, tells it each finished piece, and says how the run ended:
//
//   open()      before any network: lock (73 when busy), output checks (73 exists, 23)
//   prepare()   after the HEAD: an earlier run's record that still matches → its pieces
//               whose crc32 still holds are handed back as reusable; otherwise start over
//   finished()  a piece is written: the record is rewritten at once (synchronously, in
//               place: RecordWriter), so whatever ends the process, every finished piece is in it
//   commit()    success: the file moves into place, the record goes, the lock is released
//   close(err)  failure: kept for the next run after transient faults, else removed
//
// `-O -` uses an unlinked file instead (nothing to resume, nothing left behind), and so
// does an output that is a character device or FIFO (stream-output.ts): `stream` then
// carries the bytes there (stdout for `-O -`), and commit() flushes it.
import { tmpdir } from "node:os";
import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { PieceFile } from "./piece-file.js";
import { OutputLock } from "./output-lock.js";
import { openStreamOutput, stdoutOutput, type StreamOutput } from "./stream-output.js";
import {
  RECORD_VERSION,
  discardResume,
  keepAfter,
  mismatchOf,
  readRecord,
  resumePathsFor,
  verifiedPieces,
  RecordWriter,
  type PieceSpan,
  type RecordedPiece,
  type ReusedPiece,
  type ResumeIdentity,
  type ResumePaths,
  type ResumeRecord,
} from "./resume.js";
import { DfgetError, ExitCode, WriteError } from "../errors.js";

export interface ResumableOptions {
  overwrite: boolean;
  /** false (--no-resume): an earlier partial is not used, but this run's is still kept. */
  resume: boolean;
  notice: (message: string) => void;
}

/**
 * The unlinked scratch file behind a streamed output. $TMPDIR first; a TMPDIR that is
 * missing or unwritable must not fail `dfget URL -O - | …` (curl needs no temp dir), so the
 * usual temp dirs and then the working directory are tried: the file is unlinked as soon
 * as it is open, so nothing is left wherever it lands.
 */
async function scratchFile(): Promise<PieceFile> {
  const dirs = [...new Set([tmpdir(), "/tmp", "/var/tmp", process.cwd()])];
  let first: unknown;
  for (const dir of dirs) {
    try {
      return await PieceFile.create(join(dir, `dfget-stdout-${process.pid}`), { overwrite: true, anonymous: true });
    } catch (err) {
      if (!(err instanceof WriteError)) throw err;
      first ??= err;
    }
  }
  throw first;
}

/** A failure that says an earlier partial is of no use any more: the object is gone (22)
 *  or another version. Anything else (a crash included) leaves an unjudged partial be. */
function invalidates(err: unknown): boolean {
  if (!(err instanceof DfgetError)) return false;
  return err.exitCode === ExitCode.originHttp || err.code === "ERR_OBJECT_CHANGED" || err.code === "ERR_CLUSTER_VERSION";
}

export class ResumablePartial {
  readonly file: PieceFile;
  private readonly paths: ResumePaths | undefined;
  private readonly lock: OutputLock | undefined;
  private readonly opts: ResumableOptions;
  private identity: ResumeIdentity | undefined;
  private readonly pieces = new Map<number, ReusedPiece>();
  private readonly record: RecordWriter | undefined;
  private closed = false;
  /** An earlier run's partial was opened as it is (resume on) and prepare() has not yet
   *  judged it: a failure before then (origin unreachable, Ctrl-C during the HEAD) must
   *  leave it and its record untouched for the next run. */
  private earlierUnjudged = false;
  /** Set when the output is stdout, a character device or a FIFO: written into, in order, never renamed onto. */
  readonly stream: StreamOutput | undefined;

  private constructor(file: PieceFile, paths: ResumePaths | undefined, lock: OutputLock | undefined, opts: ResumableOptions, stream?: StreamOutput) {
    this.file = file;
    this.stream = stream;
    this.paths = paths;
    this.record = paths && new RecordWriter(paths.record);
    this.lock = lock;
    this.opts = opts;
  }

  /** `output` "-", a character device or a FIFO → an unlinked temp file, no lock, no
   *  resume. Throws 73 (exists, busy) or 23. */
  static async open(output: string, opts: ResumableOptions): Promise<ResumablePartial> {
    const stream = output === "-" ? stdoutOutput() : await openStreamOutput(output);
    if (stream) {
      try {
        const file = await scratchFile();
        return new ResumablePartial(file, undefined, undefined, opts, stream);
      } catch (err) {
        stream?.destroy();
        throw err;
      }
    }
    const paths = resumePathsFor(output);
    let lock: OutputLock;
    try {
      lock = await OutputLock.acquire(paths.lock, output);
    } catch (err) {
      if (!(err instanceof WriteError)) throw err;
      // No lock file possible: PieceFile says precisely why (missing dir, not a dir, …).
      const probe = await PieceFile.create(output, { overwrite: opts.overwrite });
      await probe.abort();
      throw err;
    }
    try {
      const earlier = opts.resume && (await lstat(paths.part).then(() => true, () => false));
      const file = await PieceFile.create(output, { overwrite: opts.overwrite, partPath: paths.part, reuse: opts.resume });
      const partial = new ResumablePartial(file, paths, lock, opts);
      partial.earlierUnjudged = earlier;
      return partial;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /**
   * Size the partial for `identity` and say which planned pieces an earlier run already
   * finished (number → crc32 digest, and whether it came from a parent). Without a
   * validator nothing is resumed or kept; `unpinnedWhy` replaces the one notice that says so.
   */
  async prepare(identity: ResumeIdentity, plan: readonly PieceSpan[], unpinnedWhy?: string): Promise<Map<number, ReusedPiece>> {
    const paths = this.paths;
    const pinned = identity.validator.etag !== undefined || identity.validator.lastModified !== undefined;
    let reusable = new Map<number, ReusedPiece>();
    this.earlierUnjudged = false;
    if (paths && this.opts.resume) {
      const record = await readRecord(paths.record);
      const why = record === "corrupt" ? "its record is unreadable" : record && mismatchOf(record, identity);
      if (record !== undefined && why !== undefined) this.opts.notice(`not resuming the earlier partial download: ${why}; starting over`);
      else if (record && record !== "corrupt") reusable = await verifiedPieces(paths.part, plan, record.pieces);
    }
    if (paths && !pinned) this.opts.notice(unpinnedWhy ?? "the origin sends no strong ETag or Last-Modified: this download cannot be resumed if it is cut short");
    await this.file.setSize(identity.contentLength, reusable.size === 0);
    this.identity = pinned ? identity : undefined;
    for (const [number, piece] of reusable) this.pieces.set(number, piece);
    this.save();
    return reusable;
  }

  /** A piece is verified and its last write(2) returned: note it in the record now. */
  finished(number: number, digest: string, fromParent = false): void {
    if (!this.identity || !this.paths || this.closed) return;
    this.pieces.set(number, { digest, fromParent });
    this.save();
  }

  /** A piece no longer counts (its bytes turned out to be another version): out of the record. */
  unfinished(number: number): void {
    if (!this.identity || !this.paths || this.closed || !this.pieces.delete(number)) return;
    this.save();
  }

  /** Success: move the file into place, remove the record, unlock. */
  async commit(): Promise<void> {
    this.closed = true;
    if (this.stream) {
      try {
        await this.stream.end();
      } finally {
        await this.file.abort();
      }
      return;
    }
    try {
      await this.file.commit();
    } finally {
      this.record?.close();
      if (this.paths) await discardResume(this.paths);
      await this.lock?.release();
    }
  }

  /** The run failed with `err` (or was abandoned): keep what is resumable, drop the rest. */
  async close(err: unknown): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream?.destroy();
    if (this.earlierUnjudged && !invalidates(err)) {
      // Failed before the earlier partial was even looked at: it is as the last run left it.
      this.record?.close();
      await this.file.keep();
      await this.lock?.release();
      return;
    }
    const keep = this.identity !== undefined && this.paths !== undefined && keepAfter(err);
    if (keep) {
      this.save(); // already current; once more in case a write of it failed
      this.record?.close();
      await this.file.keep();
    } else {
      this.identity = undefined; // a second signal now must not leave the partial behind
      this.record?.close();
      await this.file.abort();
      if (this.paths) await discardResume(this.paths);
    }
    await this.lock?.release();
  }

  /** For a signal handler that exits right after: the partial stays (resumable), the lock goes. */
  releaseSync(): void {
    if (!this.identity && !this.earlierUnjudged) this.file.removeTempSync();
    this.record?.close();
    this.lock?.releaseSync();
  }

  /** A record that cannot be written only costs resume: never throws. */
  private save(): void {
    if (!this.identity || !this.paths) return;
    const record: ResumeRecord = {
      version: RECORD_VERSION,
      ...this.identity,
      pieces: [...this.pieces.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([n, p]): RecordedPiece => (p.fromParent ? [n, p.digest, "parent"] : [n, p.digest])),
      updatedAt: new Date().toISOString(),
    };
    try {
      this.record?.write(record);
    } catch {
      // Read-only or full directory: the download goes on, only resume is lost.
    }
  }
}
