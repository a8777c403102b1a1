// The scheduler phase of one download: ask the selector for a scheduler, announce our
// host there, hold an AnnouncePeer conversation; when it breaks, mark the scheduler
// and go on with the next one under a fresh peer id. Pieces live in PieceState, so
// nothing finished is fetched twice. On the way out: DeletePeer + DeleteHost.
import * as grpc from "@grpc/grpc-js";
import { SchedulerClient, type AnnounceHostRequest } from "../gen/scheduler/v2/scheduler.js";
import type { Download } from "../gen/common/v2/common.js";
import type { ChannelPool } from "../rpc/channels.js";
import { grpcCodeOf } from "../rpc/channels.js";
import { classifyGrpcFailure } from "../switching/outcomes.js";
import type { SchedulerSelector } from "../switching/selector.js";
import { newPeerId } from "../task/task-id.js";
import { AnnounceConversation } from "./conversation.js";
import type { OriginClient } from "../transport/origin.js";
import type { FinishedPiece, PieceState } from "./piece-ledger.js";

export interface HostIdentity {
  hostId: string;
  hostname: string;
  ip: string;
  idc: string;
  location: string;
  grpcPort: number;
  tcpPort: number;
  version: string;
}

export interface SessionOptions {
  selector: SchedulerSelector;
  pool: ChannelPool;
  credentials: grpc.ChannelCredentials;
  host: HostIdentity;
  taskId: string;
  url: string;
  contentLength: number;
  download: Download;
  state: PieceState;
  origin: OriginClient;
  concurrency: number;
  pieceTimeoutMs: number;
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
}

export class P2PSession {
  private readonly opts: SessionOptions;
  private readonly registered: Array<{ addr: string; peerId: string }> = [];
  private readonly announced = new Set<string>();
  private readonly broken = new Set<string>();
  private readonly backlog: FinishedPiece[] = [];

  constructor(opts: SessionOptions) {
    this.opts = opts;
  }

  async run(): Promise<SessionResult> {
    const { selector, signal } = this.opts;
    const result: SessionResult = { used: undefined, peerIds: [], complete: false, backToSource: false };
    let previous: string | undefined;
    let reason = "";
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const choice = await selector.next();
      if (!choice) return { ...result, reason: previous ? `no scheduler left after ${previous} failed` : "no scheduler answered" };
      const addr = choice.addr;
      this.opts.onSwitch(previous, addr, reason);
      previous = addr;

      const client = this.opts.pool.openClient(SchedulerClient, addr, this.opts.credentials);
      const started = Date.now();
      try {
        await this.announceHost(client);
        this.announced.add(addr);
      } catch (err) {
        const action = classifyGrpcFailure(grpcCodeOf(err), false);
        if (action.kind === "report") return { ...result, reason: `scheduler ${addr} refused AnnounceHost: ${describe(err)}` };
        this.broken.add(addr);
        await selector.markFailed(addr, action.outcome, Date.now() - started);
        reason = `AnnounceHost ${action.outcome}`;
        continue;
      }

      const peerId = newPeerId(this.opts.host.ip, this.opts.host.hostname);
      result.peerIds.push(peerId);
      this.registered.push({ addr, peerId });
      const conversation = new AnnounceConversation({
        client,
        addr,
        hostId: this.opts.host.hostId,
        taskId: this.opts.taskId,
        peerId,
        download: this.opts.download,
        state: this.opts.state,
        origin: this.opts.origin,
        url: this.opts.url,
        contentLength: this.opts.contentLength,
        concurrency: this.opts.concurrency,
        pieceTimeoutMs: this.opts.pieceTimeoutMs,
        scheduleTimeoutMs: this.opts.scheduleTimeoutMs,
        backlog: this.backlog,
        debug: this.opts.debug,
        signal,
      });
      const end = await conversation.run();
      if (end.kind !== "broken" || end.afterRegister) result.used = addr;
      switch (end.kind) {
        case "finished":
          if (end.lost) {
            // Finished from the origin after the scheduler died under us: it still failed.
            this.broken.add(addr);
            await selector.markFailed(addr, end.lost.outcome, Date.now() - started);
          } else {
            await selector.markSucceeded(addr);
          }
          return { ...result, complete: true, backToSource: end.via === "origin" };
        case "broken":
          this.broken.add(addr);
          await selector.markFailed(addr, end.outcome, Date.now() - started);
          this.opts.pool.close(addr);
          reason = `${end.outcome}: ${end.detail}`;
          this.opts.debug(`scheduler ${addr} ${reason}`);
          continue;
        case "rejected":
          await selector.markSucceeded(addr);
          this.opts.notice(`scheduler ${addr} rejected the download (${end.detail}); not switching`);
          return { ...result, reason: `scheduler ${addr} rejected the download` };
        case "gave-up":
          await selector.markSucceeded(addr);
          return { ...result, reason: `scheduler ${addr}: ${end.detail}` };
      }
    }
  }

  /** Best effort, each call under a short deadline: leave the schedulers that know us. */
  async leave(deadlineMs = 1000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    const calls: Array<Promise<void>> = [];
    for (const { addr, peerId } of this.registered) {
      if (this.broken.has(addr)) continue;
      const client = this.opts.pool.openClient(SchedulerClient, addr, this.opts.credentials);
      calls.push(unary((cb) => client.deletePeer({ hostId: this.opts.host.hostId, taskId: this.opts.taskId, peerId }, new grpc.Metadata(), { deadline }, cb)));
    }
    await Promise.all(calls);
    const hosts = [...this.announced].filter((addr) => !this.broken.has(addr));
    await Promise.all(
      hosts.map((addr) => {
        const client = this.opts.pool.openClient(SchedulerClient, addr, this.opts.credentials);
        return unary((cb) => client.deleteHost({ hostId: this.opts.host.hostId }, new grpc.Metadata(), { deadline }, cb));
      }),
    );
  }

  private announceHost(client: SchedulerClient): Promise<void> {
    const h = this.opts.host;
    const request: AnnounceHostRequest = {
      host: {
        id: h.hostId,
        type: 0,
        hostname: h.hostname,
        ip: h.ip,
        port: h.grpcPort,
        downloadPort: h.grpcPort,
        os: process.platform,
        platform: process.platform,
        platformFamily: "",
        platformVersion: "",
        kernelVersion: "",
        network: {
          tcpConnectionCount: 0,
          uploadTcpConnectionCount: 0,
          idc: h.idc || undefined,
          location: h.location || undefined,
          maxRxBandwidth: 0n,
          maxTxBandwidth: 0n,
        },
        build: { gitVersion: h.version, platform: `${process.platform}/${process.arch}` },
        schedulerClusterId: 0n,
        disableShared: false,
        proxyPort: 0,
        name: h.hostname,
      },
      // A host that is not re-announced within 2 × interval is collected by the
      // scheduler: a crashed dfget does not linger for long.
      interval: { seconds: 300n, nanos: 0 },
    };
    const deadline = Date.now() + this.opts.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      client.announceHost(request, new grpc.Metadata(), { deadline }, (err) => (err ? reject(err) : resolve()));
    });
  }
}

function unary(call: (cb: (err: grpc.ServiceError | null) => void) => void): Promise<void> {
  return new Promise((resolve) => call(() => resolve()));
}

function describe(err: unknown): string {
  const e = err as Partial<grpc.ServiceError>;
  return e.details || (err instanceof Error ? err.message : String(err));
}
