// The AnnouncePeer stream of the fake scheduler, restating the Go v2.5.1 behaviour
// (shared/reference/dragonfly-wire.md §5.1, 5.3, 5.5, 5.6; 5.4 loosely: no retry rounds,
// the answer is immediate).
//
// Messages are handled strictly one after another in arrival order, as the Go receive loop
// does. Exactly one answer goes out per register and per reschedule, none for anything
// else; the stream ends OK after a terminal peer message or the client's half-close.
import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import { Peer, SizeScope, Task } from "../../src/gen/common/v2/common.js";
import type { Host, Priority, TaskType } from "../../src/gen/common/v2/common.js";
import type {
  AnnouncePeerRequest,
  AnnouncePeerResponse,
  RegisterPeerRequest,
} from "../../src/gen/scheduler/v2/scheduler.js";
import { validateAnnouncePeerRequest } from "./validate.js";

/** A parent the fake scheduler hands out; `port` is the parent's DfdaemonUpload gRPC port. */
export interface FakeParentInfo {
  peerId: string;
  hostId: string;
  hostname: string;
  ip: string;
  port: number;
}

export interface TaskRecord {
  id: string;
  type: TaskType;
  url: string;
  /** −1 after a back-to-source failure (Go resets it), which schedules as UNKNOW. */
  contentLength: bigint;
  pieceLength: bigint;
  pieceCount: number;
  state: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface PeerRecord {
  id: string;
  hostId: string;
  taskId: string;
  priority: Priority;
  state: string;
  needBackToSource: boolean;
  /** Self, parents named in ReschedulePeer and parents of temporary piece failures. */
  blockedParentIds: Set<string>;
  finishedPieceNumbers: number[];
  createdAt: Date;
}

/** What a stream needs from the scheduler that owns it. */
export interface StreamContext {
  readonly hosts: Map<string, Host>;
  readonly peers: Map<string, PeerRecord>;
  readonly tasks: Map<string, TaskRecord>;
  parents(): FakeParentInfo[];
  /** The scheduler-wide fault that applies right now. */
  fault(): "none" | "unavailable" | "exhausted" | "silent" | "dead";
  record(rpc: string, peerId: string | undefined, message: unknown): void;
  /** Resolves after the configured answer delay (slow()). */
  delay(): Promise<void>;
  /** Counts a finished piece; may switch the scheduler into a fault. */
  onPieceFinished(): void;
  /**
   * A scripted answer to a register or reschedule instead of the scheduling rule (an
   * ill-formed or hostile scheduler): a response, "silent" (no answer), "end" (the stream
   * ends OK without an answer), or undefined for the normal answer.
   */
  script?(request: AnnouncePeerRequest, peer: PeerRecord | undefined): AnnouncePeerResponse["response"] | "silent" | "end" | undefined;
}

type Outcome =
  | { kind: "none" }
  | { kind: "answer"; response: AnnouncePeerResponse }
  | { kind: "end"; code: status; details: string };

const NONE: Outcome = { kind: "none" };
const OK_END: Outcome = { kind: "end", code: status.OK, details: "OK" };
const CANDIDATE_PARENT_LIMIT = 3;
const TERMINAL_PEER_STATES = new Set(["Succeeded", "Failed", "Leave"]);
const SCHEDULABLE_PEER_STATES = new Set(["ReceivedNormal", "Running"]);

const end = (code: status, details: string): Outcome => ({ kind: "end", code, details });
const answer = (response: AnnouncePeerResponse["response"]): Outcome => ({ kind: "answer", response: { response } });
const peerNotFound = (peerId: string): Outcome => end(status.NOT_FOUND, `peer ${peerId} not found`);
const fsmMisuse = (peer: PeerRecord, event: string): Outcome =>
  end(status.INTERNAL, `peer ${peer.id} fsm event ${event} inappropriate in current state ${peer.state}`);

export function serveAnnouncePeer(
  call: ServerDuplexStream<AnnouncePeerRequest, AnnouncePeerResponse>,
  context: StreamContext,
): void {
  let ended = false;
  // Once silenced a stream stays a zombie, even after heal(): it saw messages go unanswered.
  let silenced = false;
  let registeredPeerId: string | undefined;
  let queue = Promise.resolve();

  const finish = (code: status, details: string, peerId: string | undefined): void => {
    if (ended) return;
    ended = true;
    context.record("AnnouncePeer.end", peerId, { code, details });
    if (code === status.OK) call.end();
    else call.emit("error", { code, details });
  };

  const handle = async (request: AnnouncePeerRequest): Promise<void> => {
    if (ended || context.fault() === "dead") return;
    context.record("AnnouncePeer", request.peerId, request);
    if (silenced || context.fault() === "silent") {
      silenced = true;
      return;
    }
    if (context.fault() === "unavailable") {
      finish(status.UNAVAILABLE, "scheduler is unavailable", request.peerId);
      return;
    }
    if (context.fault() === "exhausted") {
      finish(status.RESOURCE_EXHAUSTED, "rate limit exceeded", request.peerId);
      return;
    }
    const problem = validateAnnouncePeerRequest(request);
    let outcome = problem !== undefined
      ? end(status.INVALID_ARGUMENT, problem)
      : dispatch(request, registeredPeerId, context);
    const scripted = outcome.kind === "answer" ? context.script?.(request, context.peers.get(request.peerId)) : undefined;
    if (scripted === "silent") outcome = NONE;
    else if (scripted === "end") outcome = OK_END;
    else if (scripted !== undefined) outcome = answer(scripted);
    if (request.request?.$case === "registerPeerRequest" && outcome.kind === "answer") registeredPeerId = request.peerId;
    if (outcome.kind === "none") return;
    await context.delay();
    if (ended || silenced || context.fault() === "silent" || context.fault() === "dead") return;
    if (outcome.kind === "answer") {
      context.record("AnnouncePeer.response", request.peerId, outcome.response);
      call.write(outcome.response);
    } else {
      finish(outcome.code, outcome.details, request.peerId);
    }
  };

  call.on("data", (request: AnnouncePeerRequest) => {
    queue = queue.then(() => handle(request));
  });
  call.on("end", () => {
    queue = queue.then(async () => {
      const fault = context.fault();
      if (ended || silenced || fault === "silent" || fault === "dead") return;
      if (fault === "unavailable") {
        finish(status.UNAVAILABLE, "scheduler is unavailable", registeredPeerId);
        return;
      }
      await context.delay();
      finish(status.OK, "OK", registeredPeerId);
    });
  });
  call.on("cancelled", () => {
    ended = true;
  });
  call.on("error", () => {
    ended = true;
  });
  if (context.fault() === "unavailable") finish(status.UNAVAILABLE, "scheduler is unavailable", undefined);
}

function dispatch(request: AnnouncePeerRequest, registeredPeerId: string | undefined, context: StreamContext): Outcome {
  const member = request.request;
  if (member === undefined) return end(status.FAILED_PRECONDITION, "receive unknown request");
  if (member.$case === "registerPeerRequest") return register(request, member.value, registeredPeerId, context);
  const peer = context.peers.get(request.peerId);
  // Go only logs piece-level errors; the fake ends the stream for any message about an
  // unknown peer, so a client that sends anything before its register is caught.
  if (peer === undefined) return peerNotFound(request.peerId);
  const task = context.tasks.get(peer.taskId);
  switch (member.$case) {
    case "downloadPeerStartedRequest":
      if (peer.state === "Running") return NONE;
      if (!peer.state.startsWith("Received")) return fsmMisuse(peer, "Download");
      peer.state = "Running";
      return NONE;
    case "downloadPeerBackToSourceStartedRequest":
      if (peer.state === "BackToSource") return NONE;
      if (!peer.state.startsWith("Received") && peer.state !== "Running") return fsmMisuse(peer, "DownloadBackToSource");
      peer.state = "BackToSource";
      return NONE;
    case "reschedulePeerRequest":
      for (const parent of member.value.candidateParents) peer.blockedParentIds.add(parent.id);
      return schedule(peer, task, context, "scheduling exceeded RetryBackToSourceLimit");
    case "downloadPieceFinishedRequest":
    case "downloadPieceBackToSourceFinishedRequest": {
      const piece = member.value.piece;
      if (piece !== undefined) peer.finishedPieceNumbers.push(piece.number);
      if (task !== undefined) task.updatedAt = new Date();
      context.onPieceFinished();
      return NONE;
    }
    case "downloadPieceFailedRequest":
      if (member.value.temporary) peer.blockedParentIds.add(member.value.parentId);
      return NONE;
    case "downloadPieceBackToSourceFailedRequest":
      return NONE;
    case "downloadPeerFinishedRequest":
      return terminal(peer, "Succeeded", "DownloadSucceeded");
    case "downloadPeerBackToSourceFinishedRequest": {
      const outcome = terminal(peer, "Succeeded", "DownloadSucceeded");
      if (outcome === OK_END && task !== undefined) setTaskState(task, "Succeeded");
      return outcome;
    }
    case "downloadPeerFailedRequest":
      return terminal(peer, "Failed", "DownloadFailed");
    case "downloadPeerBackToSourceFailedRequest": {
      const outcome = terminal(peer, "Failed", "DownloadFailed");
      if (outcome === OK_END && task !== undefined) {
        task.contentLength = -1n;
        task.pieceCount = 0;
        setTaskState(task, "Failed");
      }
      return outcome;
    }
  }
}

function register(
  request: AnnouncePeerRequest,
  registration: RegisterPeerRequest,
  registeredPeerId: string | undefined,
  context: StreamContext,
): Outcome {
  const existing = context.peers.get(registeredPeerId ?? request.peerId);
  if (existing !== undefined) return fsmMisuse(existing, "RegisterNormal");
  // Go v2.5.1 quirk: the host-not-found error is replaced by the failure path that tries
  // to mark the never-created peer Failed (§5.6).
  if (!context.hosts.has(request.hostId)) return peerNotFound(request.peerId);
  const download = registration.download;
  if (download === undefined) return end(status.INVALID_ARGUMENT, "invalid RegisterPeerRequest.Download: value is required");
  const now = new Date();
  let task = context.tasks.get(request.taskId);
  if (task === undefined) {
    task = {
      id: request.taskId,
      type: download.type,
      url: download.url,
      contentLength: download.actualContentLength ?? 0n,
      pieceLength: download.actualPieceLength ?? 0n,
      pieceCount: Number(download.actualPieceCount ?? 0n),
      state: "Pending",
      createdAt: now,
      updatedAt: now,
    };
    context.tasks.set(task.id, task);
  } else {
    task.url = download.url;
    task.updatedAt = now;
  }
  const peer: PeerRecord = {
    id: request.peerId,
    hostId: request.hostId,
    taskId: task.id,
    priority: download.priority,
    state: "Pending",
    needBackToSource: download.needBackToSource,
    blockedParentIds: new Set([request.peerId]),
    finishedPieceNumbers: [],
    createdAt: now,
  };
  context.peers.set(peer.id, peer);
  if (task.state !== "Succeeded") setTaskState(task, "Running");
  if (download.metadataOnly) {
    peer.state = "ReceivedNormal";
    return answer({ $case: "metadataOnlyResponse", value: {} });
  }
  // Size scope is decided before scheduling, so an EMPTY task answers Empty even when
  // need_back_to_source is set (§5.3 steps 6–8).
  if (sizeScopeOf(task) === SizeScope.EMPTY) {
    peer.state = "ReceivedEmpty";
    return answer({ $case: "emptyTaskResponse", value: {} });
  }
  peer.state = "ReceivedNormal";
  return schedule(peer, task, context, "peer's NeedBackToSource is true");
}

/** §5.4 without retry rounds: parents left → Normal, otherwise NeedBackToSource at once. */
function schedule(peer: PeerRecord, task: TaskRecord | undefined, context: StreamContext, noParentReason: string): Outcome {
  if (peer.needBackToSource) {
    return answer({ $case: "needBackToSourceResponse", value: { description: "peer's NeedBackToSource is true" } });
  }
  const host = context.hosts.get(peer.hostId);
  const candidates = task === undefined || !SCHEDULABLE_PEER_STATES.has(peer.state)
    ? []
    : context.parents()
      .filter((parent) => parent.hostId !== host?.id && !peer.blockedParentIds.has(parent.peerId))
      .slice(0, CANDIDATE_PARENT_LIMIT);
  if (candidates.length === 0 || task === undefined) {
    return answer({ $case: "needBackToSourceResponse", value: { description: noParentReason } });
  }
  const now = new Date();
  return answer({
    $case: "normalTaskResponse",
    value: { candidateParents: candidates.map((parent) => parentPeer(parent, task, now)) },
  });
}

function terminal(peer: PeerRecord, state: "Succeeded" | "Failed", event: string): Outcome {
  if (TERMINAL_PEER_STATES.has(peer.state) || peer.state === "Pending") return fsmMisuse(peer, event);
  peer.state = state;
  return OK_END;
}

function setTaskState(task: TaskRecord, state: string): void {
  task.state = state;
  task.updatedAt = new Date();
}

export function sizeScopeOf(task: TaskRecord): SizeScope {
  if (task.contentLength < 0n || task.pieceCount < 0) return SizeScope.UNKNOW;
  if (task.contentLength === 0n) return SizeScope.EMPTY;
  if (task.contentLength <= 128n) return SizeScope.TINY;
  if (task.pieceCount === 1) return SizeScope.SMALL;
  return SizeScope.NORMAL;
}

/** Task as the Go scheduler puts it on the wire (no pieces); −1 travels as uint64 2^64−1. */
export function taskMessage(task: TaskRecord, now: Date): Task {
  return Task.fromPartial({
    id: task.id,
    type: task.type,
    url: task.url,
    contentLength: BigInt.asUintN(64, task.contentLength),
    pieceCount: task.pieceCount,
    sizeScope: sizeScopeOf(task),
    state: task.state,
    createdAt: task.createdAt,
    updatedAt: now,
  });
}

/**
 * A full Peer as the Go scheduler sends it in NormalTaskResponse (no pieces, Task without
 * pieces, Host with ip/ports), so that a client echoing it in ReschedulePeerRequest passes
 * the full Peer validation. The fake's parents already hold the whole task.
 */
export function parentPeer(parent: FakeParentInfo, task: TaskRecord, now: Date): Peer {
  return Peer.fromPartial({
    id: parent.peerId,
    priority: 0,
    cost: { seconds: 0n, nanos: 0 },
    state: "Succeeded",
    task: { ...taskMessage(task, now), state: "Succeeded" },
    host: {
      id: parent.hostId,
      type: 0,
      hostname: parent.hostname,
      ip: parent.ip,
      port: parent.port,
      downloadPort: parent.port,
    },
    createdAt: task.createdAt,
    updatedAt: now,
  });
}
