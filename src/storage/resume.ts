// An unfinished download kept for the next run: the partial file and a small record
// beside the output, under names fixed by the output's name (aria2c keeps FILE.aria2 the
// same way), so that running the same command again finds them:
//
//   .NAME.dfget.part   the bytes, at their final offsets (sparse where missing)
//   .NAME.dfget.json   which pieces are finished and their crc32, and what they belong to
//   .NAME.dfget.lock   held while a run writes them: a second run to the same output → 73
//
// The record is rewritten (RecordWriter) as each piece finishes, only after the piece's
// last write(2) returned: the bytes are then in the page cache, which outlives the process
// (kill -9, a second Ctrl-C), so the record never names a piece a process death could lose.
// No fsync: after a power loss it may name a piece whose bytes never reached the disk, so
// every piece it names is re-read and its crc32 checked before it is believed.
import { createHash } from "node:crypto";
import { closeSync, constants, openSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { crc32 } from "./crc32.js";
import { readRegularFile } from "../regular-file.js";
import { DfgetError, ExitCode } from "../errors.js";

export const RECORD_VERSION = 1;

/** What the partial belongs to; a rerun resumes only when all of it still matches. */
export interface ResumeIdentity {
  /** Redacted (no credentials, no signed query values): safe to print and to keep. */
  url: string;
  /** sha256 of the full URL, credentials included: the real comparison. */
  urlSha256: string;
  taskId: string;
  pieceLength: number;
  contentLength: number;
  /** The origin's pinned validator. A download without one is never resumed. */
  validator: { etag?: string; lastModified?: string };
}

export interface ResumeRecord extends ResumeIdentity {
  version: typeof RECORD_VERSION;
  /**
   * [piece number, "crc32:<decimal>"], as pieces finished; a third element "parent" when
   * the piece came from a parent peer (a resumed run must still cross-check those against
   * the origin: the cluster may hold another version of the object).
   */
  pieces: RecordedPiece[];
  updatedAt: string;
}

export type RecordedPiece = [number, string] | [number, string, "parent"];

/** A piece an earlier run finished whose bytes still check out. */
export interface ReusedPiece {
  digest: string;
  fromParent: boolean;
}

export interface ResumePaths {
  part: string;
  record: string;
  lock: string;
}

/** Another dfget writes to the same output right now. */
export class OutputBusyError extends DfgetError {
  constructor(message: string) {
    super(message, "ERR_OUTPUT_BUSY", ExitCode.outputExists);
    this.name = "OutputBusyError";
  }
}

export function resumePathsFor(output: string): ResumePaths {
  const full = resolve(output);
  const stem = join(dirname(full), `.${basename(full)}.dfget`);
  return { part: `${stem}.part`, record: `${stem}.json`, lock: `${stem}.lock` };
}

export function urlFingerprint(url: string): string {
  return createHash("sha256").update(url).digest("hex");
}

/** Why `record` cannot be resumed for `want`, or undefined when it can. */
export function mismatchOf(record: ResumeRecord, want: ResumeIdentity): string | undefined {
  if (record.urlSha256 !== want.urlSha256) return `it is for another URL (${record.url})`;
  if (record.contentLength !== want.contentLength) return `the size changed (${record.contentLength} → ${want.contentLength} bytes)`;
  if (record.pieceLength !== want.pieceLength) return `the piece length changed (${record.pieceLength} → ${want.pieceLength})`;
  if (record.taskId !== want.taskId) return "the task id changed (other --tag, --application or filters)";
  const had = record.validator.etag ?? record.validator.lastModified;
  const now = want.validator.etag ?? want.validator.lastModified;
  if (had === undefined || now === undefined || had !== now) return `the origin's version changed (${had ?? "none"} → ${now ?? "none"})`;
  return undefined;
}

function isRecord(doc: unknown): doc is ResumeRecord {
  if (typeof doc !== "object" || doc === null) return false;
  const r = doc as Partial<ResumeRecord>;
  return (
    r.version === RECORD_VERSION && typeof r.url === "string" && typeof r.urlSha256 === "string" && typeof r.taskId === "string" &&
    Number.isSafeInteger(r.pieceLength) && Number.isSafeInteger(r.contentLength) && typeof r.validator === "object" && r.validator !== null &&
    Array.isArray(r.pieces) &&
    r.pieces.every((p) => Array.isArray(p) && Number.isSafeInteger(p[0]) && typeof p[1] === "string" && (p.length === 2 || (p.length === 3 && p[2] === "parent")))
  );
}

/** The text of a small file dfget keeps beside the output (record, lock): a plain file, not through a symlink. */
export function readOwnFile(path: string): Promise<string> {
  return readRegularFile(path, { followLinks: false });
}

/** The record at `path`: undefined when missing; "corrupt" when unreadable or malformed. */
export async function readRecord(path: string): Promise<ResumeRecord | "corrupt" | undefined> {
  let text: string;
  try {
    text = await readOwnFile(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? undefined : "corrupt";
  }
  try {
    const doc: unknown = JSON.parse(text);
    return isRecord(doc) ? doc : "corrupt";
  } catch {
    return "corrupt";
  }
}

/**
 * Atomic replace (temp + rename), no fsync: the crc32 check on resume covers a power loss.
 * Synchronous on purpose: a signal handler that exits at once (second Ctrl-C) can then
 * neither cut a write short nor race one still in the thread pool.
 */
export function writeRecord(path: string, record: ResumeRecord): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(record) + "\n", { mode: 0o600 });
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * The record of a running download, rewritten after every finished piece. The first
 * write replaces the file atomically (writeRecord); later ones rewrite it in place with
 * one pwrite(2) from offset 0 through a descriptor kept open, padded with spaces to at
 * least the previous length (JSON allows trailing whitespace), so the file is always one
 * whole record: a process killed at any point leaves the last write or the one before,
 * never a mix. Why not temp + rename each time: a rename is a directory update, ~1.2 ms
 * of the main thread per piece — 0.3 s per GiB in a CPU profile. Synchronous like
 * writeRecord, for the same reason; a write is one syscall of a few kB into the page cache.
 */
export class RecordWriter {
  private readonly path: string;
  private fd: number | undefined;
  private length = 0;

  constructor(path: string) {
    this.path = path;
  }

  /** Throws what the file system says (read-only, full): the caller only loses resume. */
  write(record: ResumeRecord): void {
    const text = Buffer.from(JSON.stringify(record));
    if (this.fd === undefined) {
      writeRecord(this.path, record);
      this.fd = openSync(this.path, "r+");
      this.length = text.length + 1;
      return;
    }
    const total = Math.max(text.length + 1, this.length);
    const out = Buffer.alloc(total, 0x20);
    text.copy(out);
    out[total - 1] = 0x0a;
    try {
      let done = 0;
      while (done < total) done += writeSync(this.fd, out, done, total - done, done);
    } catch (err) {
      // A write cut short (disk full, I/O error) may leave a mix of two records: the next
      // save replaces the file whole again (temp + rename) instead of patching it.
      this.close();
      throw err;
    }
    this.length = total;
  }

  /** Closes the descriptor; the file stays (discardResume removes it). */
  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed: nothing to release
    }
    this.fd = undefined;
  }
}

