// Asking the Dragonfly manager for schedulers: managers tried in order (failover), each
// health-checked first as the Rust client does, then ListSchedulers under its own
// deadline. The answer is flattened to SchedulerEntry in manager order; choosing the
// cluster is a separate step (firstCluster / firstHealthyCluster) so that the caller
// decides whether to spend probes on it.
import { isIP } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { DfgetError, ExitCode } from "../errors.js";
import { ManagerClient, SourceType, type ListSchedulersRequest, type ListSchedulersResponse, type Scheduler } from "../gen/manager/v2/manager.js";
import { formatHostPort } from "../net/address.js";
import { ChannelPool, deadlineIn, describeGrpcError, grpcCodeOf, minDeadline, statusName, type Deadline } from "../rpc/channels.js";
import { probe as probeAddress, type Probe, type ProbeResult } from "../rpc/health.js";
import { sanitizeHostname } from "./hostname.js";

export interface SchedulerEntry {
  /** "ip:port", or "[v6]:port". */
  addr: string;
  clusterId: number;
  hostname: string;
  /** As the manager reports it: "active" / "inactive". */
  state: string;
}

/** Who is asking; the fields of the Rust client's ListSchedulersRequest. */
export interface SchedulerListCaller {
  /** The OS hostname; sanitized to a DNS name before it is sent (see hostname.ts). */
  hostname: string;
  /** Must be an IP address: the Go manager rejects anything else. */
  ip: string;
  idc?: string;
  location?: string;
  /** dfget's version, e.g. "0.1.0". */
  version: string;
  commit: string;
  /** ≠ 0 makes the manager return all schedulers of that cluster (no searcher). */
  schedulerClusterId?: bigint;
}

export interface ListSchedulersOptions {
  credentials: grpc.ChannelCredentials;
  /** Dial + health Check of one manager. */
  connectTimeoutMs: number;
  /** The ListSchedulers call itself. */
  callTimeoutMs: number;
  /** The run's deadline; no manager is asked past it. */
  deadline?: Deadline;
  /** Channels to managers are closed again before returning either way. */
  pool?: ChannelPool;
}

export interface ManagerAnswer {
  managerAddr: string;
  /** Every scheduler of every cluster, in the manager's order (best cluster first). */
  schedulers: SchedulerEntry[];
  /** Entries dropped because their ip or port was not usable. */
  skipped: number;
}

export interface ManagerFailure {
  managerAddr: string;
  /** A probe outcome ("refused", "timeout"...) or the gRPC status name of ListSchedulers. */
  outcome: string;
  detail: string;
}

/** Every configured manager failed its health check or its ListSchedulers call. */
export class ManagerUnavailableError extends DfgetError {
  readonly failures: ManagerFailure[];
  constructor(failures: ManagerFailure[]) {
    const list = failures.length === 0 ? "no manager configured" : failures.map((f) => `${f.managerAddr}: ${f.detail}`).join("; ");
    super(`no manager answered (${list})`, "ERR_MANAGER_UNAVAILABLE", ExitCode.noScheduler);
    this.name = "ManagerUnavailableError";
    this.failures = failures;
  }
}

export async function listSchedulers(
  managerAddrs: string[],
  caller: SchedulerListCaller,
  opts: ListSchedulersOptions,
): Promise<ManagerAnswer> {
  const pool = opts.pool ?? new ChannelPool();
  const request = buildRequest(caller);
  const failures: ManagerFailure[] = [];
  try {
    for (const managerAddr of managerAddrs) {
      const health = await probeAddress(managerAddr, {
        credentials: opts.credentials,
        timeoutMs: opts.connectTimeoutMs,
        deadline: opts.deadline,
        pool,
      });
      if (health.outcome !== "ok") {
        failures.push({ managerAddr, outcome: health.outcome, detail: health.detail ?? health.outcome });
        continue;
      }
      const client = pool.openClient(ManagerClient, managerAddr, opts.credentials);
      const deadline = minDeadline(opts.deadline, deadlineIn(opts.callTimeoutMs));
      try {
        const response = await callListSchedulers(client, request, deadline);
        return { managerAddr, ...toEntries(response.schedulers) };
      } catch (err) {
        const code = grpcCodeOf(err);
        const outcome = code === undefined ? "error" : statusName(code);
        failures.push({ managerAddr, outcome, detail: `ListSchedulers ${describeGrpcError(err)}` });
      } finally {
        pool.close(managerAddr);
      }
    }
  } finally {
    if (!opts.pool) pool.closeAll();
  }
  throw new ManagerUnavailableError(failures);
}

