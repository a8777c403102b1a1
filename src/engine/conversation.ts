// The AnnouncePeer conversation with ONE scheduler, as a state machine (grpc-js style:
// one guarded transition function; callbacks from a stream we already left are
// dropped). It ends in one of four ways and download.ts decides what happens next —
// on "broken" it asks the selector for the next scheduler and starts a new
// conversation with a fresh peer id; the PieceState survives, so finished pieces stay.
import type * as grpc from "@grpc/grpc-js";
import type { SchedulerClient, AnnouncePeerRequest, AnnouncePeerResponse } from "../gen/scheduler/v2/scheduler.js";
import { TrafficType, type Download, type Peer, type Piece } from "../gen/common/v2/common.js";
import { classifyGrpcFailure, type AttemptOutcome } from "../switching/outcomes.js";
import { DfgetError, OriginHttpError, messageOf } from "../errors.js";
import { ParentFetcher } from "./parents.js";
import { fetchPiecesFromOrigin } from "./origin-pieces.js";
import type { OriginClient } from "../transport/origin.js";
import type { FinishedPiece, PieceState } from "./piece-ledger.js";

export enum ConversationState {
  Registering = "Registering",
  Waiting = "Waiting",
  Downloading = "Downloading",
  BackToSource = "BackToSource",
  Finishing = "Finishing",
  Done = "Done",
  Broken = "Broken",
}

export type ConversationEnd =
  /** Every piece is here and the scheduler was told. */
  | { kind: "finished"; via: "parents" | "origin" | "empty"; lost?: { outcome: AttemptOutcome; detail: string } }
  /** Transport failure: switch to the next scheduler (and cool this one, per outcome). */
  | { kind: "broken"; outcome: AttemptOutcome; detail: string; afterRegister: boolean }
  /** The scheduler answered with an application error; do not switch, go to the origin. */
  | { kind: "rejected"; code: number; detail: string }
  /** The scheduler keeps us waiting for parents that never come (max schedule count). */
  | { kind: "gave-up"; detail: string };

export interface ConversationOptions {
  client: SchedulerClient;
  addr: string;
  hostId: string;
  taskId: string;
  peerId: string;
  download: Download;
  state: PieceState;
  origin: OriginClient;
  url: string;
  contentLength: number;
  concurrency: number;
  pieceTimeoutMs: number;
  scheduleTimeoutMs: number;
  /** Pieces finished while no scheduler was listening; reported after DownloadPeerStarted. */
  backlog: FinishedPiece[];
  debug: (message: string) => void;
  signal: AbortSignal;
}

/** Rust gives up after this many scheduler answers on one stream (client reference §4.2). */
const MAX_SCHEDULE_COUNT = 5;

/** Longest wait for the scheduler to close the stream after our final message. */
const FINAL_ANSWER_WAIT_MS = 1000;

export class AnnounceConversation {
  private state = ConversationState.Registering;
  private readonly opts: ConversationOptions;
  private call: grpc.ClientDuplexStream<AnnouncePeerRequest, AnnouncePeerResponse> | undefined;
  private scheduleTimer: NodeJS.Timeout | undefined;
  private fetcher: ParentFetcher | undefined;
  private answers = 0;
  private settle: ((end: ConversationEnd) => void) | undefined;
  private fail: ((err: unknown) => void) | undefined;
  /** The stream broke while the origin was our source: the download goes on, the scheduler still failed. */
  private lost: { outcome: AttemptOutcome; detail: string } | undefined;
  /** First response from the scheduler arrived: later failures are mid-download. */
  private registered = false;
  /** The stream has its final status (the scheduler closed it, or we cancelled it). */
  private closed = false;
  private onClosed: (() => void) | undefined;

  constructor(opts: ConversationOptions) {
    this.opts = opts;
  }

  get current(): ConversationState {
    return this.state;
  }

