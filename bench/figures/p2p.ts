// Figure 3 — P2P: the big file from one seed parent and from three over vortex, through
// one fake scheduler, next to curl fetching the same URL from the origin, interleaved.
// Goals: one parent ≤ 0.9 × curl from the origin; three parents no slower than one.
import { join } from "node:path";
import { startBenchCluster } from "../cluster.js";
import { checkAndRemove, checkSameBytes, deadlineFor, type BenchContext } from "../context.js";
import { curlDownload, dfgetDownload, freshStateDir, summaryOf, writeP2pConfig } from "../dfget.js";
import { compareHeaders, compareRows, notInstalledRow } from "../compare.js";
import { ensureDir, interleaved, rssOf, wallsOf, type Contender } from "../loop.js";
import { ratioGoal, type Goal } from "../report.js";
import { fmtRatio, fmtRounds, fmtSize, pairRatios, spread } from "../stats.js";
import type { FigureResult } from "./back-to-source.js";

export interface P2pResult extends FigureResult {
  /** Peak RSS of each measured one-parent dfget run, KiB (for the memory figure). */
  oneParentRssKiB: number[];
}

const ONE = "dfget P2P, 1 seed parent";
const THREE = "dfget P2P, 3 seed parents";
const CURL = "curl -o (origin)";
export const P2P_CURL_LIMIT = 0.9;

/** A dfget P2P contender; `select` picks the parents before each run; every piece must come from parents. */
export function p2pContender(
  opts: { label: string; dir: string; config: string; url: string; content: Buffer; scheduler: string; select: () => void },
): Contender {
  const out = (round: number): string => join(opts.dir, `${opts.label.replace(/\W+/g, "-")}-${round + 1}.bin`);
  return {
    label: opts.label,
    before: () => opts.select(),
    command: async (round) =>
      dfgetDownload({
        label: opts.label,
        url: opts.url,
        output: out(round),
        stateDir: await freshStateDir(join(opts.dir, "state")),
        schedulers: [opts.scheduler],
        config: opts.config,
        timeoutMs: deadlineFor(opts.content.length),
      }),
    after: async (sample, round) => {
      const summary = summaryOf(sample);
      if (summary.backToSource || summary.pieces.fromParents !== summary.pieces.total) {
        throw new Error(`${opts.label}: not a P2P download (${summary.pieces.fromParents}/${summary.pieces.total} pieces from parents, backToSource ${summary.backToSource})`);
      }
      if (round < 0) await checkSameBytes(opts.label, out(round), opts.content);
      await checkAndRemove(opts.label, out(round), opts.content.length);
    },
  };
}

export async function p2pFigure(ctx: BenchContext): Promise<P2pResult> {
  const dir = await ensureDir(join(ctx.work, "p2p"));
  const config = await writeP2pConfig(dir);
  const { content, path } = ctx.large;
  const url = ctx.origin.url(path);
  const bench = await startBenchCluster({ url, content, schedulers: 1, seeds: 3, name: "p2p" });
  try {
    const scheduler = bench.cluster.schedulerAddrs()[0]!;
    const contenders: Contender[] = [
      p2pContender({ label: ONE, dir, config, url, content, scheduler, select: () => bench.useParents(1) }),
      p2pContender({ label: THREE, dir, config, url, content, scheduler, select: () => bench.useParents(3) }),
    ];
    const notes = [
      `${fmtSize(content.length)}; seed parents (test/support/parent.ts) run inside the bench process and serve from memory; the fake scheduler offers them as parents; URL on ${ctx.origin.description}.`,
    ];
    if (ctx.tools.curl !== undefined) {
      const curl = ctx.tools.curl;
      const curlOut = (round: number): string => join(dir, `curl-${round + 1}.bin`);
      contenders.push({
        label: CURL,
        command: (round) => curlDownload(curl, url, curlOut(round), deadlineFor(content.length)),
        after: async (sample, round) => {
          if (sample.code !== 0) throw new Error(`curl failed (exit ${sample.code}): ${sample.stderr.trim()}`);
          await checkAndRemove("curl", curlOut(round), content.length);
        },
      });
    } else notes.push("curl is not installed: no reference, no ratios");

    const samples = await interleaved(contenders, { runs: ctx.knobs.runs, rotate: true, log: ctx.log });
    const walls = (label: string): number[] => wallsOf(samples.get(label) ?? []);
    const rows = compareRows(samples, contenders.map((c) => c.label), CURL, content.length);
    if (ctx.tools.curl === undefined) rows.push(notInstalledRow(CURL));
    const threeVsOne = pairRatios(walls(THREE), walls(ONE));
    if (threeVsOne.length > 0) notes.push(`3 seed parents ÷ 1 seed parent, wall, round by round: ${fmtRatio(spread(threeVsOne))}; each round: ${fmtRounds(threeVsOne)}.`);
    const served = bench.seeds.map((seed, i) => `seed ${i + 1}: ${(seed.bytesServed() / 1024 ** 2).toFixed(0)} MiB`).join(", ");
    notes.push(`bytes served over vortex in this figure (warm-up included): ${served}.`);
    notes.push("CPU: user + sys of the dfget process only (the seed parents run in the bench process).");

    const goals: Goal[] = [
      ratioGoal(`P2P from one seed parent ≤ ${P2P_CURL_LIMIT} × curl from the origin`, pairRatios(walls(ONE), walls(CURL)), (m) => m <= P2P_CURL_LIMIT, "curl not installed"),
      ratioGoal("P2P from three seed parents no slower than from one (wall ÷ one parent's ≤ 1.00)", threeVsOne, (m) => m <= 1, "a P2P run failed"),
    ];
    return {
      table: {
        title: `3. P2P over vortex, ${fmtSize(content.length)} to disk`,
        headers: compareHeaders("run", "curl from origin"),
        rows,
        notes,
      },
      goals,
      oneParentRssKiB: rssOf(samples.get(ONE) ?? []),
    };
  } finally {
    await bench.stop();
  }
}
