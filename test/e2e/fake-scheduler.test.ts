// The fake scheduler and manager, driven by a real grpc-js client with the generated
// stubs: Go v2.5.1 behaviour (shared/reference/dragonfly-wire.md §4–§6) and every fault
// switch, asserted on status codes and on what the fakes recorded.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { credentials, Metadata, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { Download, Host, Piece, TaskType, TrafficType } from "../../src/gen/common/v2/common.js";
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthClient } from "../../src/gen/grpc/health/v1/health.js";
import { ListSchedulersRequest, ManagerClient, SourceType, type ListSchedulersResponse } from "../../src/gen/manager/v2/manager.js";
import {
  SchedulerClient,
  type AnnouncePeerRequest,
  type AnnouncePeerResponse,
} from "../../src/gen/scheduler/v2/scheduler.js";
import { startCluster } from "../support/cluster.js";
import { startFakeManager } from "../support/manager.js";
import { startFakeScheduler, type FakeParentInfo } from "../support/scheduler.js";
import { validatePeer } from "../support/validate.js";
import { HANG_GUARD_MS, waitFor } from "../support/wait.js";

// A fresh TCP connection per client, so connection counts and post-fault behaviour are real.
const OWN_CONNECTION = { "grpc.use_local_subchannel_pool": 1 };
const TASK_ID = "b".repeat(64);
const HOST_ID = "127.0.0.1-child";
const MIB = 1024n * 1024n;
const PARENT: FakeParentInfo = { peerId: "127.0.0.2-seed-1", hostId: "127.0.0.2-seed", hostname: "seed", ip: "127.0.0.2", port: 4000 };

const deadlineIn = (ms: number): Date => new Date(Date.now() + ms);
type Outcome<T> = { error: ServiceError; response?: undefined } | { error?: undefined; response: T };

function unary<T>(invoke: (callback: (error: ServiceError | null, response?: T) => void) => void): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    invoke((error, response) => resolve(error ? { error } : { response: response as T }));
  });
}

function track<C extends Client>(client: C, clients: Client[]): C {
  clients.push(client);
  return client;
}

async function healthCheck(addr: string, clients: Client[], timeoutMs = 2000, service = ""): Promise<Outcome<ServingStatus>> {
  const client = track(new HealthClient(addr, credentials.createInsecure(), OWN_CONNECTION), clients);
  const outcome = await unary<{ status: ServingStatus }>((cb) => client.check({ service }, new Metadata(), { deadline: deadlineIn(timeoutMs) }, cb));
  return outcome.error ? outcome : { response: outcome.response.status };
}

function childHost(): Host {
  return Host.fromPartial({ id: HOST_ID, hostname: "child", ip: "127.0.0.1", port: 4000, downloadPort: 4000 });
}

function announceHost(client: SchedulerClient): Promise<Outcome<unknown>> {
  return unary((cb) => client.announceHost({ host: childHost() }, new Metadata(), { deadline: deadlineIn(2000) }, cb));
}

function register(peerId: string, download: Partial<Download> = {}): AnnouncePeerRequest {
  const value = Download.fromPartial({ url: "http://127.0.0.1:9/file", type: TaskType.STANDARD });
  return { hostId: HOST_ID, taskId: TASK_ID, peerId, request: { $case: "registerPeerRequest", value: { download: { ...value, ...download } } } };
}

const sized = { actualContentLength: 12n * MIB, actualPieceLength: 4n * MIB, actualPieceCount: 3n };

function pieceFinished(peerId: string, number: number, withCost = true): AnnouncePeerRequest {
  const piece = Piece.fromPartial({
    number, parentId: PARENT.peerId, offset: BigInt(number) * 4n * MIB, length: 4n * MIB,
    digest: "crc32:12345", trafficType: TrafficType.REMOTE_PEER, createdAt: new Date(),
    ...(withCost ? { cost: { seconds: 0n, nanos: 1000 } } : {}),
  });
  return { hostId: HOST_ID, taskId: TASK_ID, peerId, request: { $case: "downloadPieceFinishedRequest", value: { piece } } };
}

function peerMessage(peerId: string, request: AnnouncePeerRequest["request"]): AnnouncePeerRequest {
  return { hostId: HOST_ID, taskId: TASK_ID, peerId, request };
}

type StreamEnd = { code: status; details: string };

