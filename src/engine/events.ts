// Every event a download emits, in one place (got's typed event map). Renderers in
// cli/ subscribe; nothing below cli/ prints.
import type { Attempt } from "../switching/selector.js";

export interface ProgressValue {
  transferred: number;
  total: number | undefined;
  /** 0..1, or undefined while the total is unknown. */
  percent: number | undefined;
  piecesDone: number;
  piecesTotal: number;
}

/** Pure: the progress value for counters (got's makeProgress). */
export function makeProgress(transferred: number, total: number | undefined, piecesDone: number, piecesTotal: number): ProgressValue {
  const percent = total === undefined ? undefined : total === 0 ? 1 : Math.min(1, transferred / total);
  return { transferred, total, percent, piecesDone, piecesTotal };
}

export interface DownloadEvents {
  /** Byte and piece counters changed (also once at the start and once at the end). */
  progress: [ProgressValue];
  /** A scheduler was probed, skipped as cooling, or failed. */
  attempt: [Attempt];
  /** Registration moved from one scheduler to another (`from` undefined for the first). */
  schedulerSwitch: [{ from: string | undefined; to: string; reason: string }];
  /** The rest of the file comes from the origin; `reason` says why. */
  backToSource: [{ reason: string }];
  /** Something a user should know, one line (e.g. no cluster configured). */
  notice: [string];
  /** Diagnostic detail for --verbose. */
  debug: [string];
}
