// A whole fake Dragonfly cluster on 127.0.0.1 for end-to-end tests: a manager listing N
// schedulers, the schedulers (each with its own fault switches), and optionally an origin.
// Seed parents (test/support/parent.ts) are started by the test and handed in, because
// they need the origin's URL and their own task set-up first.
import { startFakeManager, type FakeManager } from "./manager.js";
import { startOrigin, type FakeOrigin } from "./origin.js";
import { startFakeScheduler, type FakeParentInfo, type FakeScheduler } from "./scheduler.js";

/** The fields of a started seed parent the schedulers need to hand it out. */
export interface SeedParentLike {
  peerId: string;
  hostId: string;
  hostname: string;
  ip: string;
  grpcPort: number;
}

export interface ClusterOptions {
  schedulers: number;
  /** Start an origin with these files (stopped with the cluster). */
  origin?: { files?: Record<string, Buffer> };
  /** Parents every scheduler offers; defaults to `seedParents`, read at every schedule. */
  parents?: () => FakeParentInfo[];
  /** Already-started seed parents; mutable through `cluster.seedParents`. */
  seedParents?: SeedParentLike[];
  /** Where scheduler i listens (default 127.0.0.1, ephemeral port). */
  schedulerEndpoints?: Array<{ host: string; port: number }>;
}

export interface FakeCluster {
  readonly manager: FakeManager;
  /** Named s1, s2, … in start order. */
  readonly schedulers: FakeScheduler[];
  readonly origin: FakeOrigin | undefined;
  readonly seedParents: SeedParentLike[];
  schedulerAddrs(): string[];
  /** The state the manager reports for scheduler `index` ("active" by default). */
  setSchedulerState(index: number, state: string): void;
  stop(): Promise<void>;
}

export function asParentInfo(seed: SeedParentLike): FakeParentInfo {
  return { peerId: seed.peerId, hostId: seed.hostId, hostname: seed.hostname, ip: seed.ip, port: seed.grpcPort };
}

export async function startCluster(options: ClusterOptions): Promise<FakeCluster> {
  const seedParents = [...(options.seedParents ?? [])];
  const parents = options.parents ?? (() => seedParents.map(asParentInfo));
  const origin = options.origin ? await startOrigin(options.origin) : undefined;
  const schedulers: FakeScheduler[] = [];
  const states = new Map<number, string>();
  try {
    for (let index = 0; index < options.schedulers; index += 1) {
      schedulers.push(await startFakeScheduler({ name: `s${index + 1}`, parents, ...options.schedulerEndpoints?.[index] }));
    }
    const manager = await startFakeManager({
      schedulers: () => schedulers.map((scheduler, index) => ({ addr: scheduler.addr, state: states.get(index) ?? "active" })),
    });
    return {
      manager,
      schedulers,
      origin,
      seedParents,
      schedulerAddrs: () => schedulers.map((scheduler) => scheduler.addr),
      setSchedulerState: (index, state) => states.set(index, state),
      stop: async () => {
        await Promise.all([manager.stop(), ...schedulers.map((scheduler) => scheduler.stop()), origin?.close()]);
      },
    };
  } catch (error) {
    await Promise.all([...schedulers.map((scheduler) => scheduler.stop()), origin?.close()]);
    throw error;
  }
}
