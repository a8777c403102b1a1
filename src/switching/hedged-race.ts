// One hedged pass over the ring order (Happy Eyeballs, RFC 8305 §5, with schedulers for
// addresses). The next candidate's probe starts when the latest one failed or when the
// hedge delay passed without an answer, whichever comes first; the first SERVING wins and
// no further probe starts. Probes still unanswered then are handed back, outrun, to the
// selector, which lets them finish in the background. A delay of 0 is one at a time.
//
// The race only sequences; what a probe is, what cools and what is printed belong to the
// selector's hooks.
import type { Timer } from "../clock.js";
import type { ProbeOutcome } from "../rpc/health.js";

/** A probe started and not yet settled. */
export interface InFlight {
  addr: string;
  /** Clock ms when the probe started. */
  startedAt: number;
  /** Another scheduler answered SERVING while this one was unanswered. */
  outrun: boolean;
  /** Settled (answered, recorded hedged, or abandoned at close). */
  done: boolean;
  /** Where its answer goes while a race waits for it. */
  listener: ((outcome: ProbeOutcome, ms: number) => void) | undefined;
}

export interface RaceHooks {
  order: readonly string[];
  delayMs: number;
  timer: Timer | undefined;
  /** Not a candidate now (failed in this run, or cooling). */
  skip(addr: string): boolean;
  /** A probe of this address already running (from an earlier pass), to wait for too. */
  adopt(addr: string): InFlight | undefined;
  /** Starts a probe; undefined when the attempt budget is spent. */
  start(addr: string): InFlight | undefined;
  onHedge(slow: string, next: string): void;
  /** A probe started; `after` is the failure that led to it, if one did. */
  onLaunch(addr: string, after: { addr: string; outcome: ProbeOutcome } | undefined): void;
  /** A failed probe that leads to no new one (others still run, or nobody is left). */
  onFailedAlone(addr: string, outcome: ProbeOutcome): void;
  onFailed(probe: InFlight, outcome: ProbeOutcome, ms: number): void;
  onWon(probe: InFlight, ms: number, outrun: InFlight[]): void;
}

export class HedgedRace {
  private cursor = 0;
  private readonly racing = new Set<InFlight>();
  private latest: InFlight | undefined;
  private cancelHedge: (() => void) | undefined;
  private finished = false;
  private exhausted = false;
  private resolve: (choice: { addr: string; rank: number } | undefined) => void = () => undefined;

  constructor(private readonly hooks: RaceHooks) {}

  run(): Promise<{ addr: string; rank: number } | undefined> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.launchNext(undefined);
    });
  }

  /** The next candidate in ring order; probes already running are joined, not restarted. */
  private pick(): { addr: string; rank: number } | undefined {
    while (this.cursor < this.hooks.order.length) {
      const rank = this.cursor++;
      const addr = this.hooks.order[rank] as string;
      const running = this.hooks.adopt(addr);
      if (running) {
        if (!this.racing.has(running)) this.listen(running, rank);
        continue;
      }
      if (this.hooks.skip(addr)) continue;
      return { addr, rank };
    }
    return undefined;
  }

  private launchNext(cause: { hedged: InFlight } | { failed: { addr: string; outcome: ProbeOutcome } } | undefined): void {
    this.cancelHedge?.();
    this.cancelHedge = undefined;
    const next = this.pick();
    const probe = next && this.hooks.start(next.addr);
    if (!next || !probe) {
      this.exhausted = true;
      this.latest = undefined;
      if (cause && "failed" in cause) this.hooks.onFailedAlone(cause.failed.addr, cause.failed.outcome);
      this.maybeEnd();
      return;
    }
    if (cause && "hedged" in cause) this.hooks.onHedge(cause.hedged.addr, next.addr);
    else this.hooks.onLaunch(next.addr, cause?.failed);
    this.listen(probe, next.rank);
    this.latest = probe;
    const { delayMs, timer } = this.hooks;
    if (delayMs > 0 && timer) {
      this.cancelHedge = timer.setTimeout(() => {
        this.cancelHedge = undefined;
        if (!this.finished && this.latest === probe) this.launchNext({ hedged: probe });
      }, delayMs);
    }
  }

  private listen(probe: InFlight, rank: number): void {
    this.racing.add(probe);
    probe.listener = (outcome, ms) => this.answered(probe, rank, outcome, ms);
  }

  private answered(probe: InFlight, rank: number, outcome: ProbeOutcome, ms: number): void {
    this.racing.delete(probe);
    probe.listener = undefined;
    if (outcome === "ok") {
      this.finished = true;
      this.cancelHedge?.();
      const outrun = [...this.racing];
      for (const other of outrun) other.listener = undefined;
      this.racing.clear();
      this.hooks.onWon(probe, ms, outrun);
      this.resolve({ addr: probe.addr, rank });
      return;
    }
    this.hooks.onFailed(probe, outcome, ms);
    if (probe === this.latest && !this.exhausted) this.launchNext({ failed: { addr: probe.addr, outcome } });
    else {
      this.hooks.onFailedAlone(probe.addr, outcome);
      this.maybeEnd();
    }
  }

  private maybeEnd(): void {
    if (this.finished || !this.exhausted || this.racing.size > 0) return;
    this.finished = true;
    this.cancelHedge?.();
    this.resolve(undefined);
  }
}
