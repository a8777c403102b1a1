// What one run did, as a value: DownloadRun.run() resolves with it on success and on
// failure alike (then `error` says what ended it), and the JSON summary is derived from it.
import type { Attempt } from "../switching/selector.js";
import type { PieceCounts } from "./piece-ledger.js";

export interface RunResult {
  url: string;
  output: string;
  taskId: string | null;
  peerId: string | null;
  contentLength: number | null;
  bytesWritten: number;
  pieces: PieceCounts;
  backToSource: boolean;
  scheduler: { used: string | null; switches: number; attempts: Attempt[] };
  digest: string | null;
  /** Where the scheduler list came from, and a warning when it is a stale cache. */
  cluster: { source: string; warning: string | null };
  timings: { startedAt: number; durationMs: number };
  /** What ended the run; undefined when the bytes are in place. */
  error?: unknown;
}

/** The result of a run that did not get to do anything (e.g. a usage error). */
export function emptyResult(url: string, output: string, clusterSource: string): RunResult {
  return {
    url,
    output,
    taskId: null,
    peerId: null,
    contentLength: null,
    bytesWritten: 0,
    pieces: { total: 0, fromParents: 0, fromSource: 0, reused: 0 },
    backToSource: false,
    scheduler: { used: null, switches: 0, attempts: [] },
    digest: null,
    cluster: { source: clusterSource, warning: null },
    timings: { startedAt: 0, durationMs: 0 },
  };
}
