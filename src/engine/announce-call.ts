// Carries out one AnnounceConversation over one AnnouncePeer stream: stream callbacks,
// transfer results, timers and the signal become events; the commands that come back
// become stream writes, parent transfers and the one back-to-source loop. Every timer of
// the conversation is armed here, from one Timer; the stream gets the run's deadline.
import * as grpc from "@grpc/grpc-js";
import type { Timer } from "../clock.js";
import { TrafficType, type Download, type Peer, type Piece } from "../gen/common/v2/common.js";
import type { AnnouncePeerRequest, AnnouncePeerResponse, SchedulerClient } from "../gen/scheduler/v2/scheduler.js";
import { AnnounceConversation, type Command, type ConversationEnd, type ConversationEvent } from "./conversation.js";
import { DEFAULT_LOW_SPEED_LIMIT } from "../transport/origin.js";
import { fetchRestFromOrigin } from "./origin-pieces.js";
import { ParentFetcher } from "./parents.js";
import type { OriginTransport, ParentClients, VortexTransport } from "./parts.js";
import type { FinishedPiece, PieceLedger } from "./piece-ledger.js";

export interface AnnounceCallOptions {
  client: SchedulerClient;
  addr: string;
  hostId: string;
  taskId: string;
  peerId: string;
  download: Download;
  ledger: PieceLedger;
  origin: OriginTransport;
  vortex: VortexTransport;
  parentClients: ParentClients;
  timer: Timer;
  /** The run's absolute deadline (epoch ms): the AnnouncePeer stream ends by then. */
  deadline: number;
  url: string;
  contentLength: number;
  disableBackToSource: boolean;
  concurrency: number;
  pieceTimeoutMs: number;
  scheduleTimeoutMs: number;
  /** download.lowSpeedLimit for parent transfers; default 1 KiB/s. */
  lowSpeedLimit?: number;
  /** Pieces finished while no scheduler was listening; reported once one is. */
  backlog: FinishedPiece[];
  debug: (message: string) => void;
  signal: AbortSignal;
}

/** Longest wait for the scheduler to close the stream after our final message. */
export const FINAL_ANSWER_WAIT_MS = 1000;

type AnnounceStream = grpc.ClientDuplexStream<AnnouncePeerRequest, AnnouncePeerResponse>;

/** Resolves with how the conversation ended; rejects only with an error that ends the run. */
export function runAnnounceCall(opts: AnnounceCallOptions): Promise<ConversationEnd> {
  return new Promise<ConversationEnd>((resolve, reject) => new AnnounceCall(opts, resolve, reject).start());
}

class AnnounceCall {
  private readonly opts: AnnounceCallOptions;
  private readonly conversation: AnnounceConversation;
  private readonly resolve: (end: ConversationEnd) => void;
  private readonly reject: (err: unknown) => void;
  private stream: AnnounceStream | undefined;
  private fetcher: ParentFetcher | undefined;
  private cancelScheduleTimer: (() => void) | undefined;
  private cancelFinalWait: (() => void) | undefined;
  private readonly onAbort = (): void => this.dispatch({ type: "abort", reason: this.opts.signal.reason });

  constructor(opts: AnnounceCallOptions, resolve: (end: ConversationEnd) => void, reject: (err: unknown) => void) {
    this.opts = opts;
    this.resolve = resolve;
    this.reject = reject;
    this.conversation = new AnnounceConversation({ addr: opts.addr, download: opts.download, contentLength: opts.contentLength, pieceCount: opts.ledger.total, disableBackToSource: opts.disableBackToSource });
  }

  start(): void {
    const stream = this.opts.client.announcePeer(new grpc.Metadata(), { deadline: this.opts.deadline });
    this.stream = stream;
    // Callbacks from a stream we already left are dropped.
    const fromStream = (event: ConversationEvent): void => {
      if (this.stream === stream) this.dispatch(event);
    };
    stream.on("data", (msg: AnnouncePeerResponse) => fromStream({ type: "answer", response: msg.response }));
    stream.on("error", (err: grpc.ServiceError) => fromStream({ type: "streamError", code: err.code, detail: err.details || err.message }));
    stream.on("end", () => fromStream({ type: "streamEnd" }));
    stream.on("status", () => fromStream({ type: "closed" }));
    if (this.opts.signal.aborted) return this.onAbort();
    this.opts.signal.addEventListener("abort", this.onAbort, { once: true });
    this.run(this.conversation.start());
  }

  private dispatch(event: ConversationEvent): void {
    this.run(this.conversation.handle(event));
  }

  private run(commands: Command[]): void {
    for (const command of commands) this.execute(command);
  }

