// A strict fake Dragonfly v2.5.1 scheduler for end-to-end tests, with run-time faults.
//
// The grpc-js server listens on an internal 127.0.0.1 ephemeral port behind a FaultProxy;
// `addr` is the proxy's address, so every fault switches on the same advertised address
// and `connectionCount()` counts real TCP connections. Network faults live in the proxy
// (refuse, blackhole, die); protocol faults here (NOT_SERVING, UNAVAILABLE, silence,
// slowness). Behaviour: shared/reference/dragonfly-wire.md §4–§6, §10.
import { Server, ServerCredentials, status, type handleUnaryCall } from "@grpc/grpc-js";
import { Peer, type Host } from "../../src/gen/common/v2/common.js";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from "../../src/gen/grpc/health/v1/health.js";
import {
  SchedulerService,
  type AnnouncePeerRequest,
  type AnnouncePeerResponse,
  type RegisterPeerRequest,
  type SchedulerServer,
} from "../../src/gen/scheduler/v2/scheduler.js";
import { FaultProxy } from "./fault-proxy.js";
import {
  serveAnnouncePeer,
  taskMessage,
  type FakeParentInfo,
  type PeerRecord,
  type StreamContext,
  type TaskRecord,
} from "./scheduler-stream.js";
import { validateAnnounceHostRequest, validateIds } from "./validate.js";

export type { FakeParentInfo } from "./scheduler-stream.js";

export interface FakeSchedulerOptions {
  name?: string;
  /** Parents offered in NormalTaskResponse, read at every register/reschedule. */
  parents?: () => FakeParentInfo[];
  /** Where clients reach it: a loopback address (default 127.0.0.1) and port (default ephemeral). */
  host?: string;
  port?: number;
}

/**
 * One received RPC or stream message, in arrival order. Besides the RPC names
 * ("AnnounceHost", "DeleteHost", "DeletePeer", "Health/Check", "AnnouncePeer" per stream
 * message …) the fake records what it sent on streams: "AnnouncePeer.response" and
 * "AnnouncePeer.end" ({ code, details }).
 */
export interface SchedulerEvent {
  rpc: string;
  peerId?: string;
  message: unknown;
  /** Epoch milliseconds. */
  at: number;
}

export interface Registration {
  peerId: string;
  hostId: string;
  taskId: string;
  request: RegisterPeerRequest;
}

/** A gRPC status to answer with instead of a response. */
class RpcFailure {
  constructor(
    readonly code: status,
    readonly details: string,
  ) {}
}

type PieceTrigger = { fault: "die" | "silent"; remainingPieces: number };

export class FakeScheduler {
  readonly events: SchedulerEvent[] = [];
  readonly hosts = new Map<string, Host>();
  private readonly peers = new Map<string, PeerRecord>();
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private servingStatus = ServingStatus.SERVING;
  private isUnavailable = false;
  private isExhausted = false;
  /** While set, health answers wait for it (holdHealth). */
  private healthGate: Promise<void> | undefined;
  /** While set, AnnouncePeer answers wait for it (holdStreams). */
  private streamGate: Promise<void> | undefined;
  private isSilent = false;
  private isDead = false;
  private slowMs = 0;
  private pieceTrigger: PieceTrigger | undefined;
  private finishedPieces = 0;
  private script: StreamContext["script"];

  constructor(
    readonly name: string,
    private readonly server: Server,
    private readonly proxy: FaultProxy,
    private readonly parents: () => FakeParentInfo[],
  ) {}

  get addr(): string {
    return `${this.proxy.host}:${this.proxy.port}`;
  }

  get port(): number {
    return this.proxy.port;
  }

  registrations(): Registration[] {
    return this.streamEvents().flatMap(({ request }) =>
      request.request?.$case === "registerPeerRequest"
        ? [{ peerId: request.peerId, hostId: request.hostId, taskId: request.taskId, request: request.request.value }]
        : [],
    );
  }

