// One download, start to finish: HEAD the origin, plan pieces and the task id, then
// either the P2P phase (schedulers, parents, switching) or the origin directly; the rest
// from the origin when no scheduler is left; verify; move into place. Progress and
// switching are events; what happened comes back as a RunResult value.
import { EventEmitter } from "node:events";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { ClusterVersionError, DigestMismatchError, NoSchedulerError, PartialTransferError, WriteError, messageOf } from "../errors.js";
import { parseDigest, hashFile, type ParsedDigest } from "../storage/digest.js";
import type { PieceFile } from "../storage/piece-file.js";
import type { StreamOutput } from "../storage/stream-output.js";
import { ResumablePartial } from "../storage/resumable.js";
import { urlFingerprint, type ReusedPiece } from "../storage/resume.js";
import { redactUrl } from "../net/redact.js";
import { RangeNotSupportedError, type OriginInfo } from "../transport/origin.js";
import { RetryPolicy, isRetryable } from "../transport/retry-policy.js";
import type { SchedulerSelector } from "../switching/selector.js";
import { goesStraightToOrigin, pieceLengthFor, planPieces } from "../task/piece-plan.js";
import { taskIdOfConfig } from "../task/task-id.js";
import { makeProgress, type DownloadEvents } from "./events.js";
import { fetchRestFromOrigin } from "./origin-pieces.js";
import { DeliveredPrefix } from "./delivered-prefix.js";
import { describeMismatch } from "./parent-versions.js";
import type { runP2P } from "./p2p.js";
import type { RunParts } from "./parts.js";
import { PieceLedger } from "./piece-ledger.js";
import { emptyResult, type RunResult } from "./result.js";
import { StdoutPump } from "./stdout-pump.js";

export type { RunResult } from "./result.js";

/** Progress events are at most this often, except the first and the last. */
const PROGRESS_INTERVAL_MS = 100;

export class DownloadRun extends EventEmitter<DownloadEvents> {
  private readonly parts: RunParts;
  /** What this run found out so far; result() composes the value from it. */
  private readonly facts: RunResult;
  private partial: ResumablePartial | undefined;
  /** Tries per piece (and for the one streamed GET) across sources: --retry. */
  private readonly retry: RetryPolicy;
  private ledger: PieceLedger | undefined;
  /** Bytes already streamed to the target (stdout, a device) when the run fell back to one streamed GET. */
  private onStdout: DeliveredPrefix | undefined;
  private selector: SchedulerSelector | undefined;
  private pump: StdoutPump | undefined;
  /** Where bytes are streamed in order instead of renamed into place (stdout, a device, a FIFO). */
  private target: StreamOutput | undefined;
  /** Ends the run with `reason` (a streamed target that failed). */
  private stopRun: (reason: unknown) => void = () => undefined;
  private lastProgressAt = 0;

  constructor(parts: RunParts) {
    super();
    this.parts = parts;
    const cfg = parts.config;
    this.facts = emptyResult(cfg.url, cfg.output, cfg.clusterSource === "none" ? "none" : "pending");
    this.retry = new RetryPolicy({ retries: cfg.download.retries, clock: parts.clock, timer: parts.timer, deadline: parts.deadline });
  }

  /** For a signal handler that exits now: the resumable partial stays, the output lock goes. */
  removeTempSync(): void {
    this.partial?.releaseSync();
  }

  /** Never rejects: a failure is in the result's `error`. */
  async run(signal: AbortSignal): Promise<RunResult> {
    const startedAt = this.parts.clock.now();
    this.facts.timings.startedAt = startedAt;
    try {
      await this.download(signal);
    } catch (err) {
      this.facts.error = err;
    }
    this.facts.timings.durationMs = this.parts.clock.now() - startedAt;
    return this.result();
  }

  /** The value so far: counters from the ledger, attempts from the selector. */
  result(): RunResult {
    // Without a selector (no scheduler address at all) the attempts are the unresolved names.
    const attempts = [...(this.selector?.attempts ?? this.facts.scheduler.attempts)];
    return {
      ...this.facts,
      bytesWritten: this.ledger?.bytesWritten ?? this.facts.bytesWritten,
      pieces: this.ledger?.counts() ?? this.facts.pieces,
      scheduler: { ...this.facts.scheduler, switches: this.selector?.switches ?? 0, attempts },
    };
  }

