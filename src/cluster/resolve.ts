// Where this run's schedulers come from, behind one interface (Kraken's hostlist `List`):
// a static list wins and no manager is asked; otherwise the managers (failover in order,
// answer cached); all managers unreachable → the cached list with a warning; nothing at
// all → "none" (the CLI then goes straight to the origin). Refreshing is on demand only —
// the selector asks once when a whole pass fails — there are no background timers.
import type * as grpc from "@grpc/grpc-js";
import type { Clock } from "../clock.js";
import type { Deadline } from "../rpc/channels.js";
import type { Probe, ProbeResult } from "../rpc/health.js";
import type { Warn } from "../state/json-store.js";
import { cacheMatchesManagers, readSchedulerCache, writeSchedulerCache } from "./cache.js";
import {
  firstCluster,
  firstHealthyCluster,
  listSchedulers,
  ManagerUnavailableError,
  type SchedulerEntry,
  type SchedulerListCaller,
} from "./manager.js";

export interface SchedulerListConfig {
  /** Static list ("ip:port"), in the order given. Non-empty → the manager is not asked. */
  schedulerAddrs: string[];
  /** Managers in failover order. */
  managerAddrs: string[];
  stateDir: string;
  caller: SchedulerListCaller;
  managerCredentials: grpc.ChannelCredentials;
  connectTimeoutMs: number;
  callTimeoutMs: number;
  deadline?: Deadline;
}

export interface SchedulerListDeps {
  clock: Clock;
  onWarning?: Warn;
  /** Replaceable for tests; defaults to the real manager client. */
  listSchedulers?: typeof listSchedulers;
  /**
   * When given, the cluster is the first one with a healthy scheduler (as the Rust
   * dynconfig picks it) and the probes spent are returned for reuse. Without it the
   * first cluster in manager order is taken unprobed.
   */
  probe?: Probe;
}

export type SchedulerSource = "static" | "manager" | "cache" | "none";

export interface ResolvedSchedulers {
  source: SchedulerSource;
  /** Scheduler addresses in manager (or static) order; ring input. */
  addrs: string[];
  /** The entries behind `addrs` when they came from a manager or the cache. */
  entries?: SchedulerEntry[];
  managerAddr?: string;
  /** Epoch ms of the manager answer (fresh or cached). */
  fetchedAt?: number;
  /** One line for stderr. */
  warning?: string;
  /** Probes spent choosing the cluster (only with deps.probe). */
  probes?: ProbeResult[];
  /** Why the managers were not usable, when source is "cache" or "none" after trying. */
  managerError?: ManagerUnavailableError;
}

export interface SchedulerList {
  /** The list for this run; resolved once, later calls return the same answer. */
  resolve(): Promise<ResolvedSchedulers>;
  /** Asks the managers again (static and "none" configurations answer as before). */
  refresh(): Promise<ResolvedSchedulers>;
}

export function createSchedulerList(cfg: SchedulerListConfig, deps: SchedulerListDeps): SchedulerList {
  let current: Promise<ResolvedSchedulers> | undefined;
  let refreshing: Promise<ResolvedSchedulers> | undefined;
  return {
    resolve() {
      current ??= resolveOnce(cfg, deps);
      return current;
    },
    refresh() {
      // Single-flight: concurrent callers share one manager round.
      refreshing ??= resolveOnce(cfg, deps).finally(() => {
        refreshing = undefined;
      });
      current = refreshing;
      return refreshing;
    },
  };
}

export function resolveSchedulers(cfg: SchedulerListConfig, deps: SchedulerListDeps): Promise<ResolvedSchedulers> {
  return createSchedulerList(cfg, deps).resolve();
}

async function resolveOnce(cfg: SchedulerListConfig, deps: SchedulerListDeps): Promise<ResolvedSchedulers> {
  const warn: Warn = deps.onWarning ?? (() => undefined);
  if (cfg.schedulerAddrs.length > 0) return { source: "static", addrs: [...new Set(cfg.schedulerAddrs)] };
  if (cfg.managerAddrs.length === 0) return { source: "none", addrs: [] };

  const ask = deps.listSchedulers ?? listSchedulers;
  let answer: Awaited<ReturnType<typeof listSchedulers>>;
  try {
    answer = await ask(cfg.managerAddrs, cfg.caller, {
      credentials: cfg.managerCredentials,
      connectTimeoutMs: cfg.connectTimeoutMs,
      callTimeoutMs: cfg.callTimeoutMs,
      deadline: cfg.deadline,
    });
  } catch (err) {
    if (!(err instanceof ManagerUnavailableError)) throw err;
    return fromCache(cfg, err, warn);
  }

  const fetchedAt = deps.clock.now();
  if (answer.schedulers.length === 0) {
    // Not cached, like the manager itself: an empty answer means "none active yet".
    return { source: "manager", addrs: [], entries: [], managerAddr: answer.managerAddr, fetchedAt, warning: `manager ${answer.managerAddr} returned no schedulers` };
  }
  // Probing only decides between clusters; with one cluster there is nothing to decide,
  // and the selector probes the schedulers it actually tries anyway.
  const clusters = new Set(answer.schedulers.map((e) => e.clusterId));
  let choice = deps.probe && clusters.size > 1 ? await firstHealthyCluster(answer.schedulers, deps.probe) : firstCluster(answer.schedulers);
  if (choice.entries.length === 0) {
    // Nothing healthy: keep the first cluster so the selector's all-down policy (cooling,
    // refresh, back-to-source) sees real members; the probes already spent still count.
    choice = { ...firstCluster(answer.schedulers), probes: choice.probes };
  }
  try {
    await writeSchedulerCache(cfg.stateDir, { version: 1, fetchedAt, managers: [...cfg.managerAddrs], schedulers: choice.entries }, warn);
  } catch (err) {
    warn(`cannot cache the scheduler list in ${cfg.stateDir}: ${(err as Error).message}`);
  }
  return {
    source: "manager",
    addrs: choice.entries.map((e) => e.addr),
    entries: choice.entries,
    managerAddr: answer.managerAddr,
    fetchedAt,
    ...(deps.probe ? { probes: choice.probes } : {}),
  };
}

async function fromCache(cfg: SchedulerListConfig, managerError: ManagerUnavailableError, warn: Warn): Promise<ResolvedSchedulers> {
  const cache = await readSchedulerCache(cfg.stateDir, warn);
  if (!cache || cache.schedulers.length === 0 || !cacheMatchesManagers(cache, cfg.managerAddrs)) {
    return { source: "none", addrs: [], warning: `managers unreachable and no cached scheduler list: ${managerError.message}`, managerError };
  }
  return {
    source: "cache",
    addrs: cache.schedulers.map((e) => e.addr),
    entries: cache.schedulers,
    fetchedAt: cache.fetchedAt,
    warning: `managers unreachable; using the scheduler list cached at ${new Date(cache.fetchedAt).toISOString()}`,
    managerError,
  };
}
