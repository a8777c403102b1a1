// The soak's fault catalog (issue 11, Tests): every fault the test/support fakes can
// produce, grouped by the server it hits. A run draws zero to two faults on distinct
// targets (one origin fault per run, because the fake origin holds one fault per path).
//
// `survivable` marks faults a retry or another source must get past: the run then has to
// exit 0. It is set only where that is certain — a single cut, one 503, a drip on the
// first GET only, one dead scheduler (the other one or the origin remains), a dead manager
// or a broken parent (the origin remains; back-to-source is on). Everything else may end in
// any documented exit code, but never in wrong bytes, a hang or leftovers.
import type { OriginFault } from "../test/support/origin.js";
import type { FakeParent } from "../test/support/parent.js";
import type { FakeManager } from "../test/support/manager.js";
import type { FakeScheduler } from "../test/support/scheduler.js";

export type FaultTarget = "origin" | "s1" | "s2" | "manager" | "parent";

/** What a fault is applied to, for one run. */
export interface SoakServers {
  origin: { setFault(path: string, fault: OriginFault | undefined): void };
  schedulers: FakeScheduler[];
  manager: FakeManager;
  parent: FakeParent | undefined;
  path: string;
  /** The object the origin switches to for "replace", and the tail appended by "grow". */
  replacement: Buffer;
  growth: Buffer;
}

export interface SoakFault {
  name: string;
  target: FaultTarget;
  survivable: boolean;
  /** Extra whole-file versions an exit 0 may deliver besides the original. */
  alsoValid?: (original: Buffer, servers: SoakServers) => Buffer[];
  apply(servers: SoakServers): Promise<void> | void;
}

const MiB = 1024 * 1024;

function originFault(name: string, survivable: boolean, fault: (s: SoakServers) => OriginFault, alsoValid?: SoakFault["alsoValid"]): SoakFault {
  return { name, target: "origin", survivable, alsoValid, apply: (s) => s.origin.setFault(s.path, fault(s)) };
}

const ORIGIN_FAULTS: SoakFault[] = [
  originFault("origin:cut-once", true, () => ({ kind: "times", count: 1, fault: { kind: "close-mid-body", afterBytes: 64 * 1024 } })),
  originFault("origin:503-once", true, () => ({ kind: "times", count: 1, fault: { kind: "status", status: 503 } })),
  originFault("origin:drip-first-get", true, () => ({ kind: "times", count: 1, fault: { kind: "slow", bytesPerSecond: 200 } })),
  originFault("origin:stall-once", false, () => ({ kind: "times", count: 1, fault: { kind: "stall" } })),
  originFault("origin:cut-from-4MiB", false, () => ({ kind: "from-offset", from: 4 * MiB, fault: { kind: "close-mid-body", afterBytes: 1000 } })),
  originFault("origin:503-always", false, () => ({ kind: "status", status: 503 })),
  originFault("origin:ignore-range", false, () => ({ kind: "ignore-range" })),
  originFault("origin:over-send", false, () => ({ kind: "over-send", extra: 100 })),
  originFault("origin:replace", false, (s) => ({ kind: "replace", afterGets: 1, content: s.replacement }), (_o, s) => [s.replacement]),
  originFault("origin:replace-broken-cache", false, (s) => ({ kind: "replace", afterGets: 1, content: s.replacement, ignoreIfRange: true }), (_o, s) => [s.replacement]),
  originFault("origin:grow", false, (s) => ({ kind: "grow", afterGets: 1, extra: s.growth }), (o, s) => [Buffer.concat([o, s.growth])]),
];

function schedulerFaults(index: 0 | 1): SoakFault[] {
  const target: FaultTarget = index === 0 ? "s1" : "s2";
  const at = (s: SoakServers): FakeScheduler => s.schedulers[index]!;
  const fault = (name: string, apply: (scheduler: FakeScheduler) => Promise<void> | void): SoakFault => ({
    name: `${target}:${name}`,
    target,
    survivable: true,
    apply: (s) => apply(at(s)),
  });
  return [
    fault("refuse", (x) => x.refuse()),
    fault("blackhole", (x) => x.blackhole()),
    fault("not-serving", (x) => x.notServing()),
    fault("unavailable", (x) => x.unavailable()),
    fault("resource-exhausted", (x) => x.resourceExhausted()),
    fault("die-after-1", (x) => x.dieAfterPieces(1)),
    fault("silent-after-1", (x) => x.silentAfterPieces(1)),
  ];
}

const MANAGER_FAULTS: SoakFault[] = [
  { name: "manager:refuse", target: "manager", survivable: true, apply: (s) => s.manager.refuse() },
  { name: "manager:blackhole", target: "manager", survivable: true, apply: (s) => s.manager.blackhole() },
];

const PARENT_FAULTS: SoakFault[] = [
  { name: "parent:corrupt-piece-0", target: "parent", survivable: true, apply: (s) => s.parent?.corruptPiece(0) },
  { name: "parent:die-mid-piece-1", target: "parent", survivable: true, apply: (s) => s.parent?.dieMidPiece(1) },
  { name: "parent:killed", target: "parent", survivable: true, apply: (s) => s.parent?.kill() },
];

export const ALL_FAULTS: readonly SoakFault[] = [
  ...ORIGIN_FAULTS,
  ...schedulerFaults(0),
  ...schedulerFaults(1),
  ...MANAGER_FAULTS,
  ...PARENT_FAULTS,
];

/** Zero to two faults on distinct targets (0: 1 in 5, 1 and 2: 2 in 5 each); parent faults
 *  only when the run has a parent. Few fault-free runs: they are the control, not the point. */
export function drawFaults(random: () => number, hasParent: boolean): SoakFault[] {
  const roll = random();
  const count = roll < 0.2 ? 0 : roll < 0.6 ? 1 : 2;
  const pool = ALL_FAULTS.filter((fault) => hasParent || fault.target !== "parent");
  const drawn: SoakFault[] = [];
  while (drawn.length < count) {
    const candidate = pool[Math.floor(random() * pool.length)]!;
    if (!drawn.some((fault) => fault.target === candidate.target)) drawn.push(candidate);
  }
  return drawn;
}

/** mulberry32: a tiny seeded PRNG, so a seed replays the same runs. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
