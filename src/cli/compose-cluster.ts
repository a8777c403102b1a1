// The cluster side of the composition root: scheduler channels, our host with its upload
// servers, the cooldown ledger, the selector, parent clients. Loaded (with gRPC and the
// generated protobuf code) only when the config names a scheduler or a manager; a direct
// download never pays for it (compose.ts decides).
import type { ResolvedSchedulers, SchedulerList } from "../cluster/resolve.js";
import { systemTimer, type Clock } from "../clock.js";
import type { RunConfig } from "../config/types.js";
import { localIdentity } from "../engine/host.js";
import type { SchedulerClients } from "../engine/parts.js";
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
import { fetchPiece } from "../transport/vortex-client.js";
import { schedulerListFor, tlsScope } from "./cluster-plan.js";
import type { ClusterRunParts, ProcessParts } from "./compose.js";

/** Parents are plain-text peers; a failed SyncPieces is handled by the fetcher, never retried by grpc-js. */
const PARENT_CHANNEL_OPTIONS: grpc.ChannelOptions = { "grpc.enable_retries": 0, "grpc.max_receive_message_length": -1 };

/** What every run in this process shares when a cluster is configured. close() once, after the last run. */
export function clusterProcessParts(config: RunConfig, version: string, clock: Clock): ProcessParts {
  const pool = new ChannelPool();
  const credentials = createChannelCredentials(config.scheduler.tls, tlsScope(config, "scheduler"));
  const clients: SchedulerClients = {
    open: (addr) => pool.openClient(SchedulerClient, addr, credentials),
    drop: (addr) => pool.close(addr),
  };
  const { ip, hostname } = localIdentity(config.host);
  const host = new PeerHost({
    identity: { hostId: hostIdOf(ip, hostname), hostname, ip, idc: config.host.idc, location: config.host.location, version },
    clients,
    clock,
    startUpload: () => startUploads(config, ip),
  });
  let ledgerLoad: Promise<CooldownLedger> | undefined;
  const ledger = (notice: (message: string) => void): Promise<CooldownLedger> => {
    ledgerLoad ??= CooldownLedger.load(config.stateDir, clock, notice);
    return ledgerLoad;
  };
  return {
    clock,
    clusterParts(runConfig, deadline): ClusterRunParts {
      const schedulerCredentials = createChannelCredentials(runConfig.scheduler.tls, tlsScope(runConfig, "scheduler"));
      const schedulers = schedulerListFor(runConfig, version, undefined, deadline);
      return {
        schedulers,
        async selectorFor(taskId, list, hooks) {
          return new SchedulerSelector({
            taskId,
            source: candidateAddrs(schedulers, list),
            ledger: await ledger(hooks.onNotice),
            probe: (addr) => probe(addr, { credentials: schedulerCredentials, timeoutMs: runConfig.scheduler.connectTimeoutMs, deadline, pool }),
            clock,
            cooldownIntervalMs: runConfig.scheduler.cooldownIntervalMs,
            maxAttempts: runConfig.scheduler.maxAttempts,
            disableBackToSource: runConfig.disableBackToSource,
            hedge: { delayMs: runConfig.scheduler.hedgeDelayMs, timer: systemTimer },
            onAttempt: hooks.onAttempt,
            onNotice: hooks.onNotice,
          });
        },
        vortex: fetchPiece,
        clients,
        parentClients: { open: (addr) => new DfdaemonUploadClient(addr, grpc.credentials.createInsecure(), PARENT_CHANNEL_OPTIONS) },
        host,
      };
    },
    async close() {
      await host.close().catch(() => undefined);
      pool.closeAll();
    },
  };
}

/** Our upload servers, advertised at `ip`. */
function startUploads(config: RunConfig, ip: string): ReturnType<typeof startUploadServer> {
  return startUploadServer({
    bindIp: ip.startsWith("127.") ? "127.0.0.1" : "0.0.0.0",
    advertiseIp: ip,
    grpcPort: config.upload.port,
    tcpPort: config.upload.tcpPort,
    // A child that stops reading frees its upload slot within a window, as a parent that
    // stops sending loses ours.
    lowSpeed: { limitBytesPerSecond: config.download.lowSpeedLimit, windowMs: config.download.pieceTimeoutMs },
  });
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
