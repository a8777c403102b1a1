// The cooldown ledger: which schedulers failed recently, kept across runs in
// `<stateDir>/cooldown.json` (architecture.md "Decisions already made"). It knows records
// and time, not ring order. Cooling is arithmetic on an injected clock — a scheduler
// cools while `now < lastFailureAt + intervalMs`, with the interval in force for the
// current run — so a record made under a longer interval un-cools under a shorter one.
// Every failure re-arms the record; a success deletes it.
//
// Many dfget processes share the file, so every change is a locked read-modify-write of
// the file's current content (state/json-store.ts), never a write-back of a stale
// in-memory copy. Persisting is best effort: a failure to read or write is a warning, and
// the in-memory ledger still answers for the rest of this run.
import { join } from "node:path";
import type { Clock } from "../clock.js";
import { messageOf } from "../errors.js";
import { readJsonFile, updateJsonFile, type Warn } from "../state/json-store.js";

export interface CooldownRecord {
  /** Failures since the last success (across runs and processes). */
  failures: number;
  /** Epoch ms of the latest failure; cooling is measured from here. */
  lastFailureAt: number;
  /** Attempt outcome of the latest failure: "refused", "timeout", "not-serving", "unavailable", "stream-broken" or "hedged". */
  lastOutcome: string;
}

/** The file format. `version` lets a later format be told apart instead of misread. */
export interface CooldownFile {
  version: 1;
  schedulers: Record<string, CooldownRecord>;
}

export const COOLDOWN_FILE_NAME = "cooldown.json";

export function cooldownFilePath(stateDir: string): string {
  return join(stateDir, COOLDOWN_FILE_NAME);
}

function isRecord(value: unknown): value is CooldownRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Partial<Record<keyof CooldownRecord, unknown>>;
  return (
    typeof r.failures === "number" && Number.isInteger(r.failures) && r.failures >= 1 &&
    typeof r.lastFailureAt === "number" && Number.isFinite(r.lastFailureAt) &&
    typeof r.lastOutcome === "string"
  );
}

/**
 * What a parsed file holds, as a clean map. A document of the wrong shape or version is
 * dropped whole (warning, fresh start); a malformed record is dropped alone.
 */
function recordsOf(doc: unknown, path: string, warn: Warn): Map<string, CooldownRecord> {
  const records = new Map<string, CooldownRecord>();
  if (doc === null) return records; // missing or already reported unreadable by json-store
  const file = (typeof doc === "object" && !Array.isArray(doc) ? doc : {}) as Partial<Record<keyof CooldownFile, unknown>>;
  const schedulers = file.schedulers;
  if (file.version !== 1 || typeof schedulers !== "object" || schedulers === null || Array.isArray(schedulers)) {
    warn(`state file ${path} is not a version 1 cooldown ledger; starting fresh`);
    return records;
  }
  for (const [addr, record] of Object.entries(schedulers)) {
    if (isRecord(record)) {
      records.set(addr, { failures: record.failures, lastFailureAt: record.lastFailureAt, lastOutcome: record.lastOutcome });
    } else {
      warn(`state file ${path}: dropping malformed cooldown record for ${addr}`);
    }
  }
  return records;
}

function fileOf(records: ReadonlyMap<string, CooldownRecord>): CooldownFile {
  return { version: 1, schedulers: Object.fromEntries(records) };
}

export class CooldownLedger {
  private records: Map<string, CooldownRecord>;

  private constructor(
    private readonly clock: Clock,
    /** undefined = in-memory only (tests, or a run without a state dir). */
    private readonly path: string | undefined,
    private readonly warn: Warn,
    records: Map<string, CooldownRecord>,
  ) {
    this.records = records;
  }

  /**
   * Reads `<stateDir>/cooldown.json`; a missing, unreadable or corrupt file starts empty.
   * `warn` is called at most once per ledger: the file is read again at every change, and
   * a state file that is broken (corrupt, a directory, read-only) stays so for the run.
   */
  static async load(stateDir: string, clock: Clock, onWarning: (m: string) => void): Promise<CooldownLedger> {
    let warned = false;
    const warn = (message: string): void => {
      if (!warned) onWarning(message);
      warned = true;
    };
    const path = cooldownFilePath(stateDir);
    const doc = await readJsonFile<unknown>(path, null, warn);
    return new CooldownLedger(clock, path, warn, recordsOf(doc, path, warn));
  }

  /** A ledger that never touches the disk. */
  static inMemory(clock: Clock, records: Iterable<[string, CooldownRecord]> = []): CooldownLedger {
    return new CooldownLedger(clock, undefined, () => {}, new Map(records));
  }

  /**
   * Epoch ms when cooling ends, or null when not cooling now. A failure stamped in the
   * future (clock stepped back, or another host's clock) counts as "failed just now", so
   * a clock anomaly cools for at most one interval rather than indefinitely.
   */
  coolingUntil(addr: string, intervalMs: number): number | null {
    const record = this.records.get(addr);
    if (record === undefined) return null;
    const now = this.clock.now();
    const until = Math.min(record.lastFailureAt, now) + intervalMs;
    return now < until ? until : null;
  }

  isCooling(addr: string, intervalMs: number): boolean {
    return this.coolingUntil(addr, intervalMs) !== null;
  }

  record(addr: string): CooldownRecord | undefined {
    const record = this.records.get(addr);
    return record === undefined ? undefined : { ...record };
  }

  /** Every record, for listings such as --dry-run. */
  entries(): Array<[string, CooldownRecord]> {
    return [...this.records].map(([addr, record]) => [addr, { ...record }]);
  }

  /**
   * A transport failure: failures + 1, re-armed at now. Merged under the lock with what
   * other processes wrote meanwhile; this ledger then adopts the merged content.
   */
  async markFailed(addr: string, outcome: string): Promise<void> {
    const now = this.clock.now();
    const fail = (records: Map<string, CooldownRecord>): void => {
      const previous = records.get(addr);
      records.set(addr, { failures: (previous?.failures ?? 0) + 1, lastFailureAt: now, lastOutcome: outcome });
    };
    const merged = await this.persist(fail);
    if (merged !== undefined) this.records = merged;
    else fail(this.records);
  }

  /** A success: the record goes. No file write when there was no record anywhere. */
  async clear(addr: string): Promise<void> {
    const hadRecord = this.records.delete(addr);
    if (this.path === undefined) return;
    if (!hadRecord) {
      const onDisk = recordsOf(await readJsonFile<unknown>(this.path, null, this.warn), this.path, this.warn);
      if (!onDisk.has(addr)) return;
    }
    const merged = await this.persist((records) => {
      records.delete(addr);
    });
    if (merged !== undefined) this.records = merged;
  }

  /**
   * Locked read-modify-write of the file. Resolves with the merged records, or undefined
   * when there is no file (in-memory ledger) or it could not be written (warned).
   */
  private persistFailed = false;

  private async persist(change: (records: Map<string, CooldownRecord>) => void): Promise<Map<string, CooldownRecord> | undefined> {
    const path = this.path;
    if (path === undefined) return undefined;
    let merged: Map<string, CooldownRecord> | undefined;
    try {
      await updateJsonFile<unknown>(path, null, (current) => {
        const records = recordsOf(current, path, this.warn);
        change(records);
        merged = records;
        return fileOf(records);
      }, this.warn);
      return merged;
    } catch (err) {
      // One line per run: the state dir will not become writable meanwhile.
      if (!this.persistFailed) this.warn(`cannot update ${path}: ${messageOf(err)}; cooldown kept in memory for this run only`);
      this.persistFailed = true;
      return undefined;
    }
  }
}
