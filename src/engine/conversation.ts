// The AnnouncePeer conversation with ONE scheduler, as a pure state machine: stream and
// transfer events go in, commands come out (grpc-js subchannel style: one guarded
// transition function, entry actions in one switch; events that arrive in a state that
// does not expect them are dropped). No I/O, no timers: announce-call.ts carries the
// commands out. It ends in one of four ways and the session decides what happens next —
// on "broken" it asks the selector for the next scheduler and starts a new conversation
// with a fresh peer id; the piece ledger survives, so finished pieces stay.
import type { AnnouncePeerRequest, AnnouncePeerResponse } from "../gen/scheduler/v2/scheduler.js";
import type { Download, Peer } from "../gen/common/v2/common.js";
import { messageOf } from "../errors.js";
import { classifyGrpcFailure, type AttemptOutcome } from "../switching/outcomes.js";
import { describeMismatch, otherVersionOf, type VersionMismatch } from "./parent-versions.js";
import type { FinishedPiece } from "./piece-ledger.js";

/** The stream broke while the origin was our source: the download goes on, the scheduler still failed. */
export interface LostScheduler {
  outcome: AttemptOutcome;
  detail: string;
}

export type ConversationEnd =
  /** Every piece is here and the scheduler was told. */
  | { kind: "finished"; via: "parents" | "origin" | "empty"; lost?: LostScheduler }
  /** Transport failure: switch to the next scheduler (and cool this one, per outcome). */
  | { kind: "broken"; outcome: AttemptOutcome; detail: string; afterRegister: boolean }
  /** The scheduler answered with an application error; do not switch, go to the origin. */
  | { kind: "rejected"; code: number; detail: string }
  /** The scheduler keeps us waiting for parents that never come (max schedule count), or
   *  asked for back-to-source while it is disabled (backToSourceRefused). */
  | { kind: "gave-up"; detail: string; backToSourceRefused?: true };

/** Every state, with everything the conversation knows in it. `answers` counts scheduler answers. */
export type ConversationState =
  /** RegisterPeer sent; the schedule timer runs until the first answer. */
  | { name: "Registering"; answers: 0 }
  /** Parents are being asked for pieces. */
  | { name: "Downloading"; answers: number; parents: Peer[] }
  /** Parents could not give the rest; RescheduleRequest sent, the schedule timer runs. */
  | { name: "Rescheduling"; answers: number }
  /** The origin is our source; `lost` once the stream is gone (reporting stops, the download goes on). */
  | { name: "BackToSource"; answers: number; lost?: LostScheduler }
  /** Our final message is sent; waiting (bounded) for the scheduler to close the stream. */
  | { name: "Closing"; end: ConversationEnd }
  | { name: "Done"; end?: ConversationEnd };

export type StateName = ConversationState["name"];

export type ConversationEvent =
  | { type: "answer"; response: AnnouncePeerResponse["response"] }
  | { type: "streamError"; code: number; detail: string }
  | { type: "streamEnd" }
  /** The stream has its final status (after our final message: the scheduler closed it). */
  | { type: "closed" }
  | { type: "scheduleTimeout"; timeoutMs: number }
  | { type: "finalWaitOver" }
  | { type: "parentsDone"; result: "complete" | "exhausted" | "stopped" }
  | { type: "originDone" }
  | { type: "originFailed"; error: unknown }
  | { type: "pieceFinished"; piece: FinishedPiece }
  | { type: "pieceFailed"; pieceNumber: number; parentId: string }
  | { type: "abort"; reason: unknown };

export type Command =
  | { kind: "send"; request: AnnouncePeerRequest["request"] }
  | { kind: "reportPiece"; piece: FinishedPiece }
  /** A piece finished while nobody listens: report it in the next conversation. */
  | { kind: "keepForLater"; piece: FinishedPiece }
  /** Report the pieces kept for later (feed them back as pieceFinished events). */
  | { kind: "flushBacklog" }
  | { kind: "fetchFromParents"; parents: Peer[] }
  /** The parents' task is another version of the object: none of their pieces may count. */
  | { kind: "otherVersion"; mismatch: VersionMismatch }
  | { kind: "stopParents" }
  | { kind: "backToSource" }
  | { kind: "reschedule"; parents: Peer[] }
  | { kind: "armScheduleTimer" }
  | { kind: "clearScheduleTimer" }
  | { kind: "armFinalWait" }
  | { kind: "halfClose" }
  | { kind: "cancelStream" }
  /** The stream is gone: stop writing to it and drop its callbacks. */
  | { kind: "forgetStream" }
  | { kind: "end"; end: ConversationEnd }
  /** The run must end with this error (the origin failed, or the signal fired). */
  | { kind: "fail"; error: unknown }
  | { kind: "debug"; message: string };