  private async download(signal: AbortSignal): Promise<void> {
    const cfg = this.parts.config;
    const wanted = cfg.digest ? parseDigest(cfg.digest) : undefined;
    // The task id depends on the URL and flags only, so every result carries it (as --dry-run
    // shows it): streamed downloads and failures included.
    this.facts.taskId = taskIdOfConfig(cfg);
    if (cfg.disableBackToSource && cfg.clusterSource === "none") {
      throw new NoSchedulerError("no scheduler configured (--scheduler, --manager, config file or DFGET_SCHEDULERS/DFGET_MANAGERS) and back-to-source is disabled");
    }
    // Fail on an existing output (73), another run writing it (73) or an unwritable
    // directory (23) before any network. An earlier run's partial is looked at after HEAD.
    const partial = await ResumablePartial.open(cfg.output, { overwrite: cfg.overwrite, resume: cfg.resume, notice: (m) => this.emit("notice", m) });
    this.partial = partial;
    // Bytes streamed in order: to stdout (`-O -`), or into a character device or FIFO.
    this.target = partial.stream;
    // A target that fails (EPIPE, ENOSPC) ends the run at once, not after the download.
    const local = new AbortController();
    this.stopRun = (reason) => local.abort(reason);
    const relay = (): void => local.abort(signal.reason);
    if (signal.aborted) relay();
    else signal.addEventListener("abort", relay, { once: true });
    const sink = partial.file;
    let failure: unknown;
    try {
      await this.fetch(local.signal);
      this.assertWhole();
      await this.pump?.finish();
      if (wanted) await this.verify(sink, wanted);
      if (this.target && !this.pump) await this.copyTo(this.target, sink);
      await partial.commit();
      this.emitProgress(true);
    } catch (err) {
      failure = local.signal.aborted ? local.signal.reason : err;
      throw failure;
    } finally {
      signal.removeEventListener("abort", relay);
      this.pump?.detach();
      await this.onStdout?.close();
      await this.ledger?.close();
      await partial.close(failure); // kept for resume after transient failures; a no-op after commit
    }
  }

  private async fetch(signal: AbortSignal): Promise<void> {
    const cfg = this.parts.config;
    let info: OriginInfo;
    try {
      info = await this.parts.origin.head(cfg.url, signal);
    } catch (err) {
      // A transient HEAD failure need not end a run that has a cluster: parents may hold it all.
      if (cfg.clusterSource === "none" || signal.aborted || !isRetryable(err)) throw err;
      return await this.withoutHead(err, signal);
    }
    if (info.contentLength !== undefined && info.acceptsRanges) return await this.piecesOrStream(info, info.contentLength, signal);
    if (cfg.disableBackToSource) {
      throw new NoSchedulerError("the origin gives no content length or no range support, so the download cannot be scheduled, and back-to-source is disabled");
    }
    this.emit("notice", "origin gives no content length or range support: downloading directly from the origin");
    await this.streamWhole(info.url, info.contentLength, signal);
  }

  /**
   * The origin's HEAD failed transiently: the task's size comes from the cluster (StatTask),
   * nothing is pinned (so nothing is resumable), and the pieces go through the cluster even
   * when small. No size the cluster can vouch for → the HEAD's own failure (22, 7, 28…).
   */
  private async withoutHead(headError: unknown, signal: AbortSignal): Promise<void> {
    const cfg = this.parts.config;
    const { taskSizeFromCluster } = await import("./cluster-task-size.js");
    const found = await taskSizeFromCluster(this.parts, this.facts.taskId!, (size) => cfg.pieceLength ?? pieceLengthFor(size), signal);
    if ("why" in found) {
      this.emit("notice", `the origin's HEAD failed and the cluster cannot stand in: ${found.why}`);
      throw headError;
    }
    const why = `the origin's HEAD failed (${messageOf(headError)}): the size (${found.size} bytes) comes from scheduler ${found.addr}, and this download cannot be resumed if it is cut short`;
    const info: OriginInfo = { url: cfg.url, contentLength: found.size, acceptsRanges: true, status: 0, headers: {}, pin: {} };
    return this.piecesOrStream(info, found.size, signal, why);
  }

  /** By pieces; an origin that answers 200 to a range with the same version (or none) has no ranges after all: one streamed GET (as curl). */
  private async piecesOrStream(info: OriginInfo, contentLength: number, signal: AbortSignal, headFailed?: string): Promise<void> {
    try {
      return await this.byPieces(info, contentLength, signal, headFailed);
    } catch (err) {
      if (!(err instanceof RangeNotSupportedError) || this.parts.config.disableBackToSource) throw err;
      this.emit("notice", "the origin ignores Range requests: downloading the whole file in one request");
      this.ledger = undefined;
      // What the reader already took stays taken: the stream must agree with it, and only
      // the bytes after it go to the target once the stream is complete (copyTo).
      const delivered = (await this.pump?.stop()) ?? 0;
      this.pump = undefined;
      if (delivered > 0) this.onStdout = new DeliveredPrefix(this.partial!.file.tempPath, delivered);
      return await this.streamWhole(info.url, contentLength, signal, err);
    }
  }