  /** Every stream message about `peerId`, in arrival order. */
  streamMessages(peerId: string): AnnouncePeerRequest[] {
    return this.streamEvents().map(({ request }) => request).filter((request) => request.peerId === peerId);
  }

  /** Every AnnouncePeerResponse sent to `peerId`. */
  responses(peerId: string): AnnouncePeerResponse[] {
    return this.events
      .filter((event) => event.rpc === "AnnouncePeer.response" && event.peerId === peerId)
      .map((event) => event.message as AnnouncePeerResponse);
  }

  /** Messages of one unary RPC ("AnnounceHost", "DeletePeer", …), in arrival order. */
  calls(rpc: string): unknown[] {
    return this.events.filter((event) => event.rpc === rpc).map((event) => event.message);
  }

  /**
   * The task as an earlier peer's download left it: its size known from that peer's
   * register (actual_content_length), Succeeded. StatTask then answers it, and a register
   * for it keeps this size whatever the new peer sends (as in Go); candidate parents carry
   * it in their Task — an older version of the object when the size differs.
   */
  knowTask(task: { id: string; url: string; contentLength: number; pieceLength: number }): void {
    const now = new Date();
    this.tasks.set(task.id, {
      id: task.id,
      type: 0, // STANDARD
      url: task.url,
      contentLength: BigInt(task.contentLength),
      pieceLength: BigInt(task.pieceLength),
      pieceCount: Math.ceil(task.contentLength / task.pieceLength),
      state: "Succeeded",
      createdAt: now,
      updatedAt: now,
    });
  }

  /** DownloadPieceFinished + DownloadPieceBackToSourceFinished handled so far. */
  piecesFinished(): number {
    return this.finishedPieces;
  }

  connectionCount(): number {
    return this.proxy.connectionCount();
  }

  /** Nothing listens on the address any more (connect refused); open connections are reset. */
  async refuse(): Promise<void> {
    await this.proxy.refuse();
  }

  /** TCP is accepted but nothing is ever answered, on new and open connections alike. */
  blackhole(): void {
    this.proxy.blackhole();
  }

  /** Health "" answers NOT_SERVING; other RPCs keep working. */
  notServing(): void {
    this.servingStatus = ServingStatus.NOT_SERVING;
  }

  /** Every RPC, health included, answers UNAVAILABLE; open streams end UNAVAILABLE on their next message. */
  unavailable(): void {
    this.isUnavailable = true;
  }

  /**
   * Every scheduler RPC but health answers RESOURCE_EXHAUSTED, as the Go scheduler's rate
   * limiter does (unary calls fail; a stream ends at its first message). Health stays SERVING.
   */
  resourceExhausted(): void {
    this.isExhausted = true;
  }

  /** Health checks arrive and are recorded but answered only when the returned function is called. */
  holdHealth(): () => void {
    let release = (): void => undefined;
    this.healthGate = new Promise((resolve) => (release = resolve));
    return () => {
      this.healthGate = undefined;
      release();
    };
  }

  /** AnnouncePeer messages are recorded but answered only when the returned function is called. */
  holdStreams(): () => void {
    let release = (): void => undefined;
    this.streamGate = new Promise((resolve) => (release = resolve));
    return () => {
      this.streamGate = undefined;
      release();
    };
  }

  /** After `pieces` more finished pieces (any stream): reset every connection, then refuse. */
  dieAfterPieces(pieces: number): void {
    this.pieceTrigger = { fault: "die", remainingPieces: pieces };
  }

  /** After `pieces` more finished pieces: keep connections but never answer or end anything again. */
  silentAfterPieces(pieces: number): void {
    this.pieceTrigger = { fault: "silent", remainingPieces: pieces };
  }

  /** Scripts the answers to registers and reschedules (StreamContext.script); undefined: the rule again. */
  scriptAnswers(script: StreamContext["script"]): void {
    this.script = script;
  }