/** Rust gives up after this many scheduler answers on one stream (client reference §4.2). */
export const MAX_SCHEDULE_COUNT = 5;

/** Which states each state may move to; transition() refuses everything else. */
const NEXT: Record<StateName, readonly StateName[]> = {
  Registering: ["Downloading", "BackToSource", "Closing", "Done"],
  Downloading: ["Rescheduling", "Closing", "Done"],
  Rescheduling: ["Downloading", "BackToSource", "Closing", "Done"],
  BackToSource: ["BackToSource", "Closing", "Done"],
  Closing: ["Done"],
  Done: [],
};

export interface ConversationFacts {
  addr: string;
  download: Download;
  /** What the origin's HEAD said; an answer that contradicts it is a faulty answer. */
  contentLength: number;
  pieceCount: number;
  /** No byte from the origin, ever: NeedBackToSource ends the conversation instead. */
  disableBackToSource: boolean;
}

export class AnnounceConversation {
  private current: ConversationState = { name: "Registering", answers: 0 };
  private readonly facts: ConversationFacts;

  constructor(facts: ConversationFacts) {
    this.facts = facts;
  }

  get state(): ConversationState {
    return this.current;
  }

  /** The opening: RegisterPeer, and the schedule timer. */
  start(): Command[] {
    return [{ kind: "send", request: { $case: "registerPeerRequest", value: { download: this.facts.download } } }, { kind: "armScheduleTimer" }];
  }

  handle(event: ConversationEvent): Command[] {
    const out: Command[] = [];
    switch (event.type) {
      case "answer":
        this.onAnswer(event.response, out);
        break;
      case "streamError":
        this.onStreamGone(classifyGrpcFailure(event.code, this.answers() > 0), `${event.code} ${event.detail}`, event.code, out);
        break;
      case "streamEnd":
        this.onStreamGone({ kind: "switch-and-cool", outcome: "stream-broken" }, "stream ended without a final answer", undefined, out);
        break;
      case "closed":
      case "finalWaitOver":
        this.onClosed(event.type === "finalWaitOver", out);
        break;
      case "scheduleTimeout":
        if (this.current.name === "Registering" || this.current.name === "Rescheduling") {
          this.breakOff(this.answers() > 0 ? "stream-broken" : "timeout", `no answer within ${event.timeoutMs} ms`, out);
        }
        break;
      default:
        this.onTransferEvent(event, out);
    }
    return out;
  }

  private onTransferEvent(event: Exclude<ConversationEvent, { type: "answer" | "streamError" | "streamEnd" | "closed" | "finalWaitOver" | "scheduleTimeout" }>, out: Command[]): void {
    const state = this.current;
    switch (event.type) {
      case "parentsDone":
        if (state.name !== "Downloading" || event.result === "stopped") return;
        if (event.result === "complete") return this.finish("parents", out);
        if (this.transition(["Downloading"], { name: "Rescheduling", answers: state.answers }, "parents exhausted", out)) out.push({ kind: "reschedule", parents: state.parents });
        return;
      case "originDone":
        if (state.name === "BackToSource") this.finish("origin", out);
        return;
      case "originFailed":
        return this.onOriginFailed(event.error, out);
      case "pieceFinished": {
        const live = state.name === "Downloading" || state.name === "Rescheduling" || (state.name === "BackToSource" && !state.lost);
        out.push(live ? { kind: "reportPiece", piece: event.piece } : { kind: "keepForLater", piece: event.piece });
        return;
      }
      case "pieceFailed":
        if (state.name === "Downloading") {
          out.push({ kind: "send", request: { $case: "downloadPieceFailedRequest", value: { pieceNumber: event.pieceNumber, parentId: event.parentId, temporary: true } } });
        }
        return;
      case "abort":
        if (this.transition(["Registering", "Downloading", "Rescheduling", "BackToSource", "Closing"], { name: "Done" }, "aborted", out)) {
          out.push({ kind: "stopParents" }, { kind: "cancelStream" }, { kind: "fail", error: event.reason });
        }
        return;
    }
  }