/** A client AnnouncePeer stream (5 s deadline) that collects answers and the final status. */
function openStream(client: SchedulerClient) {
  const call = client.announcePeer({ deadline: deadlineIn(5000) });
  const responses: AnnouncePeerResponse[] = [];
  let wake: (() => void) | undefined;
  call.on("data", (response: AnnouncePeerResponse) => {
    responses.push(response);
    wake?.();
  });
  call.on("error", () => {}); // the status event carries the code
  const ended = new Promise<StreamEnd>((resolve) => call.on("status", (s: StreamEnd) => resolve({ code: s.code, details: s.details })));
  let read = 0;
  const within = <T>(promise: Promise<T>, ms: number): Promise<T | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  };
  return {
    responses,
    ended,
    send: (request: AnnouncePeerRequest) => call.write(request),
    end: () => call.end(),
    cancel: () => call.cancel(),
    /** The next unread answer, or undefined if none arrives within `ms`. */
    nextResponse: async (ms = HANG_GUARD_MS): Promise<AnnouncePeerResponse | undefined> => {
      if (read >= responses.length) {
        await within(new Promise<void>((resolve) => { wake = resolve; }), ms);
        wake = undefined;
      }
      return read < responses.length ? responses[read++] : undefined;
    },
  };
}

/** "connected" or the socket error code; "timeout" only if loopback hangs (a hang guard). */
function tcpConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => finish("timeout"), HANG_GUARD_MS);
    function finish(result: string): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
    socket.once("connect", () => finish("connected"));
    socket.once("error", (error: NodeJS.ErrnoException) => finish(error.code ?? "error"));
  });
}

/** A started scheduler with the child host announced and a client; stopped after the test. */
async function setUp(t: { after: (fn: () => Promise<void> | void) => void }, parents: FakeParentInfo[] = []) {
  const scheduler = await startFakeScheduler({ name: "s1", parents: () => parents });
  const clients: Client[] = [];
  const client = track(new SchedulerClient(scheduler.addr, credentials.createInsecure(), OWN_CONNECTION), clients);
  t.after(async () => {
    for (const each of clients) each.close();
    await scheduler.stop();
  });
  return { scheduler, client, clients };
}

const caseOf = (response: AnnouncePeerResponse | undefined): string | undefined => response?.response?.$case;

