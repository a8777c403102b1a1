// Which scheduler to talk to, and what to do when it fails (architecture.md,
// "Decisions already made"). The selector composes three things it is given — the
// scheduler list, the cooldown ledger and the probe — the way Kraken's ring takes a
// host list and a health filter: it never resolves or dials by itself.
import type { Clock } from "../clock.js";
import { NoSchedulerError } from "../errors.js";
import type { ProbeResult } from "../rpc/health.js";
import { ringCandidates } from "./ring.js";
import type { CooldownLedger } from "./cooldown.js";
import { outcomeCools, type AttemptOutcome } from "./outcomes.js";

export type { AttemptOutcome } from "./outcomes.js";

/** One scheduler contacted (or skipped) in this run, as the JSON summary lists it. */
export interface Attempt {
  addr: string;
  outcome: AttemptOutcome;
  ms: number;
}

/** What the selector reads of a probe (rpc/health's ProbeResult satisfies it). */
export type SelectorProbe = (addr: string) => Promise<Pick<ProbeResult, "addr" | "outcome" | "ms">>;

/** The candidate addresses; refresh() asks the manager again (once per run). */
export interface CandidateAddrs {
  addrs(): readonly string[];
  /** New list, or undefined when there is no manager or it did not answer. */
  refresh(): Promise<readonly string[] | undefined>;
}

export interface SelectorOptions {
  taskId: string;
  source: CandidateAddrs;
  ledger: CooldownLedger;
  probe: SelectorProbe;
  clock: Clock;
  cooldownIntervalMs: number;
  /** Schedulers probed per registration; 0 = all of them. */
  maxAttempts: number;
  disableBackToSource: boolean;
  onAttempt?: (attempt: Attempt) => void;
}

/** A candidate that passed its probe: register there next. */
export interface Choice {
  addr: string;
  /** The candidate's position in this run's fallback order (0 = ring owner). */
  rank: number;
}

/**
 * The walk over the ring for one task. `next()` is called for the first registration
 * and again after every failure (a refused probe, a register that broke, a stream that
 * broke mid-download); each call continues where the last one stopped, so a scheduler
 * that failed in this run is never tried twice.
 */
export class SchedulerSelector {
  readonly attempts: Attempt[] = [];
  private readonly failedThisRun = new Set<string>();
  private readonly skippedCooling = new Set<string>();
  private refreshed = false;
  private readonly opts: SelectorOptions;

  constructor(opts: SelectorOptions) {
    this.opts = opts;
  }

  /** Candidates in the order they would be tried, with their cooling state (for --dry-run). */
  plan(): Array<{ addr: string; coolingUntil: number | null }> {
    return ringCandidates(this.opts.source.addrs(), this.opts.taskId).map((addr) => ({
      addr,
      coolingUntil: this.opts.ledger.coolingUntil(addr, this.opts.cooldownIntervalMs),
    }));
  }

  /**
   * The next scheduler that answers its probe, or undefined when none is left and the
   * download should go back to the origin. With back-to-source disabled, cooling
   * schedulers are probed as a last resort and NoSchedulerError (exit 69) is thrown when
   * none of them answers either.
   */
  async next(): Promise<Choice | undefined> {
    let probes = 0;
    const budget = this.opts.maxAttempts > 0 ? this.opts.maxAttempts : Number.POSITIVE_INFINITY;

    const walk = async (addrs: readonly string[]): Promise<Choice | undefined> => {
      const order = ringCandidates(addrs, this.opts.taskId);
      for (let rank = 0; rank < order.length; rank++) {
        const addr = order[rank]!;
        if (this.failedThisRun.has(addr)) continue;
        if (this.opts.ledger.isCooling(addr, this.opts.cooldownIntervalMs)) {
          if (!this.skippedCooling.has(addr)) {
            this.skippedCooling.add(addr);
            this.record({ addr, outcome: "cooling", ms: 0 });
          }
          continue;
        }
        if (probes >= budget) return undefined;
        probes++;
        const choice = await this.tryProbe(addr, rank);
        if (choice) return choice;
      }
      return undefined;
    };

    const first = await walk(this.opts.source.addrs());
    if (first) return first;
    if (probes >= budget && !this.opts.disableBackToSource) return undefined;

    // All-candidates-failed mode: starts when a pass over the ring found nobody. It asks
    // the manager once per run for a fresh list and walks the schedulers not yet tried;
    // it ends with a scheduler, or with back-to-source (or exit 69 when that is disabled).
    if (!this.refreshed) {
      this.refreshed = true;
      const fresh = await this.opts.source.refresh();
      if (fresh) {
        const found = await walk(fresh);
        if (found) return found;
      }
    }
    if (!this.opts.disableBackToSource) return undefined;
    return this.lastResort();
  }

  /** A transport failure of a scheduler we registered with: cool it and never retry it in this run. */
  async markFailed(addr: string, outcome: AttemptOutcome, ms: number): Promise<void> {
    this.failedThisRun.add(addr);
    this.record({ addr, outcome, ms });
    if (outcomeCools(outcome)) await this.opts.ledger.markFailed(addr, outcome);
  }

  /** Health SERVING and the register answered: the scheduler is healthy again. */
  async markSucceeded(addr: string): Promise<void> {
    await this.opts.ledger.clear(addr);
  }

  /** Back-to-source disabled and nothing else answered: probe cooling ones, soonest-expiring first. */
  private async lastResort(): Promise<Choice> {
    const cooling = ringCandidates(this.currentAddrs(), this.opts.taskId)
      .filter((addr) => !this.failedThisRun.has(addr))
      .map((addr) => ({ addr, until: this.opts.ledger.coolingUntil(addr, this.opts.cooldownIntervalMs) ?? 0 }))
      .sort((a, b) => a.until - b.until);
    for (const [rank, { addr }] of cooling.entries()) {
      const choice = await this.tryProbe(addr, rank);
      if (choice) return choice;
    }
    const tried = this.attempts.map((a) => `${a.addr} ${a.outcome}`).join(", ");
    throw new NoSchedulerError(
      `no scheduler available and back-to-source is disabled${tried ? ` (${tried})` : " (no schedulers known)"}`,
    );
  }

  private currentAddrs(): readonly string[] {
    return this.opts.source.addrs();
  }

  private async tryProbe(addr: string, rank: number): Promise<Choice | undefined> {
    const result = await this.opts.probe(addr);
    if (result.outcome === "ok") {
      this.record({ addr, outcome: "ok", ms: result.ms });
      return { addr, rank };
    }
    await this.markFailed(addr, result.outcome, result.ms);
    return undefined;
  }

  private record(attempt: Attempt): void {
    this.attempts.push(attempt);
    this.opts.onAttempt?.(attempt);
  }
}
