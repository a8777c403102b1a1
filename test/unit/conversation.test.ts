// The AnnouncePeer conversation as a pure state machine: every transition, every
// command, and the events it must drop. No stream, no timers: events in, commands out.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AnnounceConversation, MAX_SCHEDULE_COUNT, type Command, type ConversationEvent } from "../../src/engine/conversation.js";
import type { FinishedPiece } from "../../src/engine/piece-ledger.js";
import type { Download, Peer } from "../../src/gen/common/v2/common.js";
import { OriginHttpError } from "../../src/errors.js";

const ADDR = "10.0.0.1:8002";
const DOWNLOAD = { url: "http://origin.test/f" } as Download;
const PARENTS = [{ id: "parent-1" } as Peer, { id: "parent-2" } as Peer];
const PIECE: FinishedPiece = { number: 3, offset: 12, length: 4, digest: "crc32:1", source: "parent", parentId: "parent-1", costMs: 5, createdAt: new Date(0) };

const normal = (parents: Peer[] = PARENTS): ConversationEvent => ({ type: "answer", response: { $case: "normalTaskResponse", value: { candidateParents: parents } } });
const backToSource: ConversationEvent = { type: "answer", response: { $case: "needBackToSourceResponse", value: { description: "no parents" } } };
const empty: ConversationEvent = { type: "answer", response: { $case: "emptyTaskResponse", value: {} } };

function conversation(facts: { contentLength?: number; disableBackToSource?: boolean } = {}): AnnounceConversation {
  return new AnnounceConversation({ addr: ADDR, download: DOWNLOAD, contentLength: facts.contentLength ?? 100, pieceCount: 25, disableBackToSource: facts.disableBackToSource ?? false });
}

/** Commands without the trace lines, each as its kind (and the $case of what is sent). */
function kinds(commands: Command[]): string[] {
  return commands.filter((c) => c.kind !== "debug").map((c) => (c.kind === "send" ? `send ${c.request?.$case}` : c.kind));
}

function traces(commands: Command[]): string[] {
  return commands.flatMap((c) => (c.kind === "debug" ? [c.message] : []));
}

function endOf(commands: Command[]): unknown {
  const end = commands.find((c) => c.kind === "end");
  return end?.kind === "end" ? end.end : undefined;
}

/** A conversation driven to the given state by legal events. */
function at(state: "Downloading" | "BackToSource" | "Rescheduling"): AnnounceConversation {
  const c = conversation();
  c.start();
  c.handle(state === "BackToSource" ? backToSource : normal());
  if (state === "Rescheduling") c.handle({ type: "parentsDone", result: "exhausted" });
  assert.equal(c.state.name, state);
  return c;
}

