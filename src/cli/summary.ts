// The --json summary object of the contract (cli.md, "JSON summary"): one line, always
// printed, also on failure. Fields may be added, never removed.
import { userMessage } from "./error-text.js";
import type { RunResult } from "../engine/result.js";

export { emptyResult } from "../engine/result.js";
import { redactUrl } from "../net/redact.js";

export interface Summary {
  ok: boolean;
  exitCode: number;
  error: string | null;
  url: string;
  output: string;
  taskId: string | null;
  peerId: string | null;
  contentLength: number | null;
  bytesWritten: number;
  durationMs: number;
  bytesPerSecond: number;
  pieces: RunResult["pieces"];
  backToSource: boolean;
  scheduler: { used: string | null; switches: number; attempts: RunResult["scheduler"]["attempts"] };
  digest: string | null;
  cluster: RunResult["cluster"];
}

export function buildSummary(report: RunResult, end: { code: number; error: unknown; durationMs: number }): Summary {
  const seconds = end.durationMs / 1000;
  return {
    ok: end.code === 0,
    exitCode: end.code,
    error: end.error === undefined ? null : userMessage(end.error, report.output),
    url: report.url === "" ? "" : redactUrl(report.url),
    output: report.output,
    taskId: report.taskId,
    peerId: report.peerId,
    contentLength: report.contentLength,
    bytesWritten: report.bytesWritten,
    durationMs: end.durationMs,
    bytesPerSecond: seconds > 0 ? Math.round(report.bytesWritten / seconds) : report.bytesWritten,
    pieces: report.pieces,
    backToSource: report.backToSource,
    // Whole milliseconds, as cli.md shows them (probes time themselves with performance.now()).
    scheduler: { used: report.scheduler.used, switches: report.scheduler.switches, attempts: report.scheduler.attempts.map((a) => ({ ...a, ms: Math.round(a.ms) })) },
    digest: report.digest,
    cluster: report.cluster,
  };
}