  /**
   * The one writer of `current`: refuses (returns false) unless the current state is in
   * `from` and NEXT allows the move. Entry actions live here, in one switch.
   */
  private transition(from: readonly StateName[], to: ConversationState, reason: string, out: Command[]): boolean {
    const was = this.current.name;
    if (!from.includes(was) || !NEXT[was].includes(to.name)) return false;
    out.push({ kind: "debug", message: `scheduler ${this.facts.addr}: ${was} -> ${to.name} (${reason})` });
    if (was === "Registering" || was === "Rescheduling") out.push({ kind: "clearScheduleTimer" });
    this.current = to;
    switch (to.name) {
      case "Rescheduling":
        out.push({ kind: "armScheduleTimer" });
        break;
      case "Downloading":
        out.push({ kind: "send", request: { $case: "downloadPeerStartedRequest", value: {} } }, { kind: "flushBacklog" }, { kind: "fetchFromParents", parents: to.parents });
        break;
      case "BackToSource":
        if (was !== "BackToSource") out.push({ kind: "send", request: { $case: "downloadPeerBackToSourceStartedRequest", value: {} } }, { kind: "flushBacklog" }, { kind: "backToSource" });
        break;
      case "Closing":
        out.push({ kind: "halfClose" }, { kind: "armFinalWait" });
        break;
      case "Done":
        if (to.end) out.push({ kind: "end", end: to.end });
        break;
      default:
        break;
    }
    return true;
  }

  private answers(): number {
    const state = this.current;
    return "answers" in state ? state.answers : 0;
  }

  private onAnswer(response: AnnouncePeerResponse["response"], out: Command[]): void {
    const state = this.current;
    if (state.name !== "Registering" && state.name !== "Rescheduling") return;
    const answers = state.answers + 1;
    const from: StateName[] = ["Registering", "Rescheduling"];
    if (answers > MAX_SCHEDULE_COUNT) return this.giveUp("max schedule count exceeded", "max schedule count exceeded", out);
    switch (response?.$case) {
      case "emptyTaskResponse":
        // The scheduler's word against the origin's HEAD: a non-empty object is not empty.
        if (this.facts.contentLength > 0) return this.giveUp("faulty answer: empty task", `faulty answer: EmptyTask for a ${this.facts.contentLength}-byte object`, out);
        out.push(
          { kind: "send", request: { $case: "downloadPeerStartedRequest", value: {} } },
          { kind: "send", request: { $case: "downloadPeerFinishedRequest", value: { contentLength: 0n, pieceCount: 0 } } },
        );
        this.transition(from, { name: "Closing", end: { kind: "finished", via: "empty" } }, "empty task", out);
        return;
      case "normalTaskResponse": {
        // The parents' task size against the origin's HEAD: another size is another version.
        const other = otherVersionOf(response.value.candidateParents, this.facts.contentLength);
        if (other) {
          out.push({ kind: "otherVersion", mismatch: other });
          return this.giveUp("faulty answer: parents hold another version", describeMismatch(other), out);
        }
        this.transition(from, { name: "Downloading", answers, parents: response.value.candidateParents }, `${response.value.candidateParents.length} parents`, out);
        return;
      }
      case "needBackToSourceResponse":
        if (this.facts.disableBackToSource) return this.giveUp("back-to-source is disabled", "asked for back-to-source, which is disabled", out, true);
        this.transition(from, { name: "BackToSource", answers }, response.value.description || "need back-to-source", out);
        return;
      default:
        this.giveUp("unexpected response", `unexpected answer ${response?.$case ?? "(none)"}`, out);
    }
  }