describe("fake scheduler: Go v2.5.1 behaviour", () => {
  test("register from a host never announced ends NotFound 'peer <id> not found'", async (t) => {
    const { scheduler, client } = await setUp(t);
    const stream = openStream(client);
    stream.send(register("p-unannounced", sized));
    const end = await stream.ended;
    assert.equal(end.code, status.NOT_FOUND);
    assert.equal(end.details, "peer p-unannounced not found");
    assert.equal(scheduler.registrations()[0]?.peerId, "p-unannounced");
  });

  test("register without actual_content_length gets EmptyTaskResponse", async (t) => {
    const { scheduler, client } = await setUp(t, [PARENT]);
    assert.equal((await announceHost(client)).error, undefined);
    const stream = openStream(client);
    stream.send(register("p-empty"));
    assert.equal(caseOf(await stream.nextResponse()), "emptyTaskResponse");
    stream.send(peerMessage("p-empty", { $case: "downloadPeerStartedRequest", value: {} }));
    stream.send(peerMessage("p-empty", { $case: "downloadPeerFinishedRequest", value: { contentLength: 0n, pieceCount: 0 } }));
    assert.equal((await stream.ended).code, status.OK);
    assert.deepEqual(scheduler.streamMessages("p-empty").map((m) => m.request?.$case),
      ["registerPeerRequest", "downloadPeerStartedRequest", "downloadPeerFinishedRequest"]);
  });

  test("a sized register with parents gets full, valid Peers that a reschedule can echo", async (t) => {
    const ownHostParent = { ...PARENT, peerId: "own", hostId: HOST_ID };
    const { scheduler, client } = await setUp(t, [ownHostParent, PARENT]);
    await announceHost(client);
    const stream = openStream(client);
    stream.send(register("p-normal", sized));
    const first = await stream.nextResponse();
    assert.equal(first?.response?.$case, "normalTaskResponse");
    const parents = first.response.value.candidateParents;
    assert.deepEqual(parents.map((p) => p.id), [PARENT.peerId], "the child's own host is never a parent");
    assert.equal(validatePeer(parents[0]!), undefined);
    assert.equal(parents[0]!.host?.ip, PARENT.ip);
    assert.equal(parents[0]!.host?.port, PARENT.port);
    assert.equal(parents[0]!.host?.downloadPort, PARENT.port);
    assert.equal(parents[0]!.task?.contentLength, 12n * MIB);
    assert.equal(parents[0]!.task?.pieceCount, 3);
    stream.send(pieceFinished("p-normal", 0));
    stream.send(peerMessage("p-normal", { $case: "reschedulePeerRequest", value: { candidateParents: parents } }));
    assert.equal(caseOf(await stream.nextResponse()), "needBackToSourceResponse", "the only parent is now blocked");
    stream.send(peerMessage("p-normal", { $case: "downloadPeerFinishedRequest", value: { contentLength: 0n, pieceCount: 0 } }));
    assert.equal((await stream.ended).code, status.OK);
    assert.equal(stream.responses.length, 2, "exactly one answer per register and per reschedule");
    assert.equal(scheduler.piecesFinished(), 1);
  });

  test("a temporary piece failure blocks that parent for the next reschedule", async (t) => {
    const other = { ...PARENT, peerId: "127.0.0.3-seed-1", hostId: "127.0.0.3-seed", ip: "127.0.0.3" };
    const { client } = await setUp(t, [PARENT, other]);
    await announceHost(client);
    const stream = openStream(client);
    stream.send(register("p-fail", sized));
    await stream.nextResponse();
    stream.send(peerMessage("p-fail", { $case: "downloadPieceFailedRequest", value: { pieceNumber: 1, parentId: PARENT.peerId, temporary: true } }));
    stream.send(peerMessage("p-fail", { $case: "reschedulePeerRequest", value: { candidateParents: [] } }));
    const next = await stream.nextResponse();
    assert.equal(next?.response?.$case, "normalTaskResponse");
    assert.deepEqual(next.response.value.candidateParents.map((p) => p.id), [other.peerId]);
    stream.end();
    assert.equal((await stream.ended).code, status.OK, "client half-close ends the stream OK");
  });

  test("a piece without cost ends the stream InvalidArgument", async (t) => {
    const { client } = await setUp(t, [PARENT]);
    await announceHost(client);
    const stream = openStream(client);
    stream.send(register("p-nocost", sized));
    await stream.nextResponse();
    stream.send(pieceFinished("p-nocost", 0, false));
    const end = await stream.ended;
    assert.equal(end.code, status.INVALID_ARGUMENT);
    assert.match(end.details, /Piece\.Cost: value is required/);
  });

  test("a reused peer id ends Internal; a message for an unknown peer ends NotFound", async (t) => {
    const { client } = await setUp(t);
    await announceHost(client);
    const first = openStream(client);
    first.send(register("p-dup", sized));
    assert.equal(caseOf(await first.nextResponse()), "needBackToSourceResponse", "no parents → back to source");
    const second = openStream(client);
    second.send(register("p-dup", sized));
    assert.equal((await second.ended).code, status.INTERNAL);
    const third = openStream(client);
    third.send(peerMessage("p-nobody", { $case: "downloadPeerStartedRequest", value: {} }));
    assert.deepEqual(await third.ended, { code: status.NOT_FOUND, details: "peer p-nobody not found" });
    first.cancel();
  });

  test("DeleteHost of an unknown host is NotFound, DeletePeer of an unknown peer is OK", async (t) => {
    const { scheduler, client } = await setUp(t);
    const md = (): [Metadata, { deadline: Date }] => [new Metadata(), { deadline: deadlineIn(2000) }];
    const deleteHost = await unary((cb) => client.deleteHost({ hostId: "nobody" }, ...md(), cb));
    assert.equal(deleteHost.error?.code, status.NOT_FOUND);
    const deletePeer = await unary((cb) => client.deletePeer({ hostId: "h", taskId: "t", peerId: "nobody" }, ...md(), cb));
    assert.equal(deletePeer.error, undefined);
    assert.deepEqual(scheduler.events.map((e) => e.rpc), ["DeleteHost", "DeletePeer"]);
    const badHost = await unary((cb) => client.announceHost({ host: { ...childHost(), port: 80 } }, ...md(), cb));
    assert.equal(badHost.error?.code, status.INVALID_ARGUMENT);
  });
});

