// The measuring loop every figure shares: one warm-up run of each contender (not kept),
// then N rounds in which every contender runs once. Runs of one round are neighbours in
// time, which is what makes per-round ratios meaningful on a busy machine; the order
// inside a round rotates (unless the figure needs a fixed order) so that no contender
// always runs right after the same one.
import { mkdir } from "node:fs/promises";
import { measure, type CommandSpec, type Sample } from "./measure.js";

export interface Contender {
  label: string;
  /** Fault switches and the like, right before the run. `round` is -1 for the warm-up. */
  before?(round: number): Promise<void> | void;
  command(round: number): Promise<CommandSpec> | CommandSpec;
  /** Validates the run (throws if it must not count) and cleans up its output. */
  after?(sample: Sample, round: number): Promise<void> | void;
}

export interface LoopOptions {
  runs: number;
  rotate: boolean;
  log: (line: string) => void;
}

export type Samples = Map<string, Sample[]>;

export async function interleaved(contenders: readonly Contender[], options: LoopOptions): Promise<Samples> {
  const kept: Samples = new Map(contenders.map((c) => [c.label, []]));
  for (let round = -1; round < options.runs; round++) {
    const shift = options.rotate && round >= 0 ? round % contenders.length : 0;
    const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
    for (const contender of order) {
      await contender.before?.(round);
      const sample = await measure(await contender.command(round));
      await contender.after?.(sample, round);
      if (round >= 0) kept.get(contender.label)!.push(sample);
      const rss = sample.peakRssKiB === undefined ? "" : `, ${(sample.peakRssKiB / 1024).toFixed(0)} MiB RSS`;
      const cpu = sample.cpuMs === undefined ? "" : `, ${sample.cpuMs} ms CPU`;
      options.log(`${round < 0 ? "warm-up" : `run ${round + 1}/${options.runs}`} ${contender.label}: ${sample.wallMs.toFixed(0)} ms${cpu}${rss}`);
    }
  }
  return kept;
}

export const wallsOf = (samples: readonly Sample[]): number[] => samples.map((s) => s.wallMs);
export const rssOf = (samples: readonly Sample[]): number[] =>
  samples.map((s) => s.peakRssKiB).filter((v): v is number => v !== undefined);
/** User + system CPU per run in ms (GNU time); empty without it. */
export const cpuOf = (samples: readonly Sample[]): number[] =>
  samples.map((s) => s.cpuMs).filter((v): v is number => v !== undefined);

/** A directory for one figure's outputs. */
export async function ensureDir(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  return path;
}
