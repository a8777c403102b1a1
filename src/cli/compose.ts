// The composition root: the one place that builds collaborators and hands them to a
// DownloadRun. Process-wide parts (our host with its upload servers, the scheduler
// channels, the cooldown ledger) are built once and shared by every run in the process;
// a run's own parts (scheduler list, selector, origin client) are built per run.
import type { ResolvedSchedulers, SchedulerList } from "../cluster/resolve.js";
import { systemClock, systemTimer, type Clock } from "../clock.js";
import type { RunConfig } from "../config/types.js";
import { localIdentity } from "../engine/host.js";
import type { RunParts, SchedulerClients } from "../engine/parts.js";
import { PeerHost } from "../engine/peer-host.js";
import * as grpc from "@grpc/grpc-js";
import { DfdaemonUploadClient } from "../gen/dfdaemon/v2/dfdaemon.js";
import { SchedulerClient } from "../gen/scheduler/v2/scheduler.js";
import { ChannelPool, createChannelCredentials } from "../rpc/channels.js";
import { probe } from "../rpc/health.js";
import { startUploadServer } from "../serve/upload.js";
import { CooldownLedger } from "../switching/cooldown.js";
import { SchedulerSelector, type CandidateAddrs } from "../switching/selector.js";
import { hostIdOf } from "../task/task-id.js";
import { OriginClient } from "../transport/origin.js";
import { isS3Url } from "../transport/s3-location.js";
import { s3ClientFor } from "../transport/s3-origin.js";
import type { S3Client } from "../transport/s3.js";
import { fetchPiece } from "../transport/vortex-client.js";
import { schedulerListFor } from "./cluster-plan.js";

/** Parents are plain-text peers; a failed SyncPieces is handled by the fetcher, never retried by grpc-js. */
const PARENT_CHANNEL_OPTIONS: grpc.ChannelOptions = { "grpc.enable_retries": 0, "grpc.max_receive_message_length": -1 };

/** What every run in this process shares. close() once, after the last run. */
export interface ProcessParts {
  clock: Clock;
  host: PeerHost;
  clients: SchedulerClients;
  pool: ChannelPool;
  /** The cooldown ledger, loaded from the state dir on first use. */
  ledger(notice: (message: string) => void): Promise<CooldownLedger>;
  /** DeleteHost where we were announced, stop the upload servers, close channels. */
  close(): Promise<void>;
}

export function processPartsFor(config: RunConfig, version: string, clock: Clock = systemClock): ProcessParts {
  const pool = new ChannelPool();
  const credentials = createChannelCredentials(config.scheduler.tls, "scheduler");
  const clients: SchedulerClients = {
    open: (addr) => pool.openClient(SchedulerClient, addr, credentials),
    drop: (addr) => pool.close(addr),
  };
  const { ip, hostname } = localIdentity(config.host);
  const host = new PeerHost({
    identity: { hostId: hostIdOf(ip, hostname), hostname, ip, idc: config.host.idc, location: config.host.location, version },
    clients,
    clock,
    startUpload: () =>
      startUploadServer({
        bindIp: ip.startsWith("127.") ? "127.0.0.1" : "0.0.0.0",
        advertiseIp: ip,
        grpcPort: config.upload.port,
        tcpPort: config.upload.tcpPort,
      }),
  });
  let ledger: Promise<CooldownLedger> | undefined;
  return {
    clock,
    host,
    clients,
    pool,
    ledger(notice) {
      ledger ??= CooldownLedger.load(config.stateDir, clock, notice);
      return ledger;
    },
    async close() {
      await host.close().catch(() => undefined);
      pool.closeAll();
    },
  };
}

/** The back-to-source client for a run's URL: S3 (signed) for s3://, HTTP otherwise. */
export function originFor(config: RunConfig, version: string): OriginClient | S3Client {
  if (isS3Url(config.url)) return s3ClientFor(config, version);
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
 * One run's parts; the caller closes `origin` after the run. A batch passes one origin
 * client for all its files (its connections are reused), and closes it at the end.
 */
export function runPartsFor(config: RunConfig, version: string, shared: ProcessParts, origin?: OriginClient | S3Client): RunParts & { origin: OriginClient | S3Client } {
  const deadline = shared.clock.now() + config.timeoutMs;
  const credentials = createChannelCredentials(config.scheduler.tls, "scheduler");
  return {
    config,
    clock: shared.clock,
    timer: systemTimer,
    deadline,
    schedulers: schedulerListFor(config, version, undefined, deadline),
    async selectorFor(taskId, list, hooks) {
      return new SchedulerSelector({
        taskId,
        source: candidateAddrs(this.schedulers, list),
        ledger: await shared.ledger(hooks.onNotice),
        probe: (addr) => probe(addr, { credentials, timeoutMs: config.scheduler.connectTimeoutMs, deadline, pool: shared.pool }),
        clock: shared.clock,
        cooldownIntervalMs: config.scheduler.cooldownIntervalMs,
        maxAttempts: config.scheduler.maxAttempts,
        disableBackToSource: config.disableBackToSource,
        hedge: { delayMs: config.scheduler.hedgeDelayMs, timer: systemTimer },
        onAttempt: hooks.onAttempt,
        onNotice: hooks.onNotice,
      });
    },
    origin: origin ?? originFor(config, version),
    vortex: fetchPiece,
    clients: shared.clients,
    parentClients: { open: (addr) => new DfdaemonUploadClient(addr, grpc.credentials.createInsecure(), PARENT_CHANNEL_OPTIONS) },
    host: shared.host,
  };
}

/** The selector's view of the list: the resolved addresses, refreshed from the manager once when asked. */
function candidateAddrs(list: SchedulerList, first: ResolvedSchedulers): CandidateAddrs {
  let addrs: readonly string[] = first.addrs;
  return {
    addrs: () => addrs,
    unresolved: () => first.unresolved,
    async refresh() {
      if (first.source !== "manager" && first.source !== "cache") return undefined;
      const fresh = await list.refresh();
      if (fresh.source !== "manager") return undefined;
      if (fresh.addrs.length > 0) addrs = fresh.addrs;
      return fresh.addrs;
    },
  };
}
