// The last scheduler list a manager gave us, kept in the state dir so a run whose
// managers are all unreachable can still find the cluster. (The Rust dfdaemon keeps its
// last list in memory only; a one-shot CLI has no memory between runs.)
import { join } from "node:path";
import { readJsonFile, updateJsonFile, type Warn } from "../state/json-store.js";
import type { SchedulerEntry } from "./manager.js";

export const SCHEDULER_CACHE_FILE = "schedulers.json";

export interface SchedulerCache {
  version: 1;
  /** Epoch ms of the manager answer. */
  fetchedAt: number;
  /** The manager addresses configured when it was fetched. */
  managers: string[];
  schedulers: SchedulerEntry[];
}

export function schedulerCachePath(stateDir: string): string {
  return join(stateDir, SCHEDULER_CACHE_FILE);
}

/** The cached list, or undefined when there is none or it is unusable (warned). */
export async function readSchedulerCache(stateDir: string, onWarning: Warn): Promise<SchedulerCache | undefined> {
  const path = schedulerCachePath(stateDir);
  const doc = await readJsonFile<unknown>(path, undefined, onWarning);
  if (doc === undefined) return undefined;
  if (!isSchedulerCache(doc)) {
    onWarning(`scheduler cache ${path} has an unexpected shape; ignoring it`);
    return undefined;
  }
  return doc;
}

/**
 * Writes under the state-dir lock (temp file + fsync + rename, mode 0600). When a
 * parallel run already stored a newer answer, that one is kept.
 */
export async function writeSchedulerCache(stateDir: string, next: SchedulerCache, onWarning: Warn): Promise<SchedulerCache> {
  return updateJsonFile<unknown>(
    schedulerCachePath(stateDir),
    undefined,
    (current) => (isSchedulerCache(current) && current.fetchedAt > next.fetchedAt ? current : next),
    onWarning,
  ) as Promise<SchedulerCache>;
}

/** A cached list belongs to this run's cluster when it came from one of its managers. */
export function cacheMatchesManagers(cache: SchedulerCache, managerAddrs: string[]): boolean {
  return cache.managers.some((m) => managerAddrs.includes(m));
}

function isSchedulerCache(doc: unknown): doc is SchedulerCache {
  if (typeof doc !== "object" || doc === null) return false;
  const c = doc as Partial<Record<keyof SchedulerCache, unknown>>;
  return (
    c.version === 1 &&
    typeof c.fetchedAt === "number" &&
    Number.isFinite(c.fetchedAt) &&
    Array.isArray(c.managers) &&
    c.managers.every((m) => typeof m === "string") &&
    Array.isArray(c.schedulers) &&
    c.schedulers.every(isEntry)
  );
}

function isEntry(value: unknown): value is SchedulerEntry {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Partial<Record<keyof SchedulerEntry, unknown>>;
  return typeof e.addr === "string" && typeof e.clusterId === "number" && typeof e.hostname === "string" && typeof e.state === "string";
}