describe("fake scheduler: fault switches on the same address", () => {
  test("health: '' SERVING, other names NotFound; connectionCount counts TCP connections", async (t) => {
    const { scheduler, clients } = await setUp(t);
    const before = scheduler.connectionCount();
    assert.deepEqual(await healthCheck(scheduler.addr, clients), { response: ServingStatus.SERVING });
    const unknown = await healthCheck(scheduler.addr, clients, 2000, "scheduler.v2.Scheduler");
    assert.equal(unknown.error?.code, status.NOT_FOUND);
    assert.equal(unknown.error?.details, "unknown service");
    assert.equal(scheduler.connectionCount() - before, 2);
  });

  test("refuse: connect is refused; heal listens again on the same port", async (t) => {
    const { scheduler, clients } = await setUp(t);
    await scheduler.refuse();
    assert.equal(await tcpConnect(scheduler.port), "ECONNREFUSED");
    assert.equal((await healthCheck(scheduler.addr, clients)).error?.code, status.UNAVAILABLE);
    await scheduler.heal();
    assert.deepEqual(await healthCheck(scheduler.addr, clients), { response: ServingStatus.SERVING });
  });

  test("blackhole: a 300 ms health check hits DEADLINE_EXCEEDED, even on an open connection", async (t) => {
    const { scheduler, clients } = await setUp(t);
    const client = track(new HealthClient(scheduler.addr, credentials.createInsecure(), OWN_CONNECTION), clients);
    // Answers expected: the hang guard as deadline (the first call dials). Expected to hang:
    // 300 ms on the open connection, 2 s on a new one (a cold dial on a loaded machine has
    // taken over 300 ms, and the connection must have been accepted before the deadline).
    const check = (ms: number) => unary<{ status: ServingStatus }>((cb) => client.check({ service: "" }, new Metadata(), { deadline: deadlineIn(ms) }, cb));
    assert.equal((await check(HANG_GUARD_MS)).response?.status, ServingStatus.SERVING);
    const accepted = scheduler.connectionCount();
    scheduler.blackhole();
    assert.equal((await check(300)).error?.code, status.DEADLINE_EXCEEDED, "open connection frozen");
    assert.equal((await healthCheck(scheduler.addr, clients, 2000)).error?.code, status.DEADLINE_EXCEEDED, "new connection held");
    assert.equal(scheduler.connectionCount(), accepted + 1, "the held connection was accepted");
    await scheduler.heal();
    assert.equal((await check(HANG_GUARD_MS)).response?.status, ServingStatus.SERVING, "thawed connection works again");
  });

  test("notServing and unavailable, then heal", async (t) => {
    const { scheduler, client, clients } = await setUp(t);
    scheduler.notServing();
    assert.deepEqual(await healthCheck(scheduler.addr, clients), { response: ServingStatus.NOT_SERVING });
    await scheduler.heal();
    scheduler.unavailable();
    assert.equal((await healthCheck(scheduler.addr, clients)).error?.code, status.UNAVAILABLE);
    assert.equal((await announceHost(client)).error?.code, status.UNAVAILABLE);
    const stream = openStream(client);
    assert.equal((await stream.ended).code, status.UNAVAILABLE);
    await scheduler.heal();
    assert.equal((await announceHost(client)).error, undefined);
  });

  test("dieAfterPieces(2): the stream breaks after 2 pieces and new connections are refused", async (t) => {
    const { scheduler, client } = await setUp(t, [PARENT]);
    await announceHost(client);
    scheduler.dieAfterPieces(2);
    const stream = openStream(client);
    stream.send(register("p-die", sized));
    await stream.nextResponse();
    for (const number of [0, 1, 2]) stream.send(pieceFinished("p-die", number));
    assert.equal((await stream.ended).code, status.UNAVAILABLE);
    assert.equal(scheduler.piecesFinished(), 2);
    assert.equal(scheduler.streamMessages("p-die").filter((m) => m.request?.$case === "downloadPieceFinishedRequest").length, 2);
    assert.equal(await tcpConnect(scheduler.port), "ECONNREFUSED");
  });

  test("silentAfterPieces(1): no reschedule answer, no stream end, no health answer; heal restores new calls", async (t) => {
    const { scheduler, client, clients } = await setUp(t, [PARENT]);
    await announceHost(client);
    scheduler.silentAfterPieces(1);
    const stream = openStream(client);
    stream.send(register("p-silent", sized));
    assert.equal(caseOf(await stream.nextResponse()), "normalTaskResponse");
    stream.send(pieceFinished("p-silent", 0));
    stream.send(peerMessage("p-silent", { $case: "reschedulePeerRequest", value: { candidateParents: [] } }));
    stream.send(peerMessage("p-silent", { $case: "downloadPeerFinishedRequest", value: { contentLength: 0n, pieceCount: 0 } }));
    // Silent, not deaf: once the fake has recorded all four messages, what it sent is final.
    await waitFor("the fake to record 4 messages", () => scheduler.streamMessages("p-silent").length === 4);
    assert.deepEqual(scheduler.responses("p-silent").map(caseOf), ["normalTaskResponse"], "no answer after the first piece");
    assert.deepEqual(scheduler.events.filter((e) => e.rpc === "AnnouncePeer.end"), [], "the stream is never ended");
    assert.equal(stream.responses.length, 1);
    assert.equal((await healthCheck(scheduler.addr, clients, 300)).error?.code, status.DEADLINE_EXCEEDED);
    await scheduler.heal();
    assert.deepEqual(await healthCheck(scheduler.addr, clients), { response: ServingStatus.SERVING });
    stream.cancel();
  });

  test("slow(ms) delays answers: a deadline shorter than the delay expires", async (t) => {
    const { scheduler, clients } = await setUp(t);
    scheduler.slow(400);
    assert.equal((await healthCheck(scheduler.addr, clients, 150)).error?.code, status.DEADLINE_EXCEEDED);
    assert.deepEqual(await healthCheck(scheduler.addr, clients, HANG_GUARD_MS), { response: ServingStatus.SERVING });
    // heal() lifts the delay: one far beyond the hang guard, so an answer at all shows it
    // (not an answer within 150 ms, which a cold dial on a loaded machine can miss).
    scheduler.slow(10 * HANG_GUARD_MS);
    await scheduler.heal();
    assert.deepEqual(await healthCheck(scheduler.addr, clients, HANG_GUARD_MS), { response: ServingStatus.SERVING });
  });
});