describe("AnnounceConversation", () => {
  test("start: RegisterPeer with the download, and the schedule timer", () => {
    const c = conversation();
    const commands = c.start();
    assert.deepEqual(commands, [
      { kind: "send", request: { $case: "registerPeerRequest", value: { download: DOWNLOAD } } },
      { kind: "armScheduleTimer" },
    ]);
    assert.deepEqual(c.state, { name: "Registering", answers: 0 });
  });

  test("Registering -> Downloading on NormalTask: started, backlog, parents", () => {
    const c = conversation();
    c.start();
    const commands = c.handle(normal());
    assert.deepEqual(kinds(commands), ["clearScheduleTimer", "send downloadPeerStartedRequest", "flushBacklog", "fetchFromParents"]);
    assert.deepEqual(commands.find((x) => x.kind === "fetchFromParents"), { kind: "fetchFromParents", parents: PARENTS });
    assert.deepEqual(traces(commands), [`scheduler ${ADDR}: Registering -> Downloading (2 parents)`]);
    assert.deepEqual(c.state, { name: "Downloading", answers: 1, parents: PARENTS });
  });

  test("Registering -> BackToSource on NeedBackToSource: started, backlog, the origin loop", () => {
    const c = conversation();
    c.start();
    const commands = c.handle(backToSource);
    assert.deepEqual(kinds(commands), ["clearScheduleTimer", "send downloadPeerBackToSourceStartedRequest", "flushBacklog", "backToSource"]);
    assert.deepEqual(traces(commands), [`scheduler ${ADDR}: Registering -> BackToSource (no parents)`]);
  });

  test("Registering -> Closing -> Done on EmptyTask: started + finished(0, 0), then leave once the stream closes", () => {
    const c = conversation({ contentLength: 0 });
    c.start();
    const commands = c.handle(empty);
    assert.deepEqual(kinds(commands), ["send downloadPeerStartedRequest", "send downloadPeerFinishedRequest", "clearScheduleTimer", "halfClose", "armFinalWait"]);
    assert.equal(c.state.name, "Closing");
    const closed = c.handle({ type: "closed" });
    assert.deepEqual(kinds(closed), ["end"]);
    assert.deepEqual(endOf(closed), { kind: "finished", via: "empty" });
    assert.deepEqual(c.state.name, "Done");
  });

  test("EmptyTask for an object the origin says is not empty is a faulty answer: gave-up, nothing believed", () => {
    const c = conversation({ contentLength: 9 * 1024 * 1024 });
    c.start();
    const commands = c.handle(empty);
    assert.deepEqual(commands[0], { kind: "send", request: { $case: "downloadPeerFailedRequest", value: { description: "faulty answer: empty task" } } });
    assert.ok(!kinds(commands).includes("send downloadPeerFinishedRequest"));
    assert.deepEqual(endOf(c.handle({ type: "closed" })), { kind: "gave-up", detail: "faulty answer: EmptyTask for a 9437184-byte object" });
  });

  test("parents whose task is another size hold another version: recorded, no parent asked, gave-up", () => {
    const c = conversation({ contentLength: 100 });
    c.start();
    const other = [{ id: "parent-1", task: { contentLength: 2n ** 64n - 1n } } as Peer, { id: "parent-2", task: { contentLength: 99n } } as Peer];
    const commands = c.handle(normal(other));
    assert.deepEqual(kinds(commands), ["otherVersion", "send downloadPeerFailedRequest", "clearScheduleTimer", "halfClose", "armFinalWait"]);
    assert.deepEqual(commands[0], { kind: "otherVersion", mismatch: { kind: "length", origin: 100, parents: 99, parentId: "parent-2" } });
    assert.deepEqual(endOf(c.handle({ type: "closed" })), { kind: "gave-up", detail: "the cluster holds another version of this URL: the origin's object is 100 bytes but the parents' task (parent parent-2) is 99 bytes" });
  });

  test("parents whose task size is unknown (2^64-1), 0 or the origin's are believed", () => {
    const c = conversation({ contentLength: 100 });
    c.start();
    const same = [{ id: "a", task: { contentLength: 2n ** 64n - 1n } } as Peer, { id: "b", task: { contentLength: 0n } } as Peer, { id: "c", task: { contentLength: 100n } } as Peer];
    assert.ok(kinds(c.handle(normal(same))).includes("fetchFromParents"));
  });

  test("NeedBackToSource with back-to-source disabled: no origin loop, gave-up", () => {
    const c = conversation({ disableBackToSource: true });
    c.start();
    const commands = c.handle(backToSource);
    assert.ok(!kinds(commands).includes("backToSource"));
    assert.deepEqual(commands[0], { kind: "send", request: { $case: "downloadPeerFailedRequest", value: { description: "back-to-source is disabled" } } });
    assert.deepEqual(endOf(c.handle({ type: "closed" })), { kind: "gave-up", detail: "asked for back-to-source, which is disabled", backToSourceRefused: true });
  });

  test("an answer without a known case: DownloadPeerFailed, gave-up", () => {
    const c = conversation();
    c.start();
    const commands = c.handle({ type: "answer", response: undefined });
    assert.deepEqual(kinds(commands), ["send downloadPeerFailedRequest", "clearScheduleTimer", "halfClose", "armFinalWait"]);
    assert.deepEqual(kinds(c.handle({ type: "finalWaitOver" })), ["end", "cancelStream"]);
    assert.equal(c.state.name, "Done");
  });

  test("Downloading -> Closing when the parents gave every piece: DownloadPeerFinished with the sizes", () => {
    const c = at("Downloading");
    const commands = c.handle({ type: "parentsDone", result: "complete" });
    assert.deepEqual(commands.find((x) => x.kind === "send"), {
      kind: "send",
      request: { $case: "downloadPeerFinishedRequest", value: { contentLength: 100n, pieceCount: 25 } },
    });
    assert.deepEqual(endOf(c.handle({ type: "closed" })), { kind: "finished", via: "parents", lost: undefined });
  });

  test("Downloading -> Rescheduling when the parents are exhausted, and back on the next NormalTask", () => {
    const c = at("Downloading");
    const commands = c.handle({ type: "parentsDone", result: "exhausted" });
    assert.deepEqual(kinds(commands), ["armScheduleTimer", "reschedule"]);
    assert.deepEqual(commands.at(-1), { kind: "reschedule", parents: PARENTS });
    assert.deepEqual(c.state, { name: "Rescheduling", answers: 1 });
    const again = c.handle(normal([PARENTS[1]!]));
    assert.deepEqual(kinds(again), ["clearScheduleTimer", "send downloadPeerStartedRequest", "flushBacklog", "fetchFromParents"]);
    assert.deepEqual(c.state, { name: "Downloading", answers: 2, parents: [PARENTS[1]] });
  });

  test("Rescheduling -> BackToSource when the scheduler says so", () => {
    const c = at("Rescheduling");
    assert.deepEqual(kinds(c.handle(backToSource)), ["clearScheduleTimer", "send downloadPeerBackToSourceStartedRequest", "flushBacklog", "backToSource"]);
  });

  test(`more than ${MAX_SCHEDULE_COUNT} answers: gave-up (max schedule count)`, () => {
    const c = at("Downloading");
    for (let i = 1; i < MAX_SCHEDULE_COUNT; i++) {
      c.handle({ type: "parentsDone", result: "exhausted" });
      c.handle(normal());
    }
    c.handle({ type: "parentsDone", result: "exhausted" });
    const commands = c.handle(normal());
    assert.deepEqual(commands[0], { kind: "send", request: { $case: "downloadPeerFailedRequest", value: { description: "max schedule count exceeded" } } });
    assert.deepEqual(endOf(c.handle({ type: "closed" })), { kind: "gave-up", detail: "max schedule count exceeded" });
  });

  test("schedule timeout before any answer: broken by timeout, not after register", () => {
    const c = conversation();
    c.start();
    const commands = c.handle({ type: "scheduleTimeout", timeoutMs: 2000 });
    assert.deepEqual(kinds(commands), ["clearScheduleTimer", "end", "stopParents", "cancelStream"]);
    assert.deepEqual(endOf(commands), { kind: "broken", outcome: "timeout", detail: "no answer within 2000 ms", afterRegister: false });
  });

  test("schedule timeout while rescheduling: the stream is broken, after register", () => {
    const c = at("Rescheduling");
    const end = endOf(c.handle({ type: "scheduleTimeout", timeoutMs: 2000 }));
    assert.deepEqual(end, { kind: "broken", outcome: "stream-broken", detail: "no answer within 2000 ms", afterRegister: true });
  });

  test("a transport failure breaks off (switch); an application error is a rejection (no switch)", () => {
    const broken = at("Downloading");
    const commands = broken.handle({ type: "streamError", code: 14, detail: "connection reset" });
    assert.deepEqual(kinds(commands), ["end", "stopParents", "cancelStream"]);
    assert.deepEqual(endOf(commands), { kind: "broken", outcome: "stream-broken", detail: "14 connection reset", afterRegister: true });

    const rejected = conversation();
    rejected.start();
    const answer = rejected.handle({ type: "streamError", code: 3, detail: "invalid download" });
    assert.deepEqual(kinds(answer), ["clearScheduleTimer", "end", "stopParents"]);
    assert.deepEqual(endOf(answer), { kind: "rejected", code: 3, detail: "3 invalid download" });
  });

  test("the stream ends without a final answer: broken", () => {
    const c = conversation();
    c.start();
    assert.deepEqual(endOf(c.handle({ type: "streamEnd" })), { kind: "broken", outcome: "stream-broken", detail: "stream ended without a final answer", afterRegister: false });
  });

  test("BackToSource: the stream breaks, the origin goes on; finishing then needs no stream", () => {
    const c = at("BackToSource");
    const gone = c.handle({ type: "streamError", code: 14, detail: "reset" });
    assert.deepEqual(kinds(gone), ["forgetStream"]);
    assert.deepEqual(c.state, { name: "BackToSource", answers: 1, lost: { outcome: "stream-broken", detail: "14 reset" } });
    assert.deepEqual(kinds(c.handle({ type: "pieceFinished", piece: PIECE })), ["keepForLater"]);
    assert.deepEqual(kinds(c.handle({ type: "streamEnd" })), [], "a lost stream is lost once");
    const done = c.handle({ type: "originDone" });
    assert.deepEqual(kinds(done), ["end"]);
    assert.deepEqual(endOf(done), { kind: "finished", via: "origin", lost: { outcome: "stream-broken", detail: "14 reset" } });
  });

  test("BackToSource -> Closing when the origin gave everything; the final wait may run out", () => {
    const c = at("BackToSource");
    const commands = c.handle({ type: "originDone" });
    assert.deepEqual(kinds(commands), ["send downloadPeerBackToSourceFinishedRequest", "halfClose", "armFinalWait"]);
    const over = c.handle({ type: "finalWaitOver" });
    assert.deepEqual(kinds(over), ["end", "cancelStream"]);
    assert.deepEqual(endOf(over), { kind: "finished", via: "origin", lost: undefined });
  });

  test("the origin fails: both back-to-source failures are told (status code from the error's code), the run fails", () => {
    const c = at("BackToSource");
    const error = new OriginHttpError(404, "origin answered 404");
    const commands = c.handle({ type: "originFailed", error });
    assert.deepEqual(commands[0], {
      kind: "send",
      request: { $case: "downloadPieceBackToSourceFailedRequest", value: { response: { $case: "backend", value: { message: "origin answered 404", header: {}, statusCode: 404 } } } },
    });
    assert.deepEqual(kinds(commands), ["send downloadPieceBackToSourceFailedRequest", "send downloadPeerBackToSourceFailedRequest", "halfClose", "fail"]);
    assert.equal(c.state.name, "Done");
  });

  test("pieces: reported while a scheduler listens, kept for later before it answers; failures told while downloading", () => {
    const c = conversation();
    c.start();
    assert.deepEqual(c.handle({ type: "pieceFinished", piece: PIECE }), [{ kind: "keepForLater", piece: PIECE }]);
    c.handle(normal());
    assert.deepEqual(c.handle({ type: "pieceFinished", piece: PIECE }), [{ kind: "reportPiece", piece: PIECE }]);
    assert.deepEqual(c.handle({ type: "pieceFailed", pieceNumber: 4, parentId: "parent-2" }), [
      { kind: "send", request: { $case: "downloadPieceFailedRequest", value: { pieceNumber: 4, parentId: "parent-2", temporary: true } } },
    ]);
  });

  test("abort from any live state fails the run with the signal's reason; after Done it is dropped", () => {
    for (const c of [at("Downloading"), at("BackToSource"), at("Rescheduling")]) {
      const reason = new Error("interrupted");
      const commands = c.handle({ type: "abort", reason });
      assert.ok(kinds(commands).includes("fail"));
      assert.deepEqual(commands.at(-1), { kind: "fail", error: reason });
      assert.equal(c.state.name, "Done");
      assert.deepEqual(c.handle({ type: "abort", reason }), []);
    }
  });

  test("the guard drops events a state does not expect", () => {
    const c = at("Downloading");
    assert.deepEqual(c.handle(normal()), [], "an answer while downloading");
    assert.deepEqual(c.handle({ type: "originDone" }), [], "origin done without back-to-source");
    assert.deepEqual(c.handle({ type: "closed" }), [], "closed before our final message");
    assert.deepEqual(c.handle({ type: "scheduleTimeout", timeoutMs: 1 }), [], "a timer that should have been cleared");
    const b = at("BackToSource");
    assert.deepEqual(b.handle({ type: "parentsDone", result: "complete" }), [], "parents done in back-to-source");
    assert.deepEqual(b.handle({ type: "pieceFailed", pieceNumber: 1, parentId: "p" }), []);
    const done = at("Downloading");
    done.handle({ type: "streamError", code: 14, detail: "reset" });
    for (const event of [normal(), { type: "parentsDone", result: "complete" } as const, { type: "originFailed", error: new Error("x") } as const, { type: "streamEnd" } as const]) {
      assert.deepEqual(done.handle(event), [], `${event.type} after Done`);
    }
  });
});