  /** Delays every answer (responses, stream ends, unary replies) by `ms`. */
  slow(ms: number): void {
    this.slowMs = ms;
  }

  /** Back to normal on the same address. Streams that went silent stay silent. */
  async heal(): Promise<void> {
    this.servingStatus = ServingStatus.SERVING;
    this.isUnavailable = false;
    this.isExhausted = false;
    this.isSilent = false;
    this.isDead = false;
    this.slowMs = 0;
    this.pieceTrigger = undefined;
    await this.proxy.forward();
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.proxy.stop();
    this.server.forceShutdown();
  }

  streamContext(): StreamContext {
    return {
      hosts: this.hosts,
      peers: this.peers,
      tasks: this.tasks,
      parents: this.parents,
      fault: () => this.fault(),
      record: (rpc, peerId, message) => this.record(rpc, peerId, message),
      delay: async () => {
        await this.streamGate;
        await this.delay();
      },
      onPieceFinished: () => this.onPieceFinished(),
      script: (request, peer) => this.script?.(request, peer),
    };
  }

  schedulerService(): SchedulerServer {
    return {
      announcePeer: (call) => serveAnnouncePeer(call, this.streamContext()),
      announceHost: this.unary("AnnounceHost", (request) => {
        const problem = validateAnnounceHostRequest(request);
        if (problem !== undefined || request.host === undefined) return new RpcFailure(status.INVALID_ARGUMENT, problem ?? "");
        this.hosts.set(request.host.id, request.host);
        return {};
      }),
      deleteHost: this.unary("DeleteHost", (request) => {
        const problem = validateIds("DeleteHostRequest", { HostId: request.hostId });
        if (problem !== undefined) return new RpcFailure(status.INVALID_ARGUMENT, problem);
        if (!this.hosts.delete(request.hostId)) return new RpcFailure(status.NOT_FOUND, `host ${request.hostId} not found`);
        for (const peer of this.peers.values()) if (peer.hostId === request.hostId) this.peers.delete(peer.id);
        return {};
      }),
      deletePeer: this.unary("DeletePeer", (request) => {
        const problem = validateIds("DeletePeerRequest", { HostId: request.hostId, TaskId: request.taskId, PeerId: request.peerId });
        if (problem !== undefined) return new RpcFailure(status.INVALID_ARGUMENT, problem);
        this.peers.delete(request.peerId);
        return {};
      }, (request) => request.peerId),
      deleteTask: this.unary("DeleteTask", (request) => {
        const problem = validateIds("DeleteTaskRequest", { HostId: request.hostId, TaskId: request.taskId });
        if (problem !== undefined) return new RpcFailure(status.INVALID_ARGUMENT, problem);
        if (!this.hosts.has(request.hostId)) return new RpcFailure(status.NOT_FOUND, `host ${request.hostId} not found`);
        for (const peer of this.peers.values()) {
          if (peer.hostId === request.hostId && peer.taskId === request.taskId) this.peers.delete(peer.id);
        }
        return {};
      }),
      statTask: this.unary("StatTask", (request) => {
        const task = this.tasks.get(request.taskId);
        return task === undefined ? new RpcFailure(status.NOT_FOUND, `task ${request.taskId} not found`) : taskMessage(task, new Date());
      }),
      statPeer: this.unary("StatPeer", (request) => {
        const peer = this.peers.get(request.peerId);
        const task = peer && this.tasks.get(peer.taskId);
        if (peer === undefined || task === undefined) return new RpcFailure(status.NOT_FOUND, `peer ${request.peerId} not found`);
        return Peer.fromPartial({
          id: peer.id,
          priority: peer.priority,
          cost: { seconds: 0n, nanos: 0 },
          state: peer.state,
          task: taskMessage(task, new Date()),
          host: this.hosts.get(peer.hostId),
          createdAt: peer.createdAt,
          updatedAt: new Date(),
        });
      }, (request) => request.peerId),
      listHosts: this.unary("ListHosts", () => ({ hosts: [...this.hosts.values()] })),
    };
  }