describe("fake manager", () => {
  const request = (patch: Partial<ListSchedulersRequest> = {}): ListSchedulersRequest =>
    ({ ...ListSchedulersRequest.fromPartial({ sourceType: SourceType.PEER_SOURCE, hostname: "child", ip: "127.0.0.1" }), ...patch });

  async function list(addr: string, clients: Client[], req: ListSchedulersRequest): Promise<Outcome<ListSchedulersResponse>> {
    const client = track(new ManagerClient(addr, credentials.createInsecure(), OWN_CONNECTION), clients);
    return unary((cb) => client.listSchedulers(req, new Metadata(), { deadline: deadlineIn(2000) }, cb));
  }

  test("ListSchedulers answers active schedulers with JSON blobs; a bad hostname is InvalidArgument; stop → unreachable", async (t) => {
    const clients: Client[] = [];
    const manager = await startFakeManager({ schedulers: () => [
      { addr: "127.0.0.1:8002", clusterId: 2 },
      { addr: "127.0.0.1:8003", clusterId: 2, state: "inactive" },
    ] });
    t.after(async () => {
      for (const each of clients) each.close();
      await manager.stop();
    });
    const ok = await list(manager.addr, clients, request());
    const schedulers = ok.response?.schedulers ?? [];
    assert.deepEqual(schedulers.map((s) => [s.ip, s.port, s.state, s.schedulerClusterId]), [["127.0.0.1", 8002, "active", 2n]]);
    assert.deepEqual(JSON.parse(schedulers[0]!.features.toString()), ["schedule"]);
    assert.equal(JSON.parse(schedulers[0]!.schedulerCluster!.config.toString()).candidate_parent_limit, 4);
    const byCluster = await list(manager.addr, clients, request({ schedulerClusterId: 2n }));
    assert.equal(byCluster.response?.schedulers.length, 2, "a cluster id returns every state");
    const bad = await list(manager.addr, clients, request({ hostname: "my_host" }));
    assert.equal(bad.error?.code, status.INVALID_ARGUMENT);
    assert.deepEqual(manager.requests().map((r) => r.hostname), ["child", "child", "my_host"]);
    await manager.stop();
    assert.equal((await list(manager.addr, clients, request())).error?.code, status.UNAVAILABLE);
    assert.equal(await tcpConnect(Number(manager.addr.split(":")[1])), "ECONNREFUSED");
  });

  test("startCluster: the manager lists every scheduler; an inactive one drops out", async (t) => {
    const clients: Client[] = [];
    const cluster = await startCluster({ schedulers: 2, parents: () => [PARENT] });
    t.after(async () => {
      for (const each of clients) each.close();
      await cluster.stop();
    });
    const all = await list(cluster.manager.addr, clients, request());
    assert.deepEqual(all.response?.schedulers.map((s) => `${s.ip}:${s.port}`), cluster.schedulerAddrs());
    cluster.setSchedulerState(0, "inactive");
    const rest = await list(cluster.manager.addr, clients, request());
    assert.deepEqual(rest.response?.schedulers.map((s) => `${s.ip}:${s.port}`), [cluster.schedulers[1]!.addr]);
    assert.deepEqual(await healthCheck(cluster.schedulers[1]!.addr, clients), { response: ServingStatus.SERVING });
  });
});
