// One download, start to finish: HEAD the origin, plan pieces and the task id, then
// either the P2P session (schedulers, parents, switching) or the origin directly; the
// rest from the origin when no scheduler is left; verify; move into place. Progress and
// switching are events; the report is filled in as it goes so the JSON summary can be
// printed on failure too.
import { EventEmitter } from "node:events";
import { createReadStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { RunConfig } from "../config/types.js";
import { DigestMismatchError, NoSchedulerError, WriteError, messageOf } from "../errors.js";
import { parseDigest, hashFile } from "../storage/digest.js";
import { PieceFile } from "../storage/piece-file.js";
import { makeProgress, type DownloadEvents } from "./events.js";
import { OriginClient, RangeNotSupportedError } from "../transport/origin.js";
import { fetchPiecesFromOrigin } from "./origin-pieces.js";
import { PieceState } from "./piece-ledger.js";
import { StdoutPump } from "./stdout-pump.js";
import { goesStraightToOrigin, pieceLengthFor, planPieces } from "../task/piece-plan.js";
import { taskIdOf } from "../task/task-id.js";
import { runScheduled, type ClusterPlan } from "./scheduled.js";
import { emptyReport, type DownloadReport } from "./report.js";

export type { DownloadReport } from "./report.js";

export interface DownloadDeps {
  version: string;
  /** Resolves the scheduler list lazily (only when the download will use P2P). */
  cluster: ClusterPlan;
}

export class Download extends EventEmitter<DownloadEvents> {
  readonly report: DownloadReport;
  private readonly config: RunConfig;
  private readonly deps: DownloadDeps;
  private sink: PieceFile | undefined;
  private state: PieceState | undefined;
  private pump: StdoutPump | undefined;

  constructor(config: RunConfig, deps: DownloadDeps) {
    super();
    this.config = config;
    this.deps = deps;
    this.report = emptyReport(config.url, config.output, config.clusterSource === "none" ? "none" : "pending");
  }

  /** Temp file to remove from a signal handler (synchronously) if the process must die now. */
  removeTempSync(): void {
    this.sink?.removeTempSync();
  }

  async run(signal: AbortSignal): Promise<DownloadReport> {
    const cfg = this.config;
    const wanted = cfg.digest ? parseDigest(cfg.digest) : undefined;
    const toStdout = cfg.output === "-";
    // The task id depends on the URL and flags only, so every summary carries it (as --dry-run
    // shows it): streamed downloads and failures included.
    this.report.taskId = taskIdOf({ url: cfg.url, tag: cfg.tag, application: cfg.application, pieceLength: cfg.pieceLength, filteredQueryParams: cfg.filteredQueryParams, contentForCalculatingTaskId: cfg.contentForCalculatingTaskId });
    if (cfg.disableBackToSource && cfg.clusterSource === "none") {
      throw new NoSchedulerError("no scheduler configured (--scheduler, --manager, config file or DFGET_SCHEDULERS/DFGET_MANAGERS) and back-to-source is disabled");
    }
    // Fail on an existing output (73) or an unwritable directory (23) before any network.
    const target = toStdout ? join(tmpdir(), `dfget-stdout-${process.pid}-${Date.now()}`) : cfg.output;
    this.sink = await PieceFile.create(target, { overwrite: toStdout || cfg.overwrite });
    const origin = new OriginClient({
      headers: cfg.headers,
      connectTimeoutMs: cfg.scheduler.connectTimeoutMs,
      readTimeoutMs: cfg.download.pieceTimeoutMs,
      userAgent: `dfget/${this.deps.version}`,
      connections: cfg.download.concurrentPieceCount,
    });
    try {
      const info = await origin.head(cfg.url, signal);
      const url = info.url;
      if (info.contentLength === undefined || !info.acceptsRanges) {
        if (cfg.disableBackToSource) {
          throw new NoSchedulerError("the origin gives no content length or no range support, so the download cannot be scheduled, and back-to-source is disabled");
        }
        this.emit("notice", "origin gives no content length or range support: downloading directly from the origin");
        await this.streamWhole(origin, url, info.contentLength, signal);
      } else {
        await this.byPieces(origin, url, info.contentLength, signal);
      }
      await this.pump?.finish();
      if (wanted) {
        const actual = await hashFile(this.sink.tempPath, wanted.algorithm);
        this.report.digest = actual;
        if (actual !== `${wanted.algorithm}:${wanted.value}`) {
          throw new DigestMismatchError(`digest mismatch: expected ${wanted.algorithm}:${wanted.value}, got ${actual}`);
        }
      }
      if (toStdout && !this.pump) await this.copyToStdout();
      else await this.sink.commit();
      this.emitProgress(true);
      return this.report;
    } finally {
      this.pump?.detach();
      await this.state?.close();
      await this.sink.abort(); // a no-op after commit
      await origin.close();
    }
  }

  private async byPieces(origin: OriginClient, url: string, contentLength: number, signal: AbortSignal): Promise<void> {
    const cfg = this.config;
    const pieceLength = cfg.pieceLength ?? pieceLengthFor(contentLength);
    const taskId = this.report.taskId!;
    const plan = planPieces(contentLength, pieceLength);
    this.report.contentLength = contentLength;
    this.report.pieces.total = plan.length;
    const state = new PieceState(plan, this.sink!);
    this.state = state;
    // With --digest, stdout gets the bytes only once the whole file is verified; without,
    // they flow in order as pieces land.
    if (this.config.output === "-" && !this.config.digest) this.pump = new StdoutPump(state, process.stdout, this.sink!.tempPath);
    state.on("finished", (piece) => {
      this.report.bytesWritten = state.bytesWritten;
      if (piece.source === "parent") this.report.pieces.fromParents++;
      else this.report.pieces.fromSource++;
      this.emitProgress(false);
    });
    this.emitProgress(false);

    let rest = "";
    if (goesStraightToOrigin(contentLength, cfg.disableBackToSource)) {
      rest = `small file (≤ 4 MiB): downloading directly from the origin`;
      this.report.cluster.source = "skipped";
    } else {
      const outcome = await runScheduled({
        config: cfg,
        cluster: this.deps.cluster,
        version: this.deps.version,
        taskId,
        url,
        contentLength,
        pieceLength,
        state,
        origin,
        signal,
        report: this.report,
        events: this,
      });
      if (outcome.complete) {
        this.report.backToSource = outcome.backToSource;
        return;
      }
      if (cfg.disableBackToSource) throw new NoSchedulerError(`${outcome.reason}; back-to-source is disabled`);
      rest = outcome.reason;
    }
    this.report.backToSource = true;
    this.emit("backToSource", { reason: rest });
    while (!state.complete) {
      await fetchPiecesFromOrigin({ state, origin, url, concurrency: cfg.download.concurrentPieceCount, signal }).catch((err: unknown) => {
        if (err instanceof RangeNotSupportedError) throw new WriteError("origin stopped honouring Range requests mid-download", { cause: err });
        throw err;
      });
      if (!state.complete) await new Promise<void>((resolve) => state.once("changed", () => resolve()));
    }
  }

  /** No length or no ranges: one streamed GET written in order. */
  private async streamWhole(origin: OriginClient, url: string, contentLength: number | undefined, signal: AbortSignal): Promise<void> {
    const sink = this.sink!;
    this.report.contentLength = contentLength ?? null;
    this.report.backToSource = true;
    this.report.cluster.source = "skipped";
    let offset = 0;
    this.emitProgress(false);
    const result = await origin.streamWhole(
      url,
      async (chunk) => {
        await sink.writePiece(offset, chunk);
        offset += chunk.length;
        this.report.bytesWritten = offset;
        this.emitProgress(false);
      },
      signal,
    );
    this.report.contentLength = result.bytes;
  }

  private async copyToStdout(): Promise<void> {
    try {
      await pipeline(createReadStream(this.sink!.tempPath, { highWaterMark: 1 << 20 }), process.stdout, { end: false });
    } catch (err) {
      throw new WriteError(`cannot write to stdout: ${messageOf(err)}`, { cause: err });
    }
  }

  private lastProgressAt = 0;
  private emitProgress(final: boolean): void {
    const now = Date.now();
    if (!final && now - this.lastProgressAt < 100 && this.report.bytesWritten !== this.report.contentLength) return;
    this.lastProgressAt = now;
    const total = this.report.contentLength ?? undefined;
    this.emit("progress", makeProgress(this.report.bytesWritten, total, this.state?.finishedCount ?? 0, this.report.pieces.total));
  }
}