  healthService(): HealthServer {
    return {
      check: this.unary("Health/Check", (request: HealthCheckRequest): HealthCheckResponse | RpcFailure =>
        request.service === "" ? { status: this.servingStatus } : new RpcFailure(status.NOT_FOUND, "unknown service"), undefined, () => this.healthGate),
      watch: (call) => {
        this.record("Health/Watch", undefined, call.request);
        if (this.fault() === "unavailable") call.emit("error", { code: status.UNAVAILABLE, details: "scheduler is unavailable" });
        else if (this.fault() === "none" || this.fault() === "exhausted") call.write({ status: this.servingStatus });
      },
    };
  }

  private fault(): ReturnType<StreamContext["fault"]> {
    if (this.isDead) return "dead";
    if (this.isSilent) return "silent";
    if (this.isUnavailable) return "unavailable";
    if (this.isExhausted) return "exhausted";
    return "none";
  }

  private record(rpc: string, peerId: string | undefined, message: unknown): void {
    this.events.push({ rpc, ...(peerId === undefined ? {} : { peerId }), message, at: Date.now() });
  }

  private streamEvents(): Array<{ request: AnnouncePeerRequest }> {
    return this.events
      .filter((event) => event.rpc === "AnnouncePeer")
      .map((event) => ({ request: event.message as AnnouncePeerRequest }));
  }

  private delay(): Promise<void> {
    if (this.slowMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, this.slowMs);
      this.timers.add(timer);
    });
  }

  private onPieceFinished(): void {
    this.finishedPieces += 1;
    const trigger = this.pieceTrigger;
    if (trigger === undefined) return;
    trigger.remainingPieces -= 1;
    if (trigger.remainingPieces > 0) return;
    this.pieceTrigger = undefined;
    if (trigger.fault === "silent") {
      this.isSilent = true;
      return;
    }
    this.isDead = true;
    void this.proxy.refuse();
  }

  /** Records, applies UNAVAILABLE / silence / slowness, then answers with `handler`'s result. */
  private unary<Request, Response>(
    rpc: string,
    handler: (request: Request) => Response | RpcFailure,
    peerIdOf: (request: Request) => string | undefined = () => undefined,
    gate: () => Promise<void> | undefined = () => undefined,
  ): handleUnaryCall<Request, Response> {
    return (call, callback) => {
      if (this.fault() === "dead") return;
      this.record(rpc, peerIdOf(call.request), call.request);
      if (this.fault() === "silent") return;
      const result = this.fault() === "unavailable"
        ? new RpcFailure(status.UNAVAILABLE, "scheduler is unavailable")
        : this.fault() === "exhausted" && !rpc.startsWith("Health/")
          ? new RpcFailure(status.RESOURCE_EXHAUSTED, "rate limit exceeded")
          : handler(call.request);
      void Promise.resolve(gate()).then(() => this.delay()).then(() => {
        if (this.fault() === "silent" || this.fault() === "dead") return;
        if (result instanceof RpcFailure) callback({ code: result.code, details: result.details });
        else callback(null, result);
      });
    };
  }
}

export async function startFakeScheduler(options: FakeSchedulerOptions = {}): Promise<FakeScheduler> {
  const server = new Server();
  const internalPort = await bindInternal(server);
  const proxy = await FaultProxy.start(internalPort, options.port ?? 0, options.host ?? "127.0.0.1").catch(async (err: unknown) => {
    server.forceShutdown();
    throw err;
  });
  const scheduler = new FakeScheduler(options.name ?? `scheduler-${proxy.port}`, server, proxy, options.parents ?? (() => []));
  server.addService(SchedulerService, scheduler.schedulerService());
  server.addService(HealthService, scheduler.healthService());
  return scheduler;
}

/** Binds a grpc-js server to an internal 127.0.0.1 ephemeral port. */
export function bindInternal(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => {
      if (error) reject(error);
      else resolve(port);
    });
  });
}
