// The composition root: the one place that builds collaborators and hands them to a
// DownloadRun. Process-wide parts are built once and shared by every run in the process;
// a run's own parts (origin client, scheduler list, selector) are built per run.
// The cluster side (gRPC, protobuf, upload servers, switching) lives in compose-cluster.ts
// and is imported only when the config names a scheduler or a manager: a direct download
// starts in a fraction of the time and memory without it.
import type { ResolvedSchedulers } from "../cluster/resolve.js";
import { systemClock, systemTimer, type Clock } from "../clock.js";
import type { RunConfig } from "../config/types.js";
import type { HostIdentity } from "../engine/peer-host.js";
import type { RunParts } from "../engine/parts.js";
import { NoSchedulerError } from "../errors.js";
import { OriginClient } from "../transport/origin.js";
import { isS3Url } from "../transport/s3-location.js";
import type { S3Client } from "../transport/s3.js";

/** The parts of a run that only a cluster needs. */
export type ClusterRunParts = Pick<RunParts, "schedulers" | "selectorFor" | "vortex" | "clients" | "parentClients" | "host">;

/** What every run in this process shares. close() once, after the last run. */
export interface ProcessParts {
  clock: Clock;
  /** The cluster side of one run, bounded by the run's deadline. */
  clusterParts(config: RunConfig, deadline: number): ClusterRunParts;
  /** DeleteHost where we were announced, stop the upload servers, close channels. */
  close(): Promise<void>;
}

/** A scheduler or a manager is configured; without either the run goes straight to the origin. */
export function usesCluster(config: RunConfig): boolean {
  return config.scheduler.addrs.length > 0 || config.manager.addrs.length > 0;
}

export async function processPartsFor(config: RunConfig, version: string, clock: Clock = systemClock): Promise<ProcessParts> {
  if (!usesCluster(config)) return noClusterParts(clock);
  const { clusterProcessParts } = await import("./compose-cluster.js");
  return clusterProcessParts(config, version, clock);
}

/**
 * The back-to-source client for a run's URL: S3 (signed) for s3://, HTTP otherwise. The
 * S3 side (the AWS signer, the XML parser) is imported only for an s3:// URL.
 */
export async function originFor(config: RunConfig, version: string): Promise<OriginClient | S3Client> {
  if (isS3Url(config.url)) return (await import("../transport/s3-origin.js")).s3ClientFor(config, version);
  return new OriginClient({
    headers: config.headers,
    connectTimeoutMs: config.scheduler.connectTimeoutMs,
    readTimeoutMs: config.download.pieceTimeoutMs,
    userAgent: `dfget/${version}`,
    connections: config.download.concurrentPieceCount,
    lowSpeedLimit: config.download.lowSpeedLimit,
  });
}

/**
 * One run's parts around its origin client (originFor); the caller closes `origin` after
 * the run. A batch passes one S3 client for all its s3:// files (its connections are
 * reused), and closes it at the end.
 */
export function runPartsFor(config: RunConfig, shared: ProcessParts, origin: OriginClient | S3Client): RunParts & { origin: OriginClient | S3Client } {
  const deadline = shared.clock.now() + config.timeoutMs;
  return {
    config,
    clock: shared.clock,
    timer: systemTimer,
    deadline,
    ...shared.clusterParts(config, deadline),
    origin,
  };
}

/**
 * No scheduler, no manager: the list resolves to "none" and the engine goes to the origin
 * without touching anything else here. The rest refuses loudly if ever asked.
 */
function noClusterParts(clock: Clock): ProcessParts {
  const none: ResolvedSchedulers = { source: "none", addrs: [], resolved: {}, unresolved: [] };
  const unconfigured = (): never => {
    throw new NoSchedulerError("no Dragonfly cluster configured");
  };
  const cluster: ClusterRunParts = {
    schedulers: { resolve: async () => none, refresh: async () => none },
    selectorFor: async () => unconfigured(),
    vortex: async () => unconfigured(),
    clients: { open: unconfigured, drop: () => undefined },
    parentClients: { open: unconfigured },
    host: {
      get identity(): HostIdentity {
        return unconfigured();
      },
      uploads: async () => unconfigured(),
      announceTo: async () => unconfigured(),
      forget: () => undefined,
    },
  };
  return { clock, clusterParts: () => cluster, close: async () => undefined };
}