  private execute(command: Command): void {
    const o = this.opts;
    switch (command.kind) {
      case "send":
        return this.send(command.request);
      case "reportPiece":
        return this.send(pieceReport(command.piece));
      case "keepForLater":
        o.backlog.push(command.piece);
        return;
      case "flushBacklog":
        for (const piece of o.backlog.splice(0)) this.dispatch({ type: "pieceFinished", piece });
        return;
      case "fetchFromParents":
        return this.fetchFromParents(command.parents);
      case "otherVersion":
        // Recorded for the run: no parent piece counts from now on; the origin loop drops theirs.
        o.ledger.versions.distrust(command.mismatch);
        return;
      case "stopParents":
        this.fetcher?.stop();
        this.fetcher = undefined;
        return;
      case "backToSource":
        return this.backToSource();
      case "reschedule":
        return this.send({ $case: "reschedulePeerRequest", value: { candidateParents: command.parents, description: "not all pieces are downloaded from parent" } });
      default:
        return this.executeControl(command);
    }
  }

  /** Timers, the stream's life, and the end. */
  private executeControl(command: Command): void {
    const o = this.opts;
    switch (command.kind) {
      case "armScheduleTimer":
        this.cancelScheduleTimer?.();
        this.cancelScheduleTimer = o.timer.setTimeout(() => this.dispatch({ type: "scheduleTimeout", timeoutMs: o.scheduleTimeoutMs }), o.scheduleTimeoutMs);
        return;
      case "clearScheduleTimer":
        this.cancelScheduleTimer?.();
        this.cancelScheduleTimer = undefined;
        return;
      case "armFinalWait":
        this.cancelFinalWait = o.timer.setTimeout(() => this.dispatch({ type: "finalWaitOver" }), FINAL_ANSWER_WAIT_MS);
        return;
      case "halfClose":
        if (this.stream && !this.stream.writableEnded) this.stream.end();
        return;
      case "cancelStream":
        this.stream?.cancel();
        this.stream = undefined;
        return;
      case "forgetStream":
        this.stream = undefined;
        return;
      case "debug":
        o.debug(command.message);
        return;
      case "end":
      case "fail":
        this.cleanUp();
        if (command.kind === "end") this.resolve(command.end);
        else this.reject(command.error);
        return;
    }
  }

  private cleanUp(): void {
    this.cancelScheduleTimer?.();
    this.cancelFinalWait?.();
    this.opts.signal.removeEventListener("abort", this.onAbort);
  }

  private fetchFromParents(parents: Peer[]): void {
    const o = this.opts;
    const fetcher = new ParentFetcher({
      parents,
      ledger: o.ledger,
      taskId: o.taskId,
      hostId: o.hostId,
      concurrency: o.concurrency,
      pieceTimeoutMs: o.pieceTimeoutMs,
      stallTimeoutMs: o.pieceTimeoutMs,
      lowSpeedLimit: o.lowSpeedLimit ?? DEFAULT_LOW_SPEED_LIMIT,
      vortex: o.vortex,
      clients: o.parentClients,
      timer: o.timer,
      deadline: o.deadline,
      report: {
        finished: (piece) => this.dispatch({ type: "pieceFinished", piece }),
        failed: (pieceNumber, parentId, reason) => {
          o.debug(`piece ${pieceNumber} from ${parentId} failed: ${reason}`);
          this.dispatch({ type: "pieceFailed", pieceNumber, parentId });
        },
        debug: o.debug,
      },
      signal: o.signal,
    });
    this.fetcher = fetcher;
    void fetcher.run().then((result) => {
      if (this.fetcher !== fetcher) return;
      this.fetcher = undefined;
      this.dispatch({ type: "parentsDone", result: o.ledger.complete ? "complete" : result });
    });
  }

  /** The one back-to-source loop, every piece reported as it lands. */
  private backToSource(): void {
    const o = this.opts;
    fetchRestFromOrigin({
      ledger: o.ledger,
      origin: o.origin,
      url: o.url,
      concurrency: o.concurrency,
      signal: o.signal,
      onPiece: (piece) => this.dispatch({ type: "pieceFinished", piece }),
    }).then(
      () => this.dispatch({ type: "originDone" }),
      (error: unknown) => this.dispatch({ type: "originFailed", error }),
    );
  }

  private send(request: AnnouncePeerRequest["request"]): void {
    const stream = this.stream;
    if (!stream || stream.destroyed || stream.writableEnded) return;
    stream.write({ hostId: this.opts.hostId, taskId: this.opts.taskId, peerId: this.opts.peerId, request });
  }
}

/** DownloadPieceFinished (from a parent) or DownloadPieceBackToSourceFinished (from the origin). */
export function pieceReport(piece: FinishedPiece): AnnouncePeerRequest["request"] {
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
  if (piece.source === "parent") return { $case: "downloadPieceFinishedRequest", value: { piece: wire } };
  return { $case: "downloadPieceBackToSourceFinishedRequest", value: { piece: wire } };
}