/**
 * The request as the Rust client fills it. idc and location are omitted when empty: the
 * Go manager validates them as 1..1024 characters once they are present on the wire.
 */
export function buildRequest(caller: SchedulerListCaller): ListSchedulersRequest {
  return {
    sourceType: SourceType.PEER_SOURCE,
    hostname: sanitizeHostname(caller.hostname),
    ip: caller.ip,
    ...(caller.idc ? { idc: caller.idc } : {}),
    ...(caller.location ? { location: caller.location } : {}),
    version: caller.version,
    commit: caller.commit,
    schedulerClusterId: caller.schedulerClusterId ?? 0n,
  };
}

function callListSchedulers(client: ManagerClient, request: ListSchedulersRequest, deadline: Deadline): Promise<ListSchedulersResponse> {
  return new Promise((resolve, reject) => {
    client.listSchedulers(request, new grpc.Metadata(), { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

/**
 * Manager order is kept. Unlike the Rust client, which fails the whole refresh on one
 * non-IP `ip`, an unusable entry (not an IP, port outside 1..65535) is dropped and
 * counted; a repeated address keeps its first occurrence.
 */
export function toEntries(schedulers: Scheduler[]): { schedulers: SchedulerEntry[]; skipped: number } {
  const seen = new Set<string>();
  const entries: SchedulerEntry[] = [];
  let skipped = 0;
  for (const s of schedulers) {
    if (isIP(s.ip) === 0 || !Number.isInteger(s.port) || s.port < 1 || s.port > 65535) {
      skipped++;
      continue;
    }
    const addr = formatHostPort(s.ip, s.port);
    if (seen.has(addr)) continue;
    seen.add(addr);
    entries.push({ addr, clusterId: Number(s.schedulerClusterId), hostname: s.hostname, state: s.state });
  }
  return { schedulers: entries, skipped };
}

export interface ClusterChoice {
  /** undefined when there were no entries (or, for firstHealthyCluster, none was healthy). */
  clusterId: number | undefined;
  /** All entries of the chosen cluster, in manager order — healthy or not, so the ring
   *  is built over the same members a Rust peer started from. */
  entries: SchedulerEntry[];
  /** Probes spent choosing, in order; the passing one's channel stays in its pool. */
  probes: ProbeResult[];
}

/** The first cluster in manager order, without probing. */
export function firstCluster(entries: SchedulerEntry[]): ClusterChoice {
  const clusterId = entries[0]?.clusterId;
  return { clusterId, entries: entries.filter((e) => e.clusterId === clusterId), probes: [] };
}

/**
 * As the Rust dynconfig: walk the entries in manager order, probing one at a time; the
 * first healthy scheduler fixes the cluster, and schedulers of other clusters are never
 * probed after that.
 */
export async function firstHealthyCluster(entries: SchedulerEntry[], probe: Probe): Promise<ClusterChoice> {
  const probes: ProbeResult[] = [];
  for (const entry of entries) {
    const result = await probe(entry.addr);
    probes.push(result);
    if (result.outcome === "ok") {
      return { clusterId: entry.clusterId, entries: entries.filter((e) => e.clusterId === entry.clusterId), probes };
    }
  }
  return { clusterId: undefined, entries: [], probes };
}
