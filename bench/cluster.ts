// The fake Dragonfly cluster of test/support for one bench file: fake schedulers (behind
// their fault proxies) and seed parents holding the whole file, which the schedulers hand
// out as parents. The seed parents run in this process; see bench/README.md.
import { startCluster, type FakeCluster } from "../test/support/cluster.js";
import { startSeedParent, type FakeParent } from "../test/support/parent.js";
import { pieceLengthFor } from "../src/task/piece-plan.js";
import { DEFAULT_FILTERED_QUERY_PARAMS, taskIdOf } from "../src/task/task-id.js";
import { ringCandidates } from "../src/switching/ring.js";

export interface BenchCluster {
  readonly cluster: FakeCluster;
  readonly seeds: FakeParent[];
  readonly taskId: string;
  /** Scheduler addresses in the order dfget will try them: [0] owns the task. */
  readonly ringOrder: string[];
  /** The schedulers offer the first `n` seed parents from now on. */
  useParents(n: number): void;
  stop(): Promise<void>;
}

/** The task id dfget computes for `url` with no tag, application or --piece-length. */
export function taskIdForUrl(url: string): string {
  return taskIdOf({ url: new URL(url).href, tag: "", application: "", filteredQueryParams: DEFAULT_FILTERED_QUERY_PARAMS });
}

export async function startBenchCluster(opts: { url: string; content: Buffer; schedulers: number; seeds: number; name: string }): Promise<BenchCluster> {
  const taskId = taskIdForUrl(opts.url);
  const pieceLength = pieceLengthFor(opts.content.length);
  const seeds: FakeParent[] = [];
  try {
    for (let i = 0; i < opts.seeds; i++) {
      seeds.push(await startSeedParent({ content: opts.content, taskId, pieceLength, hostname: `${opts.name}-seed-${i + 1}` }));
    }
  } catch (error) {
    await Promise.all(seeds.map((seed) => seed.kill()));
    throw error;
  }
  let cluster: FakeCluster;
  try {
    cluster = await startCluster({ schedulers: opts.schedulers, seedParents: seeds });
  } catch (error) {
    await Promise.all(seeds.map((seed) => seed.kill()));
    throw error;
  }
  return {
    cluster,
    seeds,
    taskId,
    ringOrder: ringCandidates(cluster.schedulerAddrs(), taskId),
    useParents: (n) => void cluster.seedParents.splice(0, cluster.seedParents.length, ...seeds.slice(0, n)),
    stop: async () => {
      await cluster.stop();
      await Promise.all(seeds.map((seed) => seed.kill()));
    },
  };
}
