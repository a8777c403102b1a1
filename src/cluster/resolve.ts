// Where this run's schedulers come from, behind one interface (Kraken's hostlist `List`):
// a static list wins and no manager is asked; otherwise the managers (failover in order,
// answer cached); all managers unreachable → the cached list with a warning; nothing at
// all → "none" (the CLI then goes straight to the origin). Refreshing is on demand only —
// the selector asks once when a whole pass fails — there are no background timers.
//
// DNS names (static schedulers and managers) are resolved here, under the connect
// timeout, to every address they have; each scheduler IP:PORT is one ring node, exactly
// as if it had been listed (a Kubernetes headless Service name finds every pod).
import type * as grpc from "@grpc/grpc-js";
import { systemTimer, type Clock, type Timer } from "../clock.js";
import { resolveHostPorts, systemResolver, type Resolver, type UnresolvedName } from "../net/address.js";
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
  /** Name → addresses; the system resolver (dns.lookup) unless a test injects one. */
  resolver?: Resolver;
  /** Runs the DNS deadline. */
  timer?: Timer;
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
  /**
   * One line for stderr: why the list is stale (cache) or empty although a cluster is
   * configured. An empty list's line names no consequence; the engine adds it.
   */
  warning?: string;
  /** Probes spent choosing the cluster (only with deps.probe). */
  probes?: ProbeResult[];
  /** Why the managers were not usable, when source is "cache" or "none" after trying. */
  managerError?: ManagerUnavailableError;
  /** "name:port" → ["ip:port", …] for every scheduler or manager name that resolved. */
  resolved: Record<string, string[]>;
  /** Scheduler names without an address (attempt outcome `unresolved`). */
  unresolved: UnresolvedName[];
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
  const dns = { resolver: deps.resolver ?? systemResolver, timeoutMs: cfg.connectTimeoutMs, timer: deps.timer ?? systemTimer };
  if (cfg.schedulerAddrs.length > 0) {
    const names = await resolveHostPorts(cfg.schedulerAddrs, dns);
    const result: ResolvedSchedulers = { source: "static", addrs: names.addrs, resolved: names.resolved, unresolved: names.unresolved };
    if (names.addrs.length === 0) result.warning = unresolvedText(names.unresolved);
    return result;
  }
  if (cfg.managerAddrs.length === 0) return { source: "none", addrs: [], resolved: {}, unresolved: [] };

  const managers = await resolveHostPorts(cfg.managerAddrs, dns);
  const ask = deps.listSchedulers ?? listSchedulers;
  let answer: Awaited<ReturnType<typeof listSchedulers>>;
  try {
    const unresolvedFailures = managers.unresolved.map((u) => ({ managerAddr: u.addr, outcome: "unresolved", detail: `does not resolve: ${u.reason}` }));
    if (managers.addrs.length === 0) throw new ManagerUnavailableError(unresolvedFailures);
    answer = await ask(managers.addrs, cfg.caller, {
      credentials: cfg.managerCredentials,
      connectTimeoutMs: cfg.connectTimeoutMs,
      callTimeoutMs: cfg.callTimeoutMs,
      deadline: cfg.deadline,
    }).catch((err: unknown) => {
      throw err instanceof ManagerUnavailableError ? new ManagerUnavailableError([...unresolvedFailures, ...err.failures]) : err;
    });
  } catch (err) {
    if (!(err instanceof ManagerUnavailableError)) throw err;
    return { ...(await fromCache(cfg, err, warn, deps.clock)), resolved: managers.resolved };
  }

  const fetchedAt = deps.clock.now();
  const found = { resolved: managers.resolved, unresolved: [] };
  if (answer.schedulers.length === 0) {
    // Not cached, like the manager itself: an empty answer means "none active yet".
    return { source: "manager", addrs: [], entries: [], managerAddr: answer.managerAddr, fetchedAt, warning: `manager ${answer.managerAddr} lists no active scheduler`, ...found };
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
    ...found,
  };
}

/** "scheduler a:1 does not resolve (ENOTFOUND)", several joined. */
function unresolvedText(names: readonly UnresolvedName[]): string {
  return names.map((u) => `scheduler ${u.addr} does not resolve (${u.reason})`).join("; ");
}

/** "manager 10.0.0.10:65003 unreachable (connect timeout)", or the list of them. */
export function managersUnreachableText(err: ManagerUnavailableError): string {
  const why = (f: { outcome: string; detail: string }): string =>
    f.outcome === "timeout" ? "connect timeout" : f.outcome === "refused" ? "connection refused" : f.detail;
  if (err.failures.length === 1) {
    const only = err.failures[0]!;
    return `manager ${only.managerAddr} unreachable (${why(only)})`;
  }
  return `managers ${err.failures.map((f) => `${f.managerAddr} (${why(f)})`).join(", ")} unreachable`;
}

/** Local wall-clock time of a cached answer: "09:14" today, "2026-12-01 09:14" before. */
export function cachedAtText(fetchedAt: number, now: number): string {
  const at = new Date(fetchedAt);
  const pad = (n: number): string => String(n).padStart(2, "0");
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  const sameDay = new Date(now).toDateString() === at.toDateString();
  return sameDay ? time : `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${time}`;
}

async function fromCache(cfg: SchedulerListConfig, managerError: ManagerUnavailableError, warn: Warn, clock: Clock): Promise<ResolvedSchedulers> {
  const cache = await readSchedulerCache(cfg.stateDir, warn);
  const unreachable = managersUnreachableText(managerError);
  if (!cache || cache.schedulers.length === 0 || !cacheMatchesManagers(cache, cfg.managerAddrs)) {
    return { source: "none", addrs: [], warning: `${unreachable} and no cached list`, managerError, resolved: {}, unresolved: [] };
  }
  return {
    source: "cache",
    addrs: cache.schedulers.map((e) => e.addr),
    entries: cache.schedulers,
    fetchedAt: cache.fetchedAt,
    warning: `${unreachable}; using the scheduler list cached at ${cachedAtText(cache.fetchedAt, clock.now())}`,
    managerError,
    resolved: {},
    unresolved: [],
  };
}
