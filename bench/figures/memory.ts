// Figure 6 — memory: dfget's peak RSS for the small file against the big one, on both paths:
// back-to-source (over HTTP, and over HTTPS when the origin has it) and P2P from one parent.
// The big-file runs are those of figures 1–3 (same run, same machine); the small-file runs
// happen here. Flat = the big file's median is at most 1.25 × the small file's (16× the bytes).
import { join } from "node:path";
import { startBenchCluster } from "../cluster.js";
import { checkAndRemove, checkSameBytes, deadlineFor, type BenchContext } from "../context.js";
import { dfgetDownload, freshStateDir, summaryOf, writeP2pConfig } from "../dfget.js";
import { ensureDir, interleaved, rssOf, type Contender } from "../loop.js";
import { verdict, type Goal } from "../report.js";
import { fmtRatio, fmtRounds, fmtRssKiB, fmtSize, spread } from "../stats.js";
import type { FigureResult } from "./back-to-source.js";
import { p2pContender } from "./p2p.js";

export const FLAT_FACTOR = 1.25;
/** Issue 12's goal: peak RSS at 1 GiB on both paths. */
export const RSS_LIMIT_MIB = 100;

const B2S = "back-to-source over HTTP";
const B2S_TLS = "back-to-source over HTTPS";
const P2P = "P2P, 1 seed parent";

/** Peak RSS (KiB) of the big-file runs of figures 1–3, by path. */
export interface LargeRss {
  http: number[];
  https: number[];
  p2p: number[];
}

function backToSource(label: string, url: string, dir: string, content: Buffer, caCert?: string): Contender {
  const bytes = content.length;
  const output = join(dir, `${label.replace(/\W+/g, "-")}.bin`);
  return {
    label,
    command: async () =>
      dfgetDownload({ label: `dfget ${label}`, url, output, stateDir: await freshStateDir(join(dir, "state")), caCert, timeoutMs: deadlineFor(bytes) }),
    after: async (sample, round) => {
      summaryOf(sample);
      // As in figures 1–3: the warm-up's bytes are compared with the origin's.
      if (round < 0) await checkSameBytes(sample.label, output, content);
      await checkAndRemove(sample.label, output, bytes);
    },
  };
}

export async function memoryFigure(ctx: BenchContext, large: LargeRss): Promise<FigureResult> {
  const dir = await ensureDir(join(ctx.work, "memory"));
  const config = await writeP2pConfig(dir);
  const { content, path } = ctx.small;
  const url = ctx.origin.url(path);
  // Over HTTPS only when figure 2 completed: if its dfget failed (wrong bytes, say), that
  // figure says so, and this one still judges the other paths.
  const https = large.https.length > 0 ? ctx.origin.https : undefined;
  const bench = await startBenchCluster({ url, content, schedulers: 1, seeds: 1, name: "memory" });
  try {
    const contenders: Contender[] = [backToSource(B2S, url, dir, content)];
    if (https !== undefined) contenders.push(backToSource(B2S_TLS, https.url(path), dir, content, https.caCert));
    contenders.push(p2pContender({ label: P2P, dir, config, url, content, scheduler: bench.cluster.schedulerAddrs()[0]!, select: () => bench.useParents(1) }));
    const samples = await interleaved(contenders, { runs: ctx.knobs.runs, rotate: true, log: ctx.log });
    const goals: Goal[] = [];
    const paths: (readonly [string, number[]])[] = [[B2S, large.http], ...(https === undefined ? [] : [[B2S_TLS, large.https] as const]), [P2P, large.p2p]];
    const rows = paths.map(([label, largeKiB]) => {
      const smallKiB = rssOf(samples.get(label) ?? []);
      const small = spread(smallKiB);
      const big = spread(largeKiB);
      const growth = spread(big.n > 0 && small.n > 0 ? [big.median / small.median] : []);
      const flat = growth.n > 0 ? growth.median <= FLAT_FACTOR : undefined;
      const underLimit = big.n > 0 ? big.median <= RSS_LIMIT_MIB * 1024 : undefined;
      goals.push({
        goal: `${label}: peak RSS ≤ ${RSS_LIMIT_MIB} MiB at ${fmtSize(ctx.large.content.length)} and flat in file size (≤ ${FLAT_FACTOR}× the ${fmtSize(content.length)} figure)`,
        measured: `${fmtRssKiB(small)} at ${fmtSize(content.length)} → ${fmtRssKiB(big)}${growth.n > 0 ? ` (${fmtRatio(growth)})` : ""}`,
        verdict: verdict(flat === undefined || underLimit === undefined ? undefined : flat && underLimit),
        rounds: `${fmtRounds(smallKiB.map((k) => k / 1024), 0)} → ${fmtRounds(largeKiB.map((k) => k / 1024), 0)} MiB`,
      });
      return [`dfget ${label}`, fmtRssKiB(small), big.n > 0 ? fmtRssKiB(big) : "figure did not run", growth.n > 0 ? fmtRatio(growth) : "—"];
    });
    return {
      table: {
        title: `6. Memory: peak RSS, ${fmtSize(content.length)} vs ${fmtSize(ctx.large.content.length)}`,
        headers: ["run", `peak RSS at ${fmtSize(content.length)}`, `peak RSS at ${fmtSize(ctx.large.content.length)} (figures 1–3)`, "growth (medians)"],
        rows,
        notes: [
          `peak RSS of the dfget process (GNU time %M, the node process only). Flat = growth ≤ ${FLAT_FACTOR}×.`,
          ...(https === undefined ? ["no HTTPS row: figure 2 was skipped or did not complete."] : []),
        ],
      },
      goals,
    };
  } finally {
    await bench.stop();
  }
}
