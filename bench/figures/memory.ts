// Figure 5 — memory: dfget's peak RSS for the small file against the big one, back-to-source
// and P2P from one parent. The big-file runs are those of figures 1 and 2 (same run, same
// machine); the small-file runs happen here. Flat = the big file's median is at most 1.25 ×
// the small file's (16× the bytes).
import { join } from "node:path";
import { startBenchCluster } from "../cluster.js";
import { checkAndRemove, deadlineFor, type BenchContext } from "../context.js";
import { dfgetDownload, freshStateDir, summaryOf, writeP2pConfig } from "../dfget.js";
import { ensureDir, interleaved, rssOf, type Contender } from "../loop.js";
import { verdict, type Goal } from "../report.js";
import { fmtRatio, fmtRssKiB, fmtSize, spread } from "../stats.js";
import type { FigureResult } from "./back-to-source.js";
import { p2pContender } from "./p2p.js";

export const FLAT_FACTOR = 1.25;
export const RSS_LIMIT_MIB = 150;

const B2S = "back-to-source";
const P2P = "P2P, 1 seed parent";

export async function memoryFigure(ctx: BenchContext, large: { backToSourceKiB: number[]; p2pKiB: number[] }): Promise<FigureResult> {
  const dir = await ensureDir(join(ctx.work, "memory"));
  const config = await writeP2pConfig(dir);
  const { content, path } = ctx.small;
  const url = ctx.origin.url(path);
  const bench = await startBenchCluster({ url, content, schedulers: 1, seeds: 1, name: "memory" });
  try {
    const output = join(dir, "b2s.bin");
    const contenders: Contender[] = [
      {
        label: B2S,
        command: async () => dfgetDownload({ label: `dfget ${B2S}`, url, output, stateDir: await freshStateDir(join(dir, "state")), timeoutMs: deadlineFor(content.length) }),
        after: async (sample) => {
          summaryOf(sample);
          await checkAndRemove(sample.label, output, content.length);
        },
      },
      p2pContender({ label: P2P, dir, config, url, content, scheduler: bench.cluster.schedulerAddrs()[0]!, select: () => bench.useParents(1) }),
    ];
    const samples = await interleaved(contenders, { runs: ctx.knobs.runs, rotate: true, log: ctx.log });
    const goals: Goal[] = [];
    const rows = [
      [B2S, rssOf(samples.get(B2S) ?? []), large.backToSourceKiB] as const,
      [P2P, rssOf(samples.get(P2P) ?? []), large.p2pKiB] as const,
    ].map(([label, smallKiB, largeKiB]) => {
      const small = spread(smallKiB);
      const big = spread(largeKiB);
      const growth = spread(big.n > 0 && small.n > 0 ? [big.median / small.median] : []);
      const flat = growth.n > 0 ? growth.median <= FLAT_FACTOR : undefined;
      const underLimit = big.n > 0 ? big.median <= RSS_LIMIT_MIB * 1024 : undefined;
      goals.push({
        goal: `${label}: peak RSS flat in file size and ≤ ${RSS_LIMIT_MIB} MiB at ${fmtSize(ctx.large.content.length)}`,
        measured: `${fmtRssKiB(small)} at ${fmtSize(content.length)} → ${fmtRssKiB(big)}`,
        verdict: verdict(flat === undefined || underLimit === undefined ? undefined : flat && underLimit),
      });
      return [`dfget ${label}`, fmtRssKiB(small), big.n > 0 ? fmtRssKiB(big) : "figure did not run", growth.n > 0 ? fmtRatio(growth) : "—"];
    });
    return {
      table: {
        title: `5. Memory: peak RSS, ${fmtSize(content.length)} vs ${fmtSize(ctx.large.content.length)}`,
        headers: ["run", `peak RSS at ${fmtSize(content.length)}`, `peak RSS at ${fmtSize(ctx.large.content.length)} (figures 1–2)`, "growth (medians)"],
        rows,
        notes: [`peak RSS of the dfget process (GNU time %M, the node process only). Flat = growth ≤ ${FLAT_FACTOR}×.`],
      },
      goals,
    };
  } finally {
    await bench.stop();
  }
}
