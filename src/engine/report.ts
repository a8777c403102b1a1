// What one run did, filled in as it goes so the JSON summary can be printed on failure too.
import type { Attempt } from "../switching/selector.js";

export interface DownloadReport {
  url: string;
  output: string;
  taskId: string | null;
  peerId: string | null;
  contentLength: number | null;
  bytesWritten: number;
  pieces: { total: number; fromParents: number; fromSource: number; reused: number };
  backToSource: boolean;
  scheduler: { used: string | null; switches: number; attempts: Attempt[] };
  digest: string | null;
  /** Where the scheduler list came from, and a warning when it is a stale cache. */
  cluster: { source: string; warning: string | null };
}

/** The report of a run that has not done anything yet. */
export function emptyReport(url: string, output: string, clusterSource: string): DownloadReport {
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
  };
}