  /** The commit gate: every planned piece verified, and exactly the content length of bytes. */
  private assertWhole(): void {
    const ledger = this.ledger;
    if (!ledger) return; // one streamed GET: the transport checked its byte count
    const expected = this.facts.contentLength;
    if (!ledger.complete || ledger.bytesWritten !== expected) {
      throw new PartialTransferError(`download incomplete: ${ledger.finishedCount} of ${ledger.total} pieces, ${ledger.bytesWritten} of ${expected ?? "?"} bytes`);
    }
  }

  private async verify(sink: PieceFile, wanted: ParsedDigest): Promise<void> {
    const actual = await hashFile(sink.tempPath, wanted.algorithm);
    this.facts.digest = actual;
    if (actual !== `${wanted.algorithm}:${wanted.value}`) {
      throw new DigestMismatchError(`digest mismatch: expected ${wanted.algorithm}:${wanted.value}, got ${actual}`);
    }
  }

  /**
   * The run's piece ledger: the earlier run's verified pieces already in, every finished
   * or dropped piece mirrored in the resume record, another version in the cluster told
   * once (stderr and cluster.warning).
   */
  private ledgerFor(plan: ReturnType<typeof planPieces>, reusable: ReadonlyMap<number, ReusedPiece>): PieceLedger {
    const cfg = this.parts.config;
    const partial = this.partial!;
    const ledger = new PieceLedger(plan, partial.file, this.retry);
    for (const [number, { digest, fromParent }] of reusable) {
      const source = fromParent ? "parent" : "origin";
      ledger.markFinished({ number, digest, source, reused: true, costMs: 0, createdAt: new Date(this.parts.clock.now()) });
    }
    ledger.on("finished", (piece) => partial.finished(piece.number, piece.digest, piece.source === "parent"));
    ledger.on("unfinished", (n) => partial.unfinished(n));
    ledger.versions.on("mismatch", (m) => {
      // With -O - or without back-to-source the error that ends the run says the rest.
      const final = cfg.disableBackToSource || this.target !== undefined;
      const line = final ? describeMismatch(m) : `${describeMismatch(m)}; the parents' pieces are dropped and fetched from the origin`;
      if (!cfg.disableBackToSource) this.emit("notice", line);
      const earlier = this.facts.cluster.warning;
      this.facts.cluster.warning = earlier ? `${earlier}; ${line}` : line;
    });
    return ledger;
  }

  /** `headFailed`: why there is no HEAD (withoutHead); the one notice about resume. */
  private async byPieces(info: OriginInfo, contentLength: number, signal: AbortSignal, headFailed?: string): Promise<void> {
    const cfg = this.parts.config;
    const url = info.url;
    const pieceLength = cfg.pieceLength ?? pieceLengthFor(contentLength);
    const plan = planPieces(contentLength, pieceLength);
    const partial = this.partial!;
    const identity = { url: redactUrl(cfg.url), urlSha256: urlFingerprint(cfg.url), taskId: this.facts.taskId!, pieceLength, contentLength, validator: info.pin };
    const reusable = await partial.prepare(identity, plan, headFailed);
    const ledger = this.ledgerFor(plan, reusable);
    this.ledger = ledger;
    this.facts.contentLength = contentLength;
    if (reusable.size > 0) this.emit("notice", `resuming: ${reusable.size} of ${plan.length} pieces already here from an earlier run`);
    // With --digest, stdout gets the bytes only once the whole file is verified; without,
    // they flow in order as pieces land.
    if (this.target && !cfg.digest) {
      this.pump = new StdoutPump(ledger, this.target.out, partial.file.tempPath, () => this.emitProgress(false), { name: this.target.name, onFailure: this.stopRun });
    }
    if (ledger.complete) {
      // An empty object: its HEAD was the whole transfer, from the origin.
      if (plan.length === 0) this.facts.backToSource = !cfg.disableBackToSource;
      return;
    }
    ledger.on("finished", () => this.emitProgress(false));
    this.emitProgress(false);

    let reason = "small file (≤ 4 MiB): downloading directly from the origin";
    if (goesStraightToOrigin(contentLength, cfg.disableBackToSource) && headFailed === undefined) {
      this.facts.cluster.source = "skipped";
    } else {
      const outcome = await this.p2p({ taskId: this.facts.taskId!, url, contentLength, pieceLength, ledger }, signal);
      // Complete means the ledger says so, whatever a scheduler said.
      if (outcome.complete && ledger.complete) {
        this.facts.backToSource = outcome.backToSource;
        return;
      }
      reason = outcome.complete ? "the scheduler finished the download with pieces missing" : outcome.reason;
      const other = ledger.versions.mismatch;
      if (cfg.disableBackToSource && other) throw new ClusterVersionError(`${describeMismatch(other)}, and back-to-source is disabled`);
      if (cfg.disableBackToSource) throw new NoSchedulerError(outcome.backToSourceRefused ? reason : `${reason}; back-to-source is disabled`);
    }
    this.facts.backToSource = true;
    this.emit("backToSource", { reason });
    await fetchRestFromOrigin({
      ledger,
      origin: this.parts.origin,
      url,
      concurrency: cfg.download.concurrentPieceCount,
      signal,
      onRetry: (piece, err, attempt) => this.emit("debug", `piece ${piece}: ${messageOf(err)}; retry ${attempt} of ${cfg.download.retries}`),
    });
  }

