// The P2P phase of one download, given the task's selector: offer our pieces on the
// host's upload servers and hold the session. Returns what happened as a value; the run
// decides whether the origin takes over.
import type { EventEmitter } from "node:events";
import { Priority, TaskType, type Download, type ObjectStorage } from "../gen/common/v2/common.js";
import type { RunConfig } from "../config/types.js";
import type { SchedulerSelector } from "../switching/selector.js";
import { isObjectStorageUrl } from "../transport/s3-location.js";
import type { DownloadEvents } from "./events.js";
import type { RunParts } from "./parts.js";
import type { PieceLedger } from "./piece-ledger.js";
import { P2PSession } from "./session.js";

export interface P2PTask {
  taskId: string;
  /** Final URL after redirects (what the origin pieces are fetched from). */
  url: string;
  contentLength: number;
  pieceLength: number;
  ledger: PieceLedger;
}

export interface P2POutcome {
  /** The last scheduler that answered a register. */
  used: string | null;
  peerId: string | null;
  /** Every piece is here (through parents, or the scheduler's back-to-source). */
  complete: boolean;
  backToSource: boolean;
  /** Why the rest must come from the origin when not complete. */
  reason: string;
  /** The scheduler asked for back-to-source while it is disabled: `reason` says so already. */
  backToSourceRefused: boolean;
}

export async function runP2P(parts: RunParts, task: P2PTask, selector: SchedulerSelector, signal: AbortSignal, events: EventEmitter<DownloadEvents>): Promise<P2POutcome> {
  const cfg = parts.config;
  const upload = await parts.host.uploads();
  const withdraw = upload.serve(task.taskId, task.ledger);
  const session = new P2PSession({
    selector,
    clients: parts.clients,
    host: parts.host,
    vortex: parts.vortex,
    parentClients: parts.parentClients,
    clock: parts.clock,
    timer: parts.timer,
    deadline: parts.deadline,
    taskId: task.taskId,
    url: task.url,
    contentLength: task.contentLength,
    disableBackToSource: cfg.disableBackToSource,
    download: registerDownload(cfg, task, parts.host.identity.ip),
    ledger: task.ledger,
    origin: parts.origin,
    concurrency: cfg.download.concurrentPieceCount,
    pieceTimeoutMs: cfg.download.pieceTimeoutMs,
    lowSpeedLimit: cfg.download.lowSpeedLimit,
    scheduleTimeoutMs: cfg.scheduler.scheduleTimeoutMs,
    connectTimeoutMs: cfg.scheduler.connectTimeoutMs,
    signal,
    onSwitch: (from, to, reason) => events.emit("schedulerSwitch", { from, to, reason }),
    notice: (m) => events.emit("notice", m),
    debug: (m) => events.emit("debug", m),
  });
  try {
    const result = await session.run();
    return {
      used: result.used ?? null,
      peerId: result.peerIds.at(-1) ?? null,
      complete: result.complete,
      backToSource: result.backToSource,
      reason: result.reason ?? "scheduler could not finish the download",
      backToSourceRefused: result.backToSourceRefused === true,
    };
  } finally {
    await session.leave().catch(() => undefined);
    withdraw();
  }
}

/** The Download sent in RegisterPeerRequest: what dfdaemon sends, with the actual_* sizes filled. */
function registerDownload(cfg: RunConfig, task: P2PTask, ip: string): Download {
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
    objectStorage: objectStorageOf(cfg),
    concurrentPieceCount: cfg.download.concurrentPieceCount,
    overwrite: cfg.overwrite,
    contentForCalculatingTaskId: cfg.contentForCalculatingTaskId,
    actualPieceLength: BigInt(task.pieceLength),
    actualContentLength: BigInt(task.contentLength),
    actualPieceCount: BigInt(task.ledger.total),
    enableTaskIdBasedBlobDigest: false,
    metadataOnly: false,
  };
}

/** Upstream dfget sends the storage settings for object-storage URLs, so that seed peers
 *  can fetch the object themselves; nothing for http(s). */
function objectStorageOf(cfg: RunConfig): ObjectStorage | undefined {
  if (!isObjectStorageUrl(cfg.url)) return undefined;
  const s = cfg.storage;
  return {
    region: s.region,
    endpoint: s.endpoint,
    accessKeyId: s.accessKeyId,
    accessKeySecret: s.accessKeySecret,
    sessionToken: s.sessionToken,
    insecureSkipVerify: s.insecureSkipVerify,
  };
}
