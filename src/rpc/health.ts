// The availability probe (Kraken's `Checker.Check(ctx, addr)`): dial the address and ask
// grpc.health.v1.Health/Check, both under one deadline. Failures are classified from
// connectivity states, errno codes and gRPC status codes — never from message text.
//
// Dial first, classify later: grpc-js reports a refused connection only as
// TRANSIENT_FAILURE (and a later call as UNAVAILABLE with the errno in free text). When the
// channel reaches TRANSIENT_FAILURE we open one raw TCP connection to the same address
// under the remaining deadline and read its errno: ECONNREFUSED → "refused". A healthy
// address thus costs no extra connection, and a refused one costs one more local SYN/RST
// (about 1 ms on loopback; the refused e2e test prints the measured total).
import { connect as tcpConnect } from "node:net";
import { performance } from "node:perf_hooks";
import * as grpc from "@grpc/grpc-js";
import { HealthClient, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health.js";
import { tryParseHostPort } from "../net/address.js";
import { ChannelPool, deadlineIn, describeGrpcError, grpcCodeOf, minDeadline, remainingMs, type Deadline } from "./channels.js";

export type ProbeOutcome = "ok" | "refused" | "timeout" | "not-serving" | "unavailable";

export interface ProbeResult {
  addr: string;
  outcome: ProbeOutcome;
  /** Wall time the probe took, milliseconds (monotonic clock). */
  ms: number;
  /** The step that decided the outcome: the dial (TCP, TLS, HTTP/2) or the health Check. */
  phase: "connect" | "health";
  /** gRPC status code when the Check call failed with one. */
  grpcCode?: number;
  /** errno of the raw TCP classification (ECONNREFUSED, EHOSTUNREACH, ENOTFOUND...). */
  errno?: string;
  detail?: string;
}

export interface ProbeOptions {
  credentials: grpc.ChannelCredentials;
  /** Dial + Check must finish within this many ms (--connect-timeout). */
  timeoutMs: number;
  /** An outer absolute deadline (the run's); the earlier of the two applies. */
  deadline?: Deadline;
  /** Health service name; Go schedulers and managers answer SERVING for "" only. */
  service?: string;
  /**
   * Where the channel lives. When given, a passing probe leaves its READY channel in the
   * pool for the caller's next client (AnnouncePeer runs on the same connection) and a
   * failing one closes it. Without a pool the probe's channel is always closed.
   */
  pool?: ChannelPool;
}

/** A probe bound to its options, as switching/ and cluster/ take it. */
export type Probe = (addr: string) => Promise<ProbeResult>;

type Verdict = Omit<ProbeResult, "addr" | "ms">;

/** Check call failures by gRPC status code. Codes not listed → "unavailable". */
const CHECK_ERROR_OUTCOME: Partial<Record<grpc.status, ProbeOutcome>> = {
  [grpc.status.DEADLINE_EXCEEDED]: "timeout",
  // grpc-go's health server answers NotFound "unknown service" for other names.
  [grpc.status.NOT_FOUND]: "not-serving",
  // No health service registered at all: the address answers gRPC but cannot vouch for itself.
  [grpc.status.UNIMPLEMENTED]: "not-serving",
  [grpc.status.UNAVAILABLE]: "unavailable",
};

export async function probe(addr: string, opts: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const deadline = minDeadline(opts.deadline, deadlineIn(opts.timeoutMs));
  const pool = opts.pool ?? new ChannelPool();
  let verdict: Verdict;
  try {
    verdict = await dialAndCheck(pool, addr, opts, deadline);
  } catch (err) {
    // grpc-js throws synchronously for a target it cannot parse.
    verdict = { outcome: "unavailable", phase: "connect", detail: describeGrpcError(err) };
  }
  if (verdict.outcome !== "ok") pool.close(addr);
  if (!opts.pool) pool.closeAll();
  return { addr, ms: Math.round((performance.now() - started) * 10) / 10, ...verdict };
}

async function dialAndCheck(pool: ChannelPool, addr: string, opts: ProbeOptions, deadline: Deadline): Promise<Verdict> {
  const hostPort = tryParseHostPort(addr);
  if (!hostPort) return { outcome: "unavailable", phase: "connect", detail: `not a host:port address: ${addr}` };

  const dial = await waitForConnection(pool.channel(addr, opts.credentials), deadline);
  if (dial === "timeout") {
    return { outcome: "timeout", phase: "connect", detail: `not connected within ${opts.timeoutMs} ms` };
  }
  if (dial === "shutdown") return { outcome: "unavailable", phase: "connect", detail: "channel closed while dialling" };
  if (dial === "transient-failure") {
    const tcp = await classifyTcp(hostPort.host, hostPort.port, deadline);
    if (tcp.kind === "timeout") {
      return { outcome: "timeout", phase: "connect", detail: `no TCP connection within ${opts.timeoutMs} ms` };
    }
    if (tcp.kind === "connected") {
      return { outcome: "unavailable", phase: "connect", detail: "TCP connects but the TLS/HTTP/2 handshake failed" };
    }
    const outcome: ProbeOutcome = tcp.errno === "ECONNREFUSED" ? "refused" : "unavailable";
    return { outcome, phase: "connect", errno: tcp.errno, detail: `connect: ${tcp.errno}` };
  }

  const service = opts.service ?? "";
  const health = pool.openClient(HealthClient, addr, opts.credentials);
  const answer = await check(health, service, deadline);
  if ("status" in answer) {
    if (answer.status === HealthCheckResponse_ServingStatus.SERVING) return { outcome: "ok", phase: "health" };
    const name = HealthCheckResponse_ServingStatus[answer.status] ?? String(answer.status);
    return { outcome: "not-serving", phase: "health", detail: `health ${name} (service "${service}")` };
  }
  const code = grpcCodeOf(answer.error);
  const outcome = (code === undefined ? undefined : CHECK_ERROR_OUTCOME[code as grpc.status]) ?? "unavailable";
  const detail = code === grpc.status.DEADLINE_EXCEEDED
    ? `health check unanswered within ${opts.timeoutMs} ms`
    : `health ${describeGrpcError(answer.error)}`;
  return { outcome, phase: "health", detail, ...(code === undefined ? {} : { grpcCode: code }) };
}

type DialState = "ready" | "transient-failure" | "timeout" | "shutdown";

/**
 * Kicks the channel out of IDLE and follows its state until READY, TRANSIENT_FAILURE,
 * SHUTDOWN or the deadline. Unlike `client.waitForReady`, it returns at the first
 * TRANSIENT_FAILURE instead of waiting out the reconnect backoff.
 */
function waitForConnection(channel: grpc.Channel, deadline: Deadline): Promise<DialState> {
  return new Promise((resolve) => {
    const step = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return resolve("ready");
      if (state === grpc.connectivityState.TRANSIENT_FAILURE) return resolve("transient-failure");
      if (state === grpc.connectivityState.SHUTDOWN) return resolve("shutdown");
      if (remainingMs(deadline) === 0) return resolve("timeout");
      // grpc-js calls back with an error once the deadline passes.
      channel.watchConnectivityState(state, deadline, (err?: Error) => (err ? resolve("timeout") : step()));
    };
    step();
  });
}

type HealthAnswer = { status: HealthCheckResponse_ServingStatus } | { error: unknown };

function check(client: HealthClient, service: string, deadline: Deadline): Promise<HealthAnswer> {
  return new Promise((resolve) => {
    client.check({ service }, new grpc.Metadata(), { deadline }, (error, response) => {
      resolve(error ? { error } : { status: response.status });
    });
  });
}

type TcpVerdict = { kind: "connected" } | { kind: "timeout" } | { kind: "error"; errno: string };

/** One raw TCP connect under the deadline, closed at once; only its errno is wanted. */
function classifyTcp(host: string, port: number, deadline: Deadline): Promise<TcpVerdict> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const finish = (verdict: TcpVerdict): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on("error", () => undefined); // a late error after destroy must not throw
      socket.destroy();
      resolve(verdict);
    };
    // setTimeout overflows above 2^31-1 ms and would fire at once.
    const timer = setTimeout(() => finish({ kind: "timeout" }), Math.min(remainingMs(deadline), 2 ** 31 - 1));
    socket.once("connect", () => finish({ kind: "connected" }));
    socket.once("error", (err: NodeJS.ErrnoException) => finish({ kind: "error", errno: err.code ?? "EUNKNOWN" }));
  });
}

