// The rows every "dfget against other tools" table shares (figures 1–3): wall time, the
// ratio to a reference taken round by round (median with min–max, then every round so the
// spread shows), throughput, CPU (user + sys) and peak RSS of each contender.
import { cpuOf, rssOf, wallsOf, type Samples } from "./loop.js";
import { fmtCpu, fmtDuration, fmtRatio, fmtRounds, fmtRssKiB, fmtThroughput, pairRatios, spread } from "./stats.js";

export function compareHeaders(first: string, reference: string): string[] {
  return [
    first,
    "wall (median, min–max)",
    `÷ ${reference} (median, min–max)`,
    `÷ ${reference}, each round`,
    "throughput (median)",
    "CPU user+sys (median, min–max)",
    "peak RSS (median, min–max)",
  ];
}

/** One row per label in `labels`; ratios against `reference` (a label in `samples`) when it ran. */
export function compareRows(samples: Samples, labels: readonly string[], reference: string, bytes: number): string[][] {
  const walls = (label: string): number[] => wallsOf(samples.get(label) ?? []);
  const referenceWalls = walls(reference);
  return labels.map((label) => {
    const wall = spread(walls(label));
    const ratios = referenceWalls.length > 0 ? pairRatios(walls(label), referenceWalls) : [];
    const runs = samples.get(label) ?? [];
    return [
      label,
      fmtDuration(wall),
      ratios.length > 0 ? fmtRatio(spread(ratios)) : "—",
      fmtRounds(ratios),
      fmtThroughput(bytes, wall),
      fmtCpu(spread(cpuOf(runs))),
      fmtRssKiB(spread(rssOf(runs))),
    ];
  });
}

/** The row of a tool that is not installed, as wide as compareHeaders(). */
export const notInstalledRow = (label: string): string[] => [label, "not installed", "—", "—", "—", "—", "—"];
