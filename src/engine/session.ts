// The scheduler phase of one download: ask the selector for a scheduler, announce our
// host there, hold an AnnouncePeer conversation; when it breaks, mark the scheduler
// and go on with the next one under a fresh peer id. Pieces live in PieceLedger, so
// nothing finished is fetched twice. On the way out: DeletePeer + DeleteHost.
import * as grpc from "@grpc/grpc-js";
import type { Download } from "../gen/common/v2/common.js";
import type { Clock, Timer } from "../clock.js";
import { grpcCodeOf } from "../rpc/channels.js";
import { classifyGrpcFailure } from "../switching/outcomes.js";
import type { SchedulerSelector } from "../switching/selector.js";
import { newPeerId } from "../task/task-id.js";
import { runAnnounceCall } from "./announce-call.js";
import type { ConversationEnd } from "./conversation.js";
import type { OriginTransport, ParentClients, RunHost, SchedulerClients, VortexTransport } from "./parts.js";
import type { FinishedPiece, PieceLedger } from "./piece-ledger.js";

export interface SessionOptions {
  selector: SchedulerSelector;
  clients: SchedulerClients;
  host: RunHost;
  vortex: VortexTransport;
  parentClients: ParentClients;
  clock: Clock;
  timer: Timer;
  /** The run's absolute deadline (epoch ms): every call and stream is bounded by it. */
  deadline: number;
  taskId: string;
  url: string;
  contentLength: number;
  disableBackToSource: boolean;
  download: Download;
  ledger: PieceLedger;
  origin: OriginTransport;
  concurrency: number;
  pieceTimeoutMs: number;
  /** download.lowSpeedLimit for parent transfers; default 1 KiB/s. */
  lowSpeedLimit?: number;
  scheduleTimeoutMs: number;
  connectTimeoutMs: number;
  signal: AbortSignal;
  onSwitch: (from: string | undefined, to: string, reason: string) => void;
  notice: (message: string) => void;
  debug: (message: string) => void;
}

export interface SessionResult {
  /** The last scheduler that answered a register (undefined when none did). */
  used: string | undefined;
  /** Every peer id registered, newest last. */
  peerIds: string[];
  /** Pieces are all here (through parents or the scheduler's back-to-source). */
  complete: boolean;
  /** True when the scheduler told us to go back to source. */
  backToSource: boolean;
  /** Why the rest must come from the origin when not complete. */
  reason?: string;
  /** The scheduler asked for back-to-source while it is disabled (`reason` says so already). */
  backToSourceRefused?: boolean;
}

/** What the session does after one scheduler: try the next one, or stop with a result. */
type Step = { next: true; reason: string } | { next: false; result: Omit<SessionResult, "used" | "peerIds"> };

export class P2PSession {
  private readonly opts: SessionOptions;
  private readonly registered: Array<{ addr: string; peerId: string }> = [];
  private readonly broken = new Set<string>();
  private readonly backlog: FinishedPiece[] = [];
  private used: string | undefined;

  constructor(opts: SessionOptions) {
    this.opts = opts;
  }

