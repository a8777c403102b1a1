// Figure 4 — failover cost: a small P2P download through three fake schedulers, with the
// task's owner (ring candidate 0) healthy, refusing connections, blackholed (accepts TCP,
// never answers; with the default hedged probes and with --hedge-delay 0), owner and
// second candidate both blackholed, or the owner cooling (dead, and a previous run's state
// dir remembers it). Extra time is taken pair by pair against the healthy run of the same
// round; connections to the dead schedulers are counted at their fault proxies (a refused
// connect never reaches it, so for that case dfget's own attempt list is the witness).
import { cp, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { startBenchCluster } from "../cluster.js";
import { checkAndRemove, deadlineFor, type BenchContext } from "../context.js";
import { dfgetDownload, freshStateDir, summaryOf, writeP2pConfig } from "../dfget.js";
import { ensureDir, interleaved, wallsOf, type Contender } from "../loop.js";
import { verdict, type Goal } from "../report.js";
import { fmtCount, fmtDuration, fmtExtraMs, fmtSize, pairDiffs, spread } from "../stats.js";
import type { FigureResult } from "./back-to-source.js";

type Case = "healthy" | "owner refused" | "owner blackholed" | "owner blackholed, --hedge-delay 0" | "two blackholed" | "owner cooling";
const CASES: readonly Case[] = ["healthy", "owner refused", "owner blackholed", "owner blackholed, --hedge-delay 0", "two blackholed", "owner cooling"];
/** dfget's default --hedge-delay (cli.md), capped by the connect timeout as dfget caps it. */
const DEFAULT_HEDGE_MS = 300;

interface CaseRecord {
  durationMs: number[];
  ownerConnections: number[];
  ownerAttempts: string[];
  switches: number[];
}

export async function failoverFigure(ctx: BenchContext): Promise<FigureResult> {
  const dir = await ensureDir(join(ctx.work, "failover"));
  const config = await writeP2pConfig(dir);
  const { content, path } = ctx.failover;
  const url = ctx.origin.url(path);
  const bench = await startBenchCluster({ url, content, schedulers: 3, seeds: 1, name: "failover" });
  const ownerAddr = bench.ringOrder[0]!;
  const owner = bench.cluster.schedulers.find((s) => s.addr === ownerAddr)!;
  const second = bench.cluster.schedulers.find((s) => s.addr === bench.ringOrder[1])!;
  /** The schedulers a case kills (the owner stands for itself in the healthy row). */
  const deadIn = (c: Case) => (c === "two blackholed" ? [owner, second] : [owner]);
  const connectionsTo = (c: Case): number => deadIn(c).reduce((sum, s) => sum + s.connectionCount(), 0);
  const hedgeMs = Math.min(DEFAULT_HEDGE_MS, ctx.knobs.connectTimeoutMs);
  const connectTimeout = `${ctx.knobs.connectTimeoutMs}ms`;
  const records = new Map<Case, CaseRecord>(CASES.map((c) => [c, { durationMs: [], ownerConnections: [], ownerAttempts: [], switches: [] }]));
  /** State dir of the latest refused-owner run: it recorded the owner's failure. */
  let refusedState: string | undefined;

  const setOwner = async (c: Case): Promise<void> => {
    await owner.heal();
    await second.heal();
    if (c === "owner refused") await owner.refuse();
    // Cooling: the owner is down, but accepts TCP so that any connection to it is counted.
    if (c.startsWith("owner blackholed") || c === "owner cooling" || c === "two blackholed") owner.blackhole();
    if (c === "two blackholed") second.blackhole();
  };

  const contender = (c: Case): Contender => {
    const output = join(dir, `${c.replace(/\W+/g, "-")}.bin`);
    let connectionsBefore = 0;
    let stateDir = "";
    return {
      label: c,
      before: async () => {
        await setOwner(c);
        if (c === "owner cooling") {
          if (refusedState === undefined) throw new Error("cooling case needs a refused-owner run first");
          stateDir = await mkdtemp(join(dir, "state-cooling-"));
          await cp(refusedState, stateDir, { recursive: true });
        } else stateDir = await freshStateDir(join(dir, "state"));
        connectionsBefore = connectionsTo(c);
      },
      command: () =>
        dfgetDownload({
          label: `dfget (${c})`,
          url,
          output,
          stateDir,
          schedulers: bench.cluster.schedulerAddrs(),
          config,
          extraArgs: ["--connect-timeout", connectTimeout, ...(c.endsWith("--hedge-delay 0") ? ["--hedge-delay", "0"] : [])],
          timeoutMs: deadlineFor(content.length) + 4 * ctx.knobs.connectTimeoutMs,
        }),
      after: async (sample, round) => {
        const connections = connectionsTo(c) - connectionsBefore;
        const summary = summaryOf(sample);
        await checkAndRemove(sample.label, output, content.length);
        if (c === "owner refused") refusedState = stateDir;
        const attempts = summary.scheduler.attempts.filter((a) => a.addr === ownerAddr || (c === "two blackholed" && a.addr === second.addr)).map((a) => a.outcome);
        if (c === "healthy" && summary.scheduler.used !== ownerAddr) throw new Error(`healthy run used ${summary.scheduler.used}, not the owner ${ownerAddr}`);
        if (c !== "healthy" && summary.scheduler.used === ownerAddr) throw new Error(`${c}: the dead owner was used`);
        if (round < 0) return;
        const record = records.get(c)!;
        record.durationMs.push(summary.durationMs);
        record.ownerConnections.push(connections);
        record.ownerAttempts.push(attempts.length === 0 ? "none" : attempts.join("+"));
        record.switches.push(summary.scheduler.switches);
      },
    };
  };

  try {
    // Fixed order: the cooling run reuses the state the refused run of its round left.
    const samples = await interleaved(CASES.map(contender), { runs: ctx.knobs.runs, rotate: false, log: ctx.log });
    const healthyWall = wallsOf(samples.get("healthy") ?? []);
    const healthyIn = records.get("healthy")!.durationMs;
    const extraIn = new Map<Case, ReturnType<typeof spread>>();
    const rows = CASES.map((c) => {
      const record = records.get(c)!;
      const wall = wallsOf(samples.get(c) ?? []);
      const inRunExtra = spread(pairDiffs(record.durationMs, healthyIn));
      extraIn.set(c, inRunExtra);
      const attempts = [...new Set(record.ownerAttempts)].join(", ");
      return [
        c,
        fmtDuration(spread(wall)),
        c === "healthy" ? "—" : fmtExtraMs(spread(pairDiffs(wall, healthyWall))),
        c === "healthy" ? "—" : fmtExtraMs(inRunExtra),
        fmtCount(spread(record.ownerConnections)),
        attempts,
      ];
    });

    const refused = extraIn.get("owner refused")!;
    const blackholed = extraIn.get("owner blackholed")!;
    const serial = extraIn.get("owner blackholed, --hedge-delay 0")!;
    const cooling = extraIn.get("owner cooling")!;
    const coolingConnections = records.get("owner cooling")!.ownerConnections;
    const goals: Goal[] = [
      { goal: "refused owner ≤ 50 ms extra", measured: fmtExtraMs(refused), verdict: verdict(refused.n > 0 ? refused.median <= 50 : undefined) },
      {
        goal: `blackholed owner ≤ hedgeDelay (${hedgeMs} ms) + 50 ms extra`,
        measured: fmtExtraMs(blackholed),
        verdict: verdict(blackholed.n > 0 ? blackholed.median <= hedgeMs + 50 : undefined),
      },
      {
        goal: `blackholed owner, --hedge-delay 0: ≤ connectTimeout (${ctx.knobs.connectTimeoutMs} ms) + 100 ms extra`,
        measured: fmtExtraMs(serial),
        verdict: verdict(serial.n > 0 ? serial.median <= ctx.knobs.connectTimeoutMs + 100 : undefined),
      },
      {
        goal: "cooling owner ≤ 5 ms extra and 0 connections",
        measured: `${fmtExtraMs(cooling)}; ${coolingConnections.reduce((a, b) => a + b, 0)} connections in ${coolingConnections.length} runs`,
        verdict: verdict(cooling.n > 0 ? cooling.median <= 5 && coolingConnections.every((n) => n === 0) : undefined),
      },
    ];
    return {
      table: {
        title: `4. Failover cost, ${fmtSize(content.length)} P2P through 3 schedulers`,
        headers: ["owner", "wall (median, min–max)", "extra wall over healthy", "extra in-run time (durationMs)", "connections to the dead (at the fakes)", "dead schedulers' attempts (dfget's summary)"],
        rows,
        notes: [
          `--connect-timeout ${ctx.knobs.connectTimeoutMs}ms, default --hedge-delay (${hedgeMs} ms) unless the row says 0; fresh --state-dir per run, except cooling, which copies the state dir its round's refused-owner run left (the owner's failure recorded).`,
          "hedged rows: the next candidate's probe starts after the hedge delay while the owner's is still open; the owner's attempt is recorded `hedged` (and cooled) when its probe fails or the run ends.",
          "extra = this case − the healthy run of the same round, median over rounds; the goals are judged on the in-run time (durationMs of the --json summary), which leaves out node's start-up jitter.",
          "a refused connect never reaches the fake's proxy, so its count is 0 by construction; the attempt list shows dfget tried once. While cooling, the owner accepts TCP (blackholed), so any connection would be counted — and would cost the connect timeout.",
        ],
      },
      goals,
    };
  } finally {
    await owner.heal();
    await bench.stop();
  }
}
