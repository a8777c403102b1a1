// Which scheduler to talk to, and what to do when it fails (architecture.md,
// "Decisions already made"). The selector composes what it is given — the scheduler
// list, the cooldown ledger, the probe and a timer — the way Kraken's ring takes a host
// list and a health filter: it never resolves or dials by itself.
//
// Probes are hedged (Happy Eyeballs, RFC 8305, over the ring order; hedged-race.ts): a
// blackholed owner costs one hedge delay, not a whole connect timeout. A probe outrun by
// another scheduler's SERVING goes on in the background; its verdict decides cooling.
import type { Clock, Timer } from "../clock.js";
import { NoSchedulerError } from "../errors.js";
import type { ProbeOutcome, ProbeResult } from "../rpc/health.js";
import { ringCandidates } from "./ring.js";
import type { CooldownLedger } from "./cooldown.js";
import { fallbackLine, isSwitchOutcome, outcomeCools, type AttemptOutcome } from "./outcomes.js";
import { HedgedRace, type InFlight } from "./hedged-race.js";

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
  /** Names in the list that did not resolve (recorded once as `unresolved`). */
  unresolved?(): ReadonlyArray<{ addr: string; reason: string; ms: number }>;
}

export interface SelectorOptions {
  taskId: string;
  source: CandidateAddrs;
  ledger: CooldownLedger;
  /** Resolves at the probe's own deadline at the latest. */
  probe: SelectorProbe;
  clock: Clock;
  cooldownIntervalMs: number;
  /** Schedulers probed per registration; 0 = all of them. Every probe started counts. */
  maxAttempts: number;
  disableBackToSource: boolean;
  /** Stagger between probes (--hedge-delay); without it, or with delayMs 0, one at a time. */
  hedge?: { delayMs: number; timer: Timer };
  onAttempt?: (attempt: Attempt) => void;
  /** One line per fallback, for stderr at the default log level. */
  onNotice?: (line: string) => void;
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
 * that failed in this run is never tried twice. `close()` at the end of the run settles
 * the probes still unanswered.
 */
export class SchedulerSelector {
  readonly attempts: Attempt[] = [];
  private readonly failedThisRun = new Set<string>();
  private readonly skippedCooling = new Set<string>();
  /** Probes started and not yet answered, by address (racing or in the background). */
  private readonly inFlight = new Map<string, InFlight>();
  private readonly ledgerWrites = new Set<Promise<void>>();
  private refreshed = false;
  private unresolvedRecorded = false;
  private closed = false;
  private failuresSinceChoice = 0;
  private switchCount = 0;
  /** The latest failure, explained when the next candidate is tried. */
  private lastFailure: { addr: string; outcome: AttemptOutcome } | undefined;
  private readonly opts: SelectorOptions;

  constructor(opts: SelectorOptions) {
    this.opts = opts;
  }

  /** Moves past a failed or outrun scheduler to one that answered (cli.md's `switches`). */
  get switches(): number {
    return this.switchCount;
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
    this.recordUnresolved();
    const budget = { left: this.opts.maxAttempts > 0 ? this.opts.maxAttempts : Number.POSITIVE_INFINITY };
    const first = await this.race(this.opts.source.addrs(), budget);
    if (first) return first;
    if (budget.left <= 0 && !this.opts.disableBackToSource) return undefined;

    // All-candidates-failed mode: starts when a pass over the ring found nobody. It asks
    // the manager once per run for a fresh list and walks the schedulers not yet tried;
    // it ends with a scheduler, or with back-to-source (or exit 69 when that is disabled).
    if (!this.refreshed) {
      this.refreshed = true;
      const fresh = await this.opts.source.refresh();
      if (fresh) {
        const found = await this.race(fresh, budget);
        if (found) return found;
      }
    }
    if (!this.opts.disableBackToSource) return undefined;
    return this.lastResort();
  }

  /** A transport failure of a scheduler we registered with: cool it and never retry it in this run. */
  async markFailed(addr: string, outcome: AttemptOutcome, ms: number): Promise<void> {
    this.lastFailure = { addr, outcome };
    await this.fail(addr, outcome, ms);
  }

  /** Health SERVING and the register answered: the scheduler is healthy again. */
  async markSucceeded(addr: string): Promise<void> {
    await this.opts.ledger.clear(addr);
  }