  /** Resolves with how the conversation ended; rejects only with an origin/storage error that ends the run. */
  run(): Promise<ConversationEnd> {
    return new Promise<ConversationEnd>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
      const call = this.opts.client.announcePeer();
      this.call = call;
      call.on("data", (msg: AnnouncePeerResponse) => this.onResponse(call, msg));
      call.on("error", (err: grpc.ServiceError) => this.onStreamError(call, err));
      call.on("end", () => this.onStreamEnd(call));
      call.on("status", () => {
        this.closed = true;
        this.onClosed?.();
      });
      this.opts.signal.addEventListener("abort", this.onAbort, { once: true });
      this.send({ $case: "registerPeerRequest", value: { download: this.opts.download } });
      this.armScheduleTimer();
    });
  }

  /** The one writer of `state`: refuses transitions from states not listed. */
  private transition(from: readonly ConversationState[], to: ConversationState, reason: string): boolean {
    if (!from.includes(this.state)) return false;
    this.opts.debug(`scheduler ${this.opts.addr}: ${this.state} -> ${to} (${reason})`);
    this.state = to;
    switch (to) {
      case ConversationState.Waiting:
        this.armScheduleTimer();
        break;
      case ConversationState.Downloading:
      case ConversationState.BackToSource:
      case ConversationState.Finishing:
        this.clearScheduleTimer();
        break;
      case ConversationState.Done:
      case ConversationState.Broken:
        this.clearScheduleTimer();
        this.opts.signal.removeEventListener("abort", this.onAbort);
        break;
      default:
        break;
    }
    return true;
  }

  private onResponse(call: unknown, msg: AnnouncePeerResponse): void {
    if (call !== this.call || !this.transition([ConversationState.Registering, ConversationState.Waiting], ConversationState.Waiting, "answer")) return;
    this.registered = true;
    this.clearScheduleTimer();
    this.answers++;
    const response = msg.response;
    if (this.answers > MAX_SCHEDULE_COUNT) {
      this.send({ $case: "downloadPeerFailedRequest", value: { description: "max schedule count exceeded" } });
      return this.end({ kind: "gave-up", detail: "max schedule count exceeded" });
    }
    switch (response?.$case) {
      case "emptyTaskResponse":
        this.transition([ConversationState.Waiting], ConversationState.Finishing, "empty task");
        this.send({ $case: "downloadPeerStartedRequest", value: {} });
        this.send({ $case: "downloadPeerFinishedRequest", value: { contentLength: 0n, pieceCount: 0 } });
        return this.end({ kind: "finished", via: "empty" });
      case "normalTaskResponse":
        return this.downloadFromParents(response.value.candidateParents);
      case "needBackToSourceResponse":
        return void this.backToSource(response.value.description ?? "");
      default:
        this.send({ $case: "downloadPeerFailedRequest", value: { description: "unexpected response" } });
        return this.end({ kind: "gave-up", detail: `unexpected answer ${response?.$case ?? "(none)"}` });
    }
  }

  private downloadFromParents(parents: Peer[]): void {
    if (!this.transition([ConversationState.Waiting], ConversationState.Downloading, `${parents.length} parents`)) return;
    this.send({ $case: "downloadPeerStartedRequest", value: {} });
    this.flushBacklog();
    const fetcher = new ParentFetcher({
      parents,
      state: this.opts.state,
      taskId: this.opts.taskId,
      hostId: this.opts.hostId,
      concurrency: this.opts.concurrency,
      pieceTimeoutMs: this.opts.pieceTimeoutMs,
      stallTimeoutMs: this.opts.pieceTimeoutMs,
      report: {
        finished: (piece) => this.reportPiece(piece),
        failed: (n, parentId, reason) => {
          this.opts.debug(`piece ${n} from ${parentId} failed: ${reason}`);
          if (this.state === ConversationState.Downloading) {
            this.send({ $case: "downloadPieceFailedRequest", value: { pieceNumber: n, parentId, temporary: true } });
          }
        },
        debug: this.opts.debug,
      },
      signal: this.opts.signal,
    });
    this.fetcher = fetcher;
    void fetcher.run().then((result) => {
      if (this.fetcher !== fetcher || this.state !== ConversationState.Downloading) return;
      this.fetcher = undefined;
      if (result === "complete" || this.opts.state.complete) return this.finish("parents");
      if (result === "exhausted") {
        this.transition([ConversationState.Downloading], ConversationState.Waiting, "parents exhausted");
        this.send({
          $case: "reschedulePeerRequest",
          value: { candidateParents: parents, description: "not all pieces are downloaded from parent" },
        });
      }
    });
  }

  private async backToSource(description: string): Promise<void> {
    if (!this.transition([ConversationState.Waiting], ConversationState.BackToSource, description || "need back-to-source")) return;
    this.send({ $case: "downloadPeerBackToSourceStartedRequest", value: {} });
    this.flushBacklog();
    try {
      // Pieces still in flight from an earlier conversation may fail; loop until all are here.
      while (!this.opts.state.complete) {
        await fetchPiecesFromOrigin({
          state: this.opts.state,
          origin: this.opts.origin,
          url: this.opts.url,
          concurrency: this.opts.concurrency,
          signal: this.opts.signal,
          onPiece: (piece) => this.reportPiece(piece),
        });
        if (!this.opts.state.complete) await waitForChange(this.opts.state, this.opts.signal);
      }
      this.finish("origin");
    } catch (err) {
      this.send({
        $case: "downloadPieceBackToSourceFailedRequest",
        value: {
          response:
            err instanceof OriginHttpError
              ? { $case: "backend", value: { message: err.message, header: {}, statusCode: err.status } }
              : { $case: "unknown", value: { message: messageOf(err) } },
        },
      });
      this.send({ $case: "downloadPeerBackToSourceFailedRequest", value: { description: messageOf(err) } });
      this.halfClose();
      this.transition([ConversationState.BackToSource], ConversationState.Done, "origin failed");
      this.fail?.(err);
    }
  }

  private finish(via: "parents" | "origin"): void {
    if (!this.transition([ConversationState.Downloading, ConversationState.BackToSource], ConversationState.Finishing, "all pieces")) return;
    const sizes = { contentLength: BigInt(this.opts.contentLength), pieceCount: this.opts.state.total };
    if (via === "origin") this.send({ $case: "downloadPeerBackToSourceFinishedRequest", value: sizes });
    else this.send({ $case: "downloadPeerFinishedRequest", value: sizes });
    this.end({ kind: "finished", via, lost: this.lost });
  }

  private reportPiece(piece: FinishedPiece): void {
    const live = this.state === ConversationState.Downloading || this.state === ConversationState.BackToSource || this.state === ConversationState.Waiting;
    if (!live || !this.registered) {
      this.opts.backlog.push(piece);
      return;
    }
    const wire: Piece = {
      number: piece.number,
      parentId: piece.source === "parent" ? piece.parentId : undefined,
      offset: BigInt(piece.offset),
      length: BigInt(piece.length),
      digest: piece.digest,
      trafficType: piece.source === "parent" ? TrafficType.REMOTE_PEER : TrafficType.BACK_TO_SOURCE,
      cost: { seconds: BigInt(Math.floor(piece.costMs / 1000)), nanos: (piece.costMs % 1000) * 1_000_000 },
      createdAt: piece.createdAt,
    };
    if (piece.source === "parent") this.send({ $case: "downloadPieceFinishedRequest", value: { piece: wire } });
    else this.send({ $case: "downloadPieceBackToSourceFinishedRequest", value: { piece: wire } });
  }

  private flushBacklog(): void {
    const pending = this.opts.backlog.splice(0);
    for (const piece of pending) this.reportPiece(piece);
  }

  private onStreamError(call: unknown, err: grpc.ServiceError): void {
    if (call !== this.call) return;
    this.streamGone(classifyGrpcFailure(err.code, this.registered), `${err.code} ${err.details || err.message}`, err.code);
  }

  private onStreamEnd(call: unknown): void {
    if (call !== this.call) return;
    this.streamGone({ kind: "switch-and-cool", outcome: "stream-broken" }, "stream ended without a final answer", undefined);
  }

  private streamGone(action: ReturnType<typeof classifyGrpcFailure>, detail: string, code: number | undefined): void {
    if (this.state === ConversationState.Finishing || this.state === ConversationState.Done || this.state === ConversationState.Broken) return;
    if (this.state === ConversationState.BackToSource) {
      // The origin is already our source; losing the scheduler only loses reporting.
      this.opts.debug(`scheduler ${this.opts.addr} went away during back-to-source (${detail}); continuing`);
      this.call = undefined;
      this.lost = { outcome: action.kind === "report" ? "stream-broken" : action.outcome, detail };
      return;
    }
    if (action.kind === "report") {
      this.stopFetcher();
      this.transition([this.state], ConversationState.Broken, detail);
      this.settleOnce({ kind: "rejected", code: code ?? -1, detail });
      return;
    }
    this.breakOff(action.outcome, detail);
  }

  private breakOff(outcome: AttemptOutcome, detail: string): void {
    this.stopFetcher();
    if (!this.transition([ConversationState.Registering, ConversationState.Waiting, ConversationState.Downloading], ConversationState.Broken, detail)) return;
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.settleOnce({ kind: "broken", outcome, detail, afterRegister: this.registered });
  }

  private armScheduleTimer(): void {
    this.clearScheduleTimer();
    this.scheduleTimer = setTimeout(() => {
      this.breakOff(this.registered ? "stream-broken" : "timeout", `no answer within ${this.opts.scheduleTimeoutMs} ms`);
    }, this.opts.scheduleTimeoutMs);
  }

  private clearScheduleTimer(): void {
    if (this.scheduleTimer) clearTimeout(this.scheduleTimer);
    this.scheduleTimer = undefined;
  }

  private stopFetcher(): void {
    this.fetcher?.stop();
    this.fetcher = undefined;
  }

  private readonly onAbort = (): void => {
    this.stopFetcher();
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.transition(Object.values(ConversationState), ConversationState.Done, "aborted");
    this.fail?.(this.opts.signal.reason ?? new DfgetError("aborted"));
  };

  private end(end: ConversationEnd): void {
    this.halfClose();
    this.transition([this.state], ConversationState.Done, end.kind);
    const call = this.call;
    this.call = undefined;
    if (!call || this.closed) return this.settleOnce(end);
    // The scheduler closes the stream once it has handled our final message; leave only
    // then. A DeletePeer that overtakes the final message (it travels on another HTTP/2
    // stream) makes the scheduler answer it "peer not found", and the task is never
    // marked succeeded there. Bounded: a scheduler that does not close is cancelled.
    const timer = setTimeout(() => {
      call.cancel();
      this.settleOnce(end);
    }, FINAL_ANSWER_WAIT_MS);
    this.onClosed = () => {
      clearTimeout(timer);
      this.settleOnce(end);
    };
  }

  private settleOnce(end: ConversationEnd): void {
    const settle = this.settle;
    this.settle = undefined;
    this.fail = undefined;
    settle?.(end);
  }

  private halfClose(): void {
    try {
      this.call?.end();
    } catch {
      // already closed
    }
  }

  private send(request: AnnouncePeerRequest["request"]): void {
    const call = this.call;
    if (!call || call.destroyed || call.writableEnded) return;
    call.write({ hostId: this.opts.hostId, taskId: this.opts.taskId, peerId: this.opts.peerId, request });
  }
}

function waitForChange(state: PieceState, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      state.off("changed", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    state.on("changed", done);
    signal.addEventListener("abort", done, { once: true });
  });
}