  /** Resolve the scheduler list, take this task's selector, run the P2P phase. */
  private async p2p(task: Parameters<typeof runP2P>[1], signal: AbortSignal): Promise<{ complete: boolean; backToSource: boolean; reason: string; backToSourceRefused?: boolean }> {
    const parts = this.parts;
    const list = await parts.schedulers.resolve();
    this.facts.cluster = { source: list.source, warning: list.warning ?? null };
    if (list.addrs.length === 0) {
      this.facts.scheduler.attempts = list.unresolved.map((name) => ({ addr: name.addr, outcome: "unresolved", ms: name.ms }));
      // A configured cluster that is down says why (list.warning), on one line that is also
      // the JSON warning; only no configuration at all is "no Dragonfly cluster configured".
      const why = list.warning ?? (list.source === "none" ? "no Dragonfly cluster configured" : "the manager lists no schedulers");
      if (parts.config.disableBackToSource) throw new NoSchedulerError(`${why}, and back-to-source is disabled`);
      const reason = `${why}: downloading directly from the origin`;
      if (list.warning) this.facts.cluster.warning = reason;
      return { complete: false, backToSource: true, reason };
    }
    if (list.warning) this.emit("notice", list.warning);
    const selector = await parts.selectorFor(task.taskId, list, {
      onAttempt: (attempt) => this.emit("attempt", attempt),
      onNotice: (message) => this.emit("notice", message),
    });
    this.selector = selector;
    try {
      // Loaded here, not at the top: a download that never meets a scheduler never loads gRPC.
      const { runP2P } = await import("./p2p.js");
      const outcome = await runP2P(parts, task, selector, signal, this);
      this.facts.peerId = outcome.peerId;
      this.facts.scheduler.used = outcome.used;
      return outcome;
    } finally {
      // Probes outrun and still unanswered are recorded `hedged` and cooled now.
      await selector.close();
    }
  }

  /**
   * No length or no ranges: one streamed GET written in order, started over from the first
   * byte while the retry policy allows. `answer`: a 200 a ranged GET already got, read on.
   */
  private async streamWhole(url: string, contentLength: number | undefined, signal: AbortSignal, answer?: RangeNotSupportedError): Promise<void> {
    const sink = this.partial!.file;
    this.facts.contentLength = contentLength ?? null;
    this.facts.backToSource = true;
    if (this.facts.cluster.source === "pending") this.facts.cluster.source = "skipped";
    this.emitProgress(false);
    let reuse = answer;
    for (;;) {
      let offset = 0;
      try {
        const result = await this.parts.origin.streamWhole(url, async (chunk) => {
          await this.onStdout?.check(offset, chunk);
          await sink.writePiece(offset, chunk);
          offset += chunk.length;
          this.facts.bytesWritten = offset;
          this.emitProgress(false);
        }, signal, reuse);
        this.facts.contentLength = result.bytes;
        return;
      } catch (err) {
        reuse = undefined;
        if (signal.aborted) throw err;
        await this.retry.backoff("stream", err, signal, (attempt) => {
          this.emit("debug", `streamed GET: ${messageOf(err)}; retry ${attempt} of ${this.parts.config.download.retries}`);
          this.facts.bytesWritten = 0;
        });
      }
    }
  }

  private async copyTo(target: StreamOutput, sink: PieceFile): Promise<void> {
    const start = this.onStdout?.length ?? 0;
    try {
      await pipeline(createReadStream(sink.tempPath, { start, highWaterMark: 1 << 20 }), target.out, { end: false });
    } catch (err) {
      throw new WriteError(`cannot write to ${target.name}: ${messageOf(err)}`, { cause: err });
    }
  }

  private emitProgress(final: boolean): void {
    const now = this.parts.clock.now();
    // With -O -, progress is what the reader has taken, not what reached the temp file.
    const bytes = this.pump?.delivered ?? this.ledger?.bytesWritten ?? this.facts.bytesWritten;
    if (!final && now - this.lastProgressAt < PROGRESS_INTERVAL_MS && bytes !== this.facts.contentLength) return;
    this.lastProgressAt = now;
    const total = this.facts.contentLength ?? undefined;
    this.emit("progress", makeProgress(bytes, total, this.ledger?.finishedCount ?? 0, this.ledger?.total ?? 0));
  }
}
