// Figure 4 — start-up: `dfget --version` and `dfget --dry-run` (one HEAD to the origin,
// ring order, cooldown state; no download) against `node -e 0`, the floor any node CLI
// pays. Ratios pair by pair in the same rounds.
import { join } from "node:path";
import type { BenchContext } from "../context.js";
import { dfgetPlain, freshStateDir, nodeNoop } from "../dfget.js";
import { ensureDir, interleaved, rssOf, wallsOf, type Contender } from "../loop.js";
import { verdict, type Goal } from "../report.js";
import { fmtDuration, fmtRatio, fmtRssKiB, pairRatios, spread } from "../stats.js";
import type { FigureResult } from "./back-to-source.js";

const NODE = "node -e 0";
const VERSION = "dfget --version";
const DRY_RUN = "dfget --dry-run --json";
const DEADLINE_MS = 30_000;
/** Never contacted by a dry run; only placed on the ring. */
const SCHEDULERS = ["127.0.0.1:18002", "127.0.0.1:28002", "127.0.0.1:38002"];

export async function startupFigure(ctx: BenchContext): Promise<FigureResult> {
  const dir = await ensureDir(join(ctx.work, "startup"));
  const url = ctx.origin.url(ctx.failover.path);
  const contenders: Contender[] = [
    { label: NODE, command: () => nodeNoop(DEADLINE_MS) },
    {
      label: VERSION,
      command: () => dfgetPlain(VERSION, ["--version"], DEADLINE_MS),
      after: (sample) => {
        if (sample.code !== 0 || !sample.stdout.startsWith("dfget ")) throw new Error(`dfget --version: exit ${sample.code}, ${sample.stdout.trim()} ${sample.stderr.trim()}`);
      },
    },
    {
      label: DRY_RUN,
      command: async () =>
        dfgetPlain(DRY_RUN, [url, "--dry-run", "--json", "--scheduler", SCHEDULERS.join(","), "--state-dir", await freshStateDir(join(dir, "state"))], DEADLINE_MS),
      after: (sample) => {
        if (sample.code !== 0 || !sample.stdout.includes('"taskId"')) throw new Error(`dfget --dry-run: exit ${sample.code}, ${sample.stdout.trim()} ${sample.stderr.trim()}`);
      },
    },
  ];
  const samples = await interleaved(contenders, { runs: ctx.knobs.runs, rotate: true, log: ctx.log });
  const nodeWalls = wallsOf(samples.get(NODE) ?? []);
  const rows = contenders.map((c) => {
    const walls = wallsOf(samples.get(c.label) ?? []);
    return [c.label, fmtDuration(spread(walls)), c.label === NODE ? "1×" : fmtRatio(spread(pairRatios(walls, nodeWalls))), fmtRssKiB(spread(rssOf(samples.get(c.label) ?? [])))];
  });
  const version = spread(pairRatios(wallsOf(samples.get(VERSION) ?? []), nodeWalls));
  const goals: Goal[] = [{ goal: "dfget --version ≤ 2 × node -e 0", measured: fmtRatio(version), verdict: verdict(version.n > 0 ? version.median <= 2 : undefined) }];
  return {
    table: {
      title: "4. Start-up",
      headers: ["command", "wall (median, min–max)", "÷ node -e 0, pair by pair", "peak RSS"],
      rows,
      notes: [`the dry run HEADs ${ctx.origin.description} once and places 3 static schedulers on the ring (none is contacted); fresh --state-dir per run.`],
    },
    goals,
  };
}