  /**
   * End of the run: a probe still unanswered was outrun and never proved alive, so it is
   * recorded `hedged` and cools like a timeout. Waits for every cooldown write.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const probe of [...this.inFlight.values()]) this.settleOutrun(probe, "hedged", this.opts.clock.now() - probe.startedAt);
    while (this.ledgerWrites.size > 0) await Promise.all(this.ledgerWrites);
  }

  /** One pass over the ring order of `addrs`, hedged; undefined when nobody answered. */
  private race(addrs: readonly string[], budget: { left: number }): Promise<Choice | undefined> {
    const order = ringCandidates(addrs, this.opts.taskId);
    const delayMs = this.opts.hedge?.delayMs ?? 0;
    return new HedgedRace({
      order,
      delayMs,
      timer: this.opts.hedge?.timer,
      skip: (addr) => this.failedThisRun.has(addr) || this.skipCooling(addr),
      adopt: (addr) => this.inFlight.get(addr),
      start: (addr) => {
        if (budget.left <= 0) return undefined;
        budget.left--;
        return this.startProbe(addr);
      },
      onHedge: (slow, next) => this.notice(`scheduler ${slow} not answering after ${delayMs}ms, trying ${next} too`),
      onLaunch: (addr, after) => {
        const cause = after ?? this.lastFailure;
        if (cause) this.notice(fallbackLine(cause.addr, cause.outcome, addr));
        this.lastFailure = undefined;
      },
      onFailedAlone: (addr, outcome) => this.notice(fallbackLine(addr, outcome, undefined)),
      onFailed: (probe, outcome, ms) => this.settleFailed(probe, outcome, ms),
      onWon: (probe, ms, outrun) => {
        this.inFlight.delete(probe.addr);
        this.record({ addr: probe.addr, outcome: "ok", ms });
        this.switchCount += this.failuresSinceChoice + outrun.length;
        this.failuresSinceChoice = 0;
        for (const other of outrun) other.outrun = true;
      },
    })
      .run()
      .finally(() => {
        this.lastFailure = undefined;
      });
  }

  private startProbe(addr: string): InFlight {
    const probe: InFlight = { addr, startedAt: this.opts.clock.now(), outrun: false, listener: undefined, done: false };
    this.inFlight.set(addr, probe);
    void this.opts.probe(addr).then(
      (result) => this.answered(probe, result.outcome, result.ms),
      () => this.answered(probe, "unavailable", this.opts.clock.now() - probe.startedAt),
    );
    return probe;
  }

  /** A probe's verdict: to its race when one listens, else it was outrun earlier. */
  private answered(probe: InFlight, outcome: ProbeOutcome, ms: number): void {
    if (probe.done) return;
    if (probe.listener) return probe.listener(outcome, ms);
    this.inFlight.delete(probe.addr);
    probe.done = true;
    // Outrun, then SERVING: slow but alive (where Rust peers of the task still register),
    // so it is not cooled. Outrun, then failed: hedged, cooled like a timeout.
    if (outcome === "ok") this.record({ addr: probe.addr, outcome: "ok", ms });
    else this.settleOutrun(probe, "hedged", ms);
  }

  private settleFailed(probe: InFlight, outcome: ProbeOutcome, ms: number): void {
    this.inFlight.delete(probe.addr);
    probe.done = true;
    const recorded: AttemptOutcome = probe.outrun ? "hedged" : outcome;
    void this.fail(probe.addr, recorded, ms);
  }

  private settleOutrun(probe: InFlight, outcome: AttemptOutcome, ms: number): void {
    this.inFlight.delete(probe.addr);
    probe.done = true;
    void this.fail(probe.addr, outcome, ms);
  }

  private async fail(addr: string, outcome: AttemptOutcome, ms: number): Promise<void> {
    this.failedThisRun.add(addr);
    this.record({ addr, outcome, ms });
    if (outcomeCools(outcome)) await this.track(this.opts.ledger.markFailed(addr, outcome));
  }

  private skipCooling(addr: string): boolean {
    if (!this.opts.ledger.isCooling(addr, this.opts.cooldownIntervalMs)) return false;
    if (!this.skippedCooling.has(addr)) {
      this.skippedCooling.add(addr);
      this.record({ addr, outcome: "cooling", ms: 0 });
    }
    return true;
  }

  /** Back-to-source disabled and nothing else answered: probe cooling ones, soonest-expiring first. */
  private async lastResort(): Promise<Choice> {
    const cooling = ringCandidates(this.opts.source.addrs(), this.opts.taskId)
      .filter((addr) => !this.failedThisRun.has(addr) && !this.inFlight.has(addr))
      .map((addr) => ({ addr, until: this.opts.ledger.coolingUntil(addr, this.opts.cooldownIntervalMs) ?? 0 }))
      .sort((a, b) => a.until - b.until);
    for (const [rank, { addr }] of cooling.entries()) {
      const result = await this.opts.probe(addr);
      if (result.outcome === "ok") {
        this.record({ addr, outcome: "ok", ms: result.ms });
        this.switchCount += this.failuresSinceChoice;
        this.failuresSinceChoice = 0;
        return { addr, rank };
      }
      await this.fail(addr, result.outcome, result.ms);
    }
    const tried = this.attempts.map((a) => `${a.addr} ${a.outcome}`).join(", ");
    throw new NoSchedulerError(
      `no scheduler available and back-to-source is disabled${tried ? ` (${tried})` : " (no schedulers known)"}`,
    );
  }

  private recordUnresolved(): void {
    if (this.unresolvedRecorded) return;
    this.unresolvedRecorded = true;
    for (const name of this.opts.source.unresolved?.() ?? []) {
      this.record({ addr: name.addr, outcome: "unresolved", ms: name.ms });
      this.notice(`scheduler ${name.addr} does not resolve (${name.reason}); skipped`);
    }
  }

  private async track(write: Promise<void>): Promise<void> {
    this.ledgerWrites.add(write);
    try {
      await write;
    } finally {
      this.ledgerWrites.delete(write);
    }
  }

  private notice(line: string): void {
    this.opts.onNotice?.(line);
  }

  private record(attempt: Attempt): void {
    if (isSwitchOutcome(attempt.outcome)) this.failuresSinceChoice++;
    this.attempts.push(attempt);
    this.opts.onAttempt?.(attempt);
  }
}
