// Wiring for the scheduled (P2P) part of a download: the scheduler list, the cooldown
// ledger, the selector, our upload servers and the session. Kept apart from
// download.ts so that one reads as the path of a download, this one as its plumbing.
import type { EventEmitter } from "node:events";
import type { RunConfig } from "../config/types.js";
import { NoSchedulerError } from "../errors.js";
import { Priority, TaskType, type Download } from "../gen/common/v2/common.js";
import { ChannelPool, createChannelCredentials } from "../rpc/channels.js";
import { probe } from "../rpc/health.js";
import { systemClock, type Clock } from "../clock.js";
import { CooldownLedger } from "../switching/cooldown.js";
import { SchedulerSelector } from "../switching/selector.js";
import type { DownloadEvents } from "./events.js";
import type { DownloadReport } from "./report.js";
import type { OriginClient } from "../transport/origin.js";
import type { PieceState } from "./piece-ledger.js";
import { P2PSession } from "./session.js";
import { hostIdOf } from "../task/task-id.js";
import { localIdentity } from "./host.js";
import { startUploadServer } from "../serve/upload.js";

/** Where the scheduler list comes from, resolved only when P2P is actually used. */
export interface ClusterPlan {
  resolve(): Promise<ResolvedCluster>;
}

export interface ResolvedCluster {
  /** static | manager | cache | none */
  source: string;
  addrs: readonly string[];
  warning?: string;
  /** Ask the manager again (once per run, when a whole pass failed). */
  refresh(): Promise<readonly string[] | undefined>;
}

export interface ScheduledOptions {
  config: RunConfig;
  cluster: ClusterPlan;
  version: string;
  taskId: string;
  url: string;
  contentLength: number;
  pieceLength: number;
  state: PieceState;
  origin: OriginClient;
  signal: AbortSignal;
  report: DownloadReport;
  events: EventEmitter<DownloadEvents>;
  clock?: Clock;
}

export interface ScheduledOutcome {
  complete: boolean;
  backToSource: boolean;
  reason: string;
}

export async function runScheduled(opts: ScheduledOptions): Promise<ScheduledOutcome> {
  const { config: cfg, events, report } = opts;
  const cluster = await opts.cluster.resolve();
  report.cluster.source = cluster.source;
  if (cluster.warning) {
    report.cluster.warning = cluster.warning;
    events.emit("notice", cluster.warning);
  }
  if (cluster.addrs.length === 0) {
    if (cfg.disableBackToSource) throw new NoSchedulerError("no scheduler configured or found, and back-to-source is disabled");
    const why = cluster.source === "none" ? "no Dragonfly cluster configured: downloading directly from the origin" : "the manager lists no schedulers: downloading directly from the origin";
    return { complete: false, backToSource: true, reason: why };
  }

  const clock = opts.clock ?? systemClock;
  const ledger = await CooldownLedger.load(cfg.stateDir, clock, (m) => events.emit("notice", m));
  const credentials = createChannelCredentials(cfg.scheduler.tls, "scheduler");
  const pool = new ChannelPool();
  let addrs = cluster.addrs;
  let failuresSinceLastChoice = 0;
  const selector = new SchedulerSelector({
    taskId: opts.taskId,
    source: {
      addrs: () => addrs,
      refresh: async () => {
        const fresh = await cluster.refresh();
        if (fresh && fresh.length > 0) addrs = fresh;
        return fresh;
      },
    },
    ledger,
    probe: (addr) => probe(addr, { credentials, deadlineMs: cfg.scheduler.connectTimeoutMs, pool }),
    clock,
    cooldownIntervalMs: cfg.scheduler.cooldownIntervalMs,
    maxAttempts: cfg.scheduler.maxAttempts,
    disableBackToSource: cfg.disableBackToSource,
    onAttempt: (attempt) => {
      report.scheduler.attempts.push(attempt);
      // A switch is a move past a failed scheduler to one that answered (cli.md's example:
      // owner refused, the next one used → switches: 1). Skipping a cooling one is not.
      if (attempt.outcome === "ok") {
        report.scheduler.switches += failuresSinceLastChoice;
        failuresSinceLastChoice = 0;
      } else if (attempt.outcome !== "cooling") {
        failuresSinceLastChoice++;
      }
      events.emit("attempt", attempt);
    },
  });

  const { ip, hostname } = localIdentity(cfg.host);
  const upload = await startUploadServer({
    state: opts.state,
    taskId: opts.taskId,
    bindIp: ip.startsWith("127.") ? "127.0.0.1" : "0.0.0.0",
    advertiseIp: ip,
    grpcPort: cfg.upload.port,
    tcpPort: cfg.upload.tcpPort,
  });
  const session = new P2PSession({
    selector,
    pool,
    credentials,
    host: {
      hostId: hostIdOf(ip, hostname),
      hostname,
      ip,
      idc: cfg.host.idc,
      location: cfg.host.location,
      grpcPort: upload.grpcPort,
      tcpPort: upload.tcpPort,
      version: opts.version,
    },
    taskId: opts.taskId,
    url: opts.url,
    contentLength: opts.contentLength,
    download: registerDownload(cfg, opts, ip),
    state: opts.state,
    origin: opts.origin,
    concurrency: cfg.download.concurrentPieceCount,
    pieceTimeoutMs: cfg.download.pieceTimeoutMs,
    scheduleTimeoutMs: cfg.scheduler.scheduleTimeoutMs,
    connectTimeoutMs: cfg.scheduler.connectTimeoutMs,
    signal: opts.signal,
    onSwitch: (from, to, reason) => events.emit("schedulerSwitch", { from, to, reason }),
    notice: (m) => events.emit("notice", m),
    debug: (m) => events.emit("debug", m),
  });
  try {
    const result = await session.run();
    report.peerId = result.peerIds.at(-1) ?? null;
    report.scheduler.used = result.used ?? null;
    return { complete: result.complete, backToSource: result.backToSource, reason: result.reason ?? "scheduler could not finish the download" };
  } finally {
    await session.leave().catch(() => undefined);
    await upload.close().catch(() => undefined);
    pool.closeAll();
  }
}

/** The Download sent in RegisterPeerRequest: what dfdaemon sends, with the actual_* sizes filled. */
function registerDownload(cfg: RunConfig, opts: ScheduledOptions, ip: string): Download {
  const requestHeader: Record<string, string> = {};
  for (const [name, value] of cfg.headers) requestHeader[name] = value;
  return {
    url: cfg.url,
    digest: cfg.digest,
    type: TaskType.STANDARD,
    tag: cfg.tag,
    application: cfg.application,
    priority: cfg.priority as Priority,
    filteredQueryParams: [...cfg.filteredQueryParams],
    requestHeader,
    pieceLength: cfg.pieceLength === undefined ? undefined : BigInt(cfg.pieceLength),
    timeout: { seconds: BigInt(Math.floor(cfg.timeoutMs / 1000)), nanos: (cfg.timeoutMs % 1000) * 1_000_000 },
    disableBackToSource: cfg.disableBackToSource,
    needBackToSource: false,
    certificateChain: [],
    prefetch: false,
    isPrefetch: false,
    needPieceContent: false,
    forceHardLink: false,
    remoteIp: ip,
    concurrentPieceCount: cfg.download.concurrentPieceCount,
    overwrite: cfg.overwrite,
    contentForCalculatingTaskId: cfg.contentForCalculatingTaskId,
    actualPieceLength: BigInt(opts.pieceLength),
    actualContentLength: BigInt(opts.contentLength),
    actualPieceCount: BigInt(opts.state.total),
    enableTaskIdBasedBlobDigest: false,
    metadataOnly: false,
  };
}
