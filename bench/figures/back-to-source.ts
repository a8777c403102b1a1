// Figure 1 — back-to-source: the big file from the origin to disk, dfget (no scheduler:
// parallel ranged GETs) against `curl -o` and `aria2c -x8` on the same URL, interleaved.
import { join } from "node:path";
import { checkAndRemove, checkSameBytes, deadlineFor, type BenchContext } from "../context.js";
import { aria2Download, curlDownload, dfgetDownload, freshStateDir, summaryOf } from "../dfget.js";
import { ensureDir, interleaved, rssOf, wallsOf, type Contender } from "../loop.js";
import type { Goal, Table } from "../report.js";
import { verdict } from "../report.js";
import { fmtDuration, fmtRatio, fmtRssKiB, fmtSize, fmtThroughput, pairRatios, spread } from "../stats.js";

export interface FigureResult {
  table: Table;
  goals: Goal[];
}

export interface BackToSourceResult extends FigureResult {
  /** Peak RSS of each measured dfget run, KiB (for the memory figure). */
  dfgetRssKiB: number[];
  /** Wall times of curl from the origin (for the P2P figure's context). */
  curlWallMs: number[];
}

export const DFGET = "dfget (back-to-source)";

export async function backToSourceFigure(ctx: BenchContext): Promise<BackToSourceResult> {
  const dir = await ensureDir(join(ctx.work, "b2s"));
  const { content, path } = ctx.large;
  const url = ctx.origin.url(path);
  const deadline = deadlineFor(content.length);
  const out = (name: string, round: number): string => join(dir, `${name}-${round + 1}.bin`);

  const contenders: Contender[] = [
    {
      label: DFGET,
      command: async (round) =>
        dfgetDownload({ label: DFGET, url, output: out("dfget", round), stateDir: await freshStateDir(join(dir, "state")), timeoutMs: deadline }),
      after: async (sample, round) => {
        const summary = summaryOf(sample);
        if (summary.bytesWritten !== content.length) throw new Error(`${DFGET}: wrote ${summary.bytesWritten} bytes`);
        // The warm-up run also proves the bytes are right; later runs check the size only.
        if (round < 0) await checkSameBytes(DFGET, out("dfget", round), content);
        await checkAndRemove(DFGET, out("dfget", round), content.length);
      },
    },
  ];
  const notes: string[] = [];
  if (ctx.tools.curl !== undefined) {
    const curl = ctx.tools.curl;
    contenders.push({
      label: "curl -o",
      command: (round) => curlDownload(curl, url, out("curl", round), deadline),
      after: async (sample, round) => {
        if (sample.code !== 0) throw new Error(`curl failed (exit ${sample.code}): ${sample.stderr.trim()}`);
        await checkAndRemove("curl", out("curl", round), content.length);
      },
    });
  } else notes.push("curl is not installed: no reference, no ratios (apt-get install -y curl)");
  if (ctx.tools.aria2c !== undefined) {
    const aria2c = ctx.tools.aria2c;
    contenders.push({
      label: "aria2c -x8",
      command: (round) => aria2Download(aria2c, url, out("aria2c", round), deadline),
      after: async (sample, round) => {
        if (sample.code !== 0) throw new Error(`aria2c failed (exit ${sample.code}): ${sample.stderr.trim()}`);
        await checkAndRemove("aria2c", out("aria2c", round), content.length);
      },
    });
  } else notes.push("aria2c is not installed: row skipped (apt-get install -y aria2)");

  const samples = await interleaved(contenders, { runs: ctx.knobs.runs, rotate: true, log: ctx.log });
  const walls = (label: string): number[] => wallsOf(samples.get(label) ?? []);
  const curlWalls = walls("curl -o");
  const rows = contenders.map((c) => {
    const wall = spread(walls(c.label));
    const ratio = curlWalls.length > 0 ? fmtRatio(spread(pairRatios(walls(c.label), curlWalls))) : "—";
    return [c.label, fmtDuration(wall), ratio, fmtThroughput(content.length, wall), fmtRssKiB(spread(rssOf(samples.get(c.label) ?? [])))];
  });
  if (ctx.tools.curl === undefined) rows.push(["curl -o", "not installed", "—", "—", "—"]);
  if (ctx.tools.aria2c === undefined) rows.push(["aria2c -x8", "not installed", "—", "—", "—"]);
  notes.unshift(
    `${fmtSize(content.length)} random bytes from ${ctx.origin.description} to a file on disk; output deleted after every run.`,
    "aria2c runs with -x8 -s8 (its default split of 5 would cap -x8 at 5 connections) and --file-allocation=none.",
  );

  const vsCurl = spread(pairRatios(walls(DFGET), curlWalls));
  const vsAria = spread(pairRatios(walls(DFGET), walls("aria2c -x8")));
  const goals: Goal[] = [
    {
      goal: "back-to-source wall ≤ 1.2 × curl -o",
      measured: vsCurl.n > 0 ? fmtRatio(vsCurl) : "curl not installed",
      verdict: verdict(vsCurl.n > 0 ? vsCurl.median <= 1.2 : undefined),
    },
    {
      goal: "back-to-source faster than aria2c -x8",
      measured: vsAria.n > 0 ? fmtRatio(vsAria) : "aria2c not installed",
      verdict: verdict(vsAria.n > 0 ? vsAria.median < 1 : undefined),
    },
  ];
  return {
    table: {
      title: `1. Back-to-source, ${fmtSize(content.length)} to disk`,
      headers: ["tool", "wall (median, min–max)", "÷ curl, pair by pair", "throughput (median)", "peak RSS"],
      rows,
      notes,
    },
    goals,
    dfgetRssKiB: rssOf(samples.get(DFGET) ?? []),
    curlWallMs: curlWalls,
  };
}
