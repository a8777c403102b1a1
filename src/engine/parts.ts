// The parts a download is given (cli/ is the one place that builds them). Nothing in
// engine/ constructs a client, a server, a ledger or a clock of its own: a test hands in
// fakes, and a batch hands the same process-wide parts to every run.
import type { Clock, Timer } from "../clock.js";
import type { DfdaemonUploadClient } from "../gen/dfdaemon/v2/dfdaemon.js";
import type { RunConfig } from "../config/types.js";
import type { ResolvedSchedulers, SchedulerList } from "../cluster/resolve.js";
import type { SchedulerClient } from "../gen/scheduler/v2/scheduler.js";
import type { Attempt, SchedulerSelector } from "../switching/selector.js";
import type { OriginClient } from "../transport/origin.js";
import type { fetchPiece } from "../transport/vortex-client.js";
import type { PeerHost } from "./peer-host.js";

/** The origin as the engine uses it (OriginClient, or a fake in tests). */
export type OriginTransport = Pick<OriginClient, "head" | "getRangeInto" | "streamWhole">;

/** One vortex piece transfer from a parent (transport/vortex-client's fetchPiece). */
export type VortexTransport = typeof fetchPiece;

/** Scheduler stubs over shared channels (one per address, reused by probe and calls). */
export interface SchedulerClients {
  open(addr: string): SchedulerClient;
  /** The scheduler broke: close its channel so a later run dials afresh. */
  drop(addr: string): void;
}

/** Upload-service stubs for parents (SyncPieces); the caller closes each one it opened. */
export interface ParentClients {
  open(addr: string): DfdaemonUploadClient;
}

export interface SelectorHooks {
  onAttempt(attempt: Attempt): void;
  /** One line for stderr: a fallback explained, or a warning about the cooldown ledger. */
  onNotice(message: string): void;
}

export interface RunParts {
  config: RunConfig;
  /** Wall time (epoch ms): deadlines handed to gRPC, costs, progress pacing. */
  clock: Clock;
  /** Every timer of a conversation (schedule timeout, final wait) is armed on it. */
  timer: Timer;
  /** Absolute epoch-ms deadline of this run (--timeout); gRPC calls are bounded by it. */
  deadline: number;
  /** Where the schedulers are; resolved only when the download uses P2P. */
  schedulers: SchedulerList;
  /** The selector for one task over the resolved list (ring, cooldown ledger, probe). */
  selectorFor(taskId: string, list: ResolvedSchedulers, hooks: SelectorHooks): Promise<SchedulerSelector>;
  origin: OriginTransport;
  vortex: VortexTransport;
  clients: SchedulerClients;
  parentClients: ParentClients;
  /** Our host: identity, upload servers, which schedulers know us. Process-wide. */
  host: RunHost;
}

/** What a run asks of our host: PeerHost, or a stand-in when no cluster is configured. */
export type RunHost = Pick<PeerHost, "identity" | "uploads" | "announceTo" | "forget">;