export interface PieceSpan {
  number: number;
  offset: number;
  length: number;
}

/**
 * Re-reads every piece the record names from the partial and keeps those whose crc32
 * still matches. Returns the good ones with their digests.
 */
export async function verifiedPieces(partPath: string, plan: readonly PieceSpan[], recorded: readonly RecordedPiece[]): Promise<Map<number, ReusedPiece>> {
  const good = new Map<number, ReusedPiece>();
  let fh;
  try {
    fh = await open(partPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return good;
  }
  if (!(await fh.stat().then((s) => s.isFile(), () => false))) {
    await fh.close();
    return good;
  }
  try {
    const buffer = Buffer.allocUnsafe(Math.max(0, ...plan.map((p) => p.length)));
    for (const [number, digest, source] of recorded) {
      const span = plan[number];
      if (!span || good.has(number)) continue;
      const view = buffer.subarray(0, span.length);
      const { bytesRead } = await fh.read(view, 0, span.length, span.offset);
      if (bytesRead === span.length && `crc32:${crc32(view)}` === digest) good.set(number, { digest, fromParent: source === "parent" });
    }
  } finally {
    await fh.close();
  }
  return good;
}

/** Remove the partial and its record (never throws). */
export async function discardResume(paths: ResumePaths): Promise<void> {
  await Promise.all([rm(paths.part, { force: true }), rm(paths.record, { force: true })]).catch(() => undefined);
}

/**
 * Are the partial and record worth keeping after a run that failed with `err`?
 * Yes after transient faults (7, 18 cut short, 23 disk full, 28, 130, 143); no after an
 * HTTP error (22), a digest mismatch (32), a changed object, or anything else.
 */
export function keepAfter(err: unknown): boolean {
  if (!(err instanceof DfgetError)) return false;
  // Another version (the origin's, or the cluster's): the partial may hold the wrong one.
  if (err.code === "ERR_OBJECT_CHANGED" || err.code === "ERR_CLUSTER_VERSION") return false;
  const kept: number[] = [ExitCode.originUnreachable, ExitCode.partial, ExitCode.write, ExitCode.timeout, ExitCode.sigint, ExitCode.sigterm];
  return kept.includes(err.exitCode);
}
