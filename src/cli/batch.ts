// Several files in one run: at most `maxConcurrent` downloads at a time, every file
// attempted even after a failure, results reported as each file finishes. The exit code
// is the first failure's in list order (an interrupt wins: 130/143). What a file's run
// is (a DownloadRun over the process-wide host, or a fake in tests) is injected.
import { ExitCode, exitCodeOf, type DfgetError } from "../errors.js";
import type { BatchEntry } from "./batch-plan.js";

export interface FileOutcome {
  code: number;
  bytesWritten: number;
  error?: unknown;
}

export interface BatchRunOptions {
  maxConcurrent: number;
  /** Downloads one entry; never rejects (a failure is in the outcome). */
  run(entry: BatchEntry, signal: AbortSignal): Promise<FileOutcome>;
  /** The outcome of an entry that failed before any download (duplicate, unsafe path). */
  refused(entry: BatchEntry, failure: DfgetError): FileOutcome;
  /** The outcome of an entry never started because the batch was interrupted (`reason`:
   *  the signal's); every entry gets one outcome, reported like the others. */
  notStarted(entry: BatchEntry, reason: unknown): FileOutcome;
  /** Called once per entry as it finishes (refused entries first, in list order). */
  onFinished?(entry: BatchEntry, outcome: FileOutcome): void;
  signal: AbortSignal;
}

export interface BatchOutcome {
  exitCode: number;
  files: number;
  failed: number;
  bytesWritten: number;
  outcomes: FileOutcome[];
}

/** The final --json object of a batch (integers only). */
export interface BatchSummary {
  ok: boolean;
  exitCode: number;
  files: number;
  failed: number;
  bytesWritten: number;
  durationMs: number;
}

export async function runBatch(entries: readonly BatchEntry[], opts: BatchRunOptions): Promise<BatchOutcome> {
  const outcomes: Array<FileOutcome | undefined> = new Array<FileOutcome | undefined>(entries.length);
  const finish = (index: number, outcome: FileOutcome): void => {
    outcomes[index] = outcome;
    opts.onFinished?.(entries[index]!, outcome);
  };
  entries.forEach((entry, index) => {
    if (entry.failure) finish(index, opts.refused(entry, entry.failure));
  });
  const queue = entries.map((_, index) => index).filter((index) => !entries[index]!.failure);
  const worker = async (): Promise<void> => {
    for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
      const entry = entries[index]!;
      if (opts.signal.aborted) {
        finish(index, opts.notStarted(entry, opts.signal.reason));
        continue;
      }
      finish(index, await opts.run(entry, opts.signal));
    }
  };
  const workers = Math.max(1, Math.min(opts.maxConcurrent, queue.length));
  await Promise.all(Array.from({ length: workers }, worker));
  const done = outcomes.map((o) => o ?? { code: ExitCode.other, bytesWritten: 0 });
  const firstFailure = done.find((o) => o.code !== ExitCode.ok);
  const interrupted = opts.signal.aborted ? exitCodeOf(opts.signal.reason) : undefined;
  return {
    exitCode: interrupted ?? firstFailure?.code ?? ExitCode.ok,
    files: done.length,
    failed: done.filter((o) => o.code !== ExitCode.ok).length,
    bytesWritten: done.reduce((sum, o) => sum + o.bytesWritten, 0),
    outcomes: done,
  };
}

export function batchSummary(outcome: BatchOutcome, durationMs: number): BatchSummary {
  return {
    ok: outcome.exitCode === ExitCode.ok,
    exitCode: outcome.exitCode,
    files: outcome.files,
    failed: outcome.failed,
    bytesWritten: outcome.bytesWritten,
    durationMs: Math.round(durationMs),
  };
}