  private giveUp(told: string, detail: string, out: Command[], backToSourceRefused = false): void {
    out.push({ kind: "send", request: { $case: "downloadPeerFailedRequest", value: { description: told } } });
    const end: ConversationEnd = backToSourceRefused ? { kind: "gave-up", detail, backToSourceRefused } : { kind: "gave-up", detail };
    this.transition(["Registering", "Rescheduling"], { name: "Closing", end }, detail, out);
  }

  private finish(via: "parents" | "origin", out: Command[]): void {
    const state = this.current;
    const lost = state.name === "BackToSource" ? state.lost : undefined;
    const end: ConversationEnd = { kind: "finished", via, lost };
    if (lost) {
      // No stream left to tell: the scheduler already failed.
      this.transition(["BackToSource"], { name: "Done", end }, "all pieces", out);
      return;
    }
    const sizes = { contentLength: BigInt(this.facts.contentLength), pieceCount: this.facts.pieceCount };
    const request: Command = via === "origin"
      ? { kind: "send", request: { $case: "downloadPeerBackToSourceFinishedRequest", value: sizes } }
      : { kind: "send", request: { $case: "downloadPeerFinishedRequest", value: sizes } };
    const from: StateName[] = via === "origin" ? ["BackToSource"] : ["Downloading"];
    if (from.includes(state.name)) out.push(request);
    this.transition(from, { name: "Closing", end }, "all pieces", out);
  }

  private onOriginFailed(error: unknown, out: Command[]): void {
    const state = this.current;
    if (state.name !== "BackToSource") return;
    if (!state.lost) {
      out.push({ kind: "send", request: { $case: "downloadPieceBackToSourceFailedRequest", value: { response: originFailureOf(error) } } });
      out.push({ kind: "send", request: { $case: "downloadPeerBackToSourceFailedRequest", value: { description: messageOf(error) } } }, { kind: "halfClose" });
    }
    if (this.transition(["BackToSource"], { name: "Done" }, "origin failed", out)) out.push({ kind: "fail", error });
  }

  private onStreamGone(action: ReturnType<typeof classifyGrpcFailure>, detail: string, code: number | undefined, out: Command[]): void {
    const state = this.current;
    if (state.name === "BackToSource") {
      if (state.lost) return;
      // The origin is already our source; losing the scheduler only loses reporting.
      const lost = { outcome: action.kind === "report" ? "stream-broken" : action.outcome, detail } as const;
      this.transition(["BackToSource"], { name: "BackToSource", answers: state.answers, lost }, `scheduler went away: ${detail}; continuing`, out);
      out.push({ kind: "forgetStream" });
      return;
    }
    if (action.kind !== "report") return this.breakOff(action.outcome, detail, out);
    if (this.transition(["Registering", "Downloading", "Rescheduling"], { name: "Done", end: { kind: "rejected", code: code ?? -1, detail } }, detail, out)) {
      out.push({ kind: "stopParents" });
    }
  }

  private breakOff(outcome: AttemptOutcome, detail: string, out: Command[]): void {
    const end: ConversationEnd = { kind: "broken", outcome, detail, afterRegister: this.answers() > 0 };
    if (this.transition(["Registering", "Downloading", "Rescheduling"], { name: "Done", end }, detail, out)) {
      out.push({ kind: "stopParents" }, { kind: "cancelStream" });
    }
  }

  /** The scheduler closed the stream after our final message, or we stopped waiting for it. */
  private onClosed(gaveUpWaiting: boolean, out: Command[]): void {
    const state = this.current;
    if (state.name !== "Closing") return;
    if (this.transition(["Closing"], { name: "Done", end: state.end }, gaveUpWaiting ? "no close from the scheduler" : "stream closed", out) && gaveUpWaiting) {
      out.push({ kind: "cancelStream" });
    }
  }
}

function originFailureOf(error: unknown): NonNullable<Extract<AnnouncePeerRequest["request"], { $case: "downloadPieceBackToSourceFailedRequest" }>["value"]["response"]> {
  const status = typeof error === "object" && error !== null && (error as { code?: unknown }).code === "ERR_ORIGIN_HTTP" ? (error as { status?: unknown }).status : undefined;
  if (typeof status === "number") return { $case: "backend", value: { message: messageOf(error), header: {}, statusCode: status } };
  return { $case: "unknown", value: { message: messageOf(error) } };
}