  async run(): Promise<SessionResult> {
    const { selector, signal } = this.opts;
    let previous: string | undefined;
    let reason = "";
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const choice = await selector.next();
      if (!choice) return this.result({ complete: false, backToSource: false, reason: previous ? `no scheduler left after ${previous} failed` : "no scheduler answered" });
      this.opts.onSwitch(previous, choice.addr, reason);
      previous = choice.addr;
      const step = await this.tryScheduler(choice.addr);
      if (!step.next) return this.result(step.result);
      reason = step.reason;
    }
  }

  /** Best effort, each call under a short deadline: DeletePeer at the schedulers that know our peers. */
  async leave(timeoutMs = 1000): Promise<void> {
    const deadline = this.opts.clock.now() + timeoutMs;
    const { taskId, host } = this.opts;
    await Promise.all(
      this.registered
        .filter(({ addr }) => !this.broken.has(addr))
        .map(({ addr, peerId }) => unary((cb) => this.opts.clients.open(addr).deletePeer({ hostId: host.identity.hostId, taskId, peerId }, new grpc.Metadata(), { deadline }, cb))),
    );
  }

  private result(step: Omit<SessionResult, "used" | "peerIds">): SessionResult {
    return { ...step, used: this.used, peerIds: this.registered.map((r) => r.peerId) };
  }

  /** AnnounceHost (once per scheduler), then one conversation under a fresh peer id. */
  private async tryScheduler(addr: string): Promise<Step> {
    const { selector, clock, host } = this.opts;
    const started = clock.now();
    try {
      await host.announceTo(addr, Math.min(this.opts.deadline, started + this.opts.connectTimeoutMs));
    } catch (err) {
      const action = classifyGrpcFailure(grpcCodeOf(err), false);
      if (action.kind === "report") return { next: false, result: { complete: false, backToSource: false, reason: `scheduler ${addr} refused AnnounceHost: ${describe(err)}` } };
      await this.markBroken(addr, action.outcome, started);
      return { next: true, reason: `AnnounceHost ${action.outcome}` };
    }
    const peerId = newPeerId(host.identity.ip, host.identity.hostname);
    this.registered.push({ addr, peerId });
    const end = await this.converse(addr, peerId);
    if (end.kind !== "broken" || end.afterRegister) this.used = addr;
    switch (end.kind) {
      case "finished":
        // Finished from the origin after the scheduler died under us: it still failed.
        if (end.lost) await this.markBroken(addr, end.lost.outcome, started);
        else await selector.markSucceeded(addr);
        return { next: false, result: { complete: true, backToSource: end.via === "origin" } };
      case "broken": {
        await this.markBroken(addr, end.outcome, started);
        const reason = `${end.outcome}: ${end.detail}`;
        this.opts.debug(`scheduler ${addr} ${reason}`);
        return { next: true, reason };
      }
      case "rejected":
        await selector.markSucceeded(addr);
        this.opts.notice(`scheduler ${addr} rejected the download (${end.detail}); not switching`);
        return { next: false, result: { complete: false, backToSource: false, reason: `scheduler ${addr} rejected the download` } };
      case "gave-up":
        await selector.markSucceeded(addr);
        if (end.backToSourceRefused) return { next: false, result: { complete: false, backToSource: false, reason: `scheduler ${addr} ${end.detail}`, backToSourceRefused: true } };
        return { next: false, result: { complete: false, backToSource: false, reason: `scheduler ${addr}: ${end.detail}` } };
    }
  }

  private converse(addr: string, peerId: string): Promise<ConversationEnd> {
    const o = this.opts;
    return runAnnounceCall({
      client: o.clients.open(addr),
      addr,
      hostId: o.host.identity.hostId,
      taskId: o.taskId,
      peerId,
      download: o.download,
      ledger: o.ledger,
      origin: o.origin,
      vortex: o.vortex,
      parentClients: o.parentClients,
      timer: o.timer,
      deadline: o.deadline,
      url: o.url,
      contentLength: o.contentLength,
      disableBackToSource: o.disableBackToSource,
      concurrency: o.concurrency,
      pieceTimeoutMs: o.pieceTimeoutMs,
      lowSpeedLimit: o.lowSpeedLimit,
      scheduleTimeoutMs: o.scheduleTimeoutMs,
      backlog: this.backlog,
      debug: o.debug,
      signal: o.signal,
    });
  }

  private async markBroken(addr: string, outcome: Parameters<SchedulerSelector["markFailed"]>[1], started: number): Promise<void> {
    this.broken.add(addr);
    this.opts.host.forget(addr);
    this.opts.clients.drop(addr);
    await this.opts.selector.markFailed(addr, outcome, this.opts.clock.now() - started);
  }
}

function unary(call: (cb: (err: grpc.ServiceError | null) => void) => void): Promise<void> {
  return new Promise((resolve) => call(() => resolve()));
}

function describe(err: unknown): string {
  const e = err as Partial<grpc.ServiceError>;
  return e.details || (err instanceof Error ? err.message : String(err));
}
