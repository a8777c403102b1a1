// One soak run: a fresh fake cluster (manager → two schedulers, an origin, maybe a seed
// parent), the drawn faults switched on, the BUILT dfget spawned once in its own temp dir
// with its own TMPDIR, then every promise of the CLI contract checked (issue 11, Tests).
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseEnv, runDfget } from "../test/support/cli.js";
import { startCluster } from "../test/support/cluster.js";
import { startSeedParent, type FakeParent } from "../test/support/parent.js";
import { DEFAULT_FILTERED_QUERY_PARAMS, taskIdOf } from "../src/task/task-id.js";
import type { SoakFault, SoakServers } from "./soak-faults.js";

/** cli.md "Exit codes" minus those a soak run cannot earn: its options are valid (2), the
 *  output never exists before (73), and no signal is sent (130, 143). */
const DOCUMENTED_EXITS = new Set([0, 1, 7, 18, 22, 23, 28, 32, 69]);
/** cli.md `--no-resume`: the hidden partial is kept after these exits only. */
const KEEPS_PARTIAL = new Set([7, 18, 23, 28, 130, 143]);
const PIECE_LENGTH = 4 * 1024 * 1024;
const PATH = "/soak.bin";

export interface SoakRunPlan {
  content: Buffer;
  replacement: Buffer;
  growth: Buffer;
  withParent: boolean;
  faults: SoakFault[];
  hangGuardMs: number;
}

export interface SoakRunResult {
  exit: number | "hang" | "signal";
  ms: number;
  problems: string[];
  stderrTail: string;
}

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

export async function soakRun(plan: SoakRunPlan): Promise<SoakRunResult> {
  const dir = await mkdtemp(join(tmpdir(), "dfget-soak-"));
  const runTmp = join(dir, "tmp");
  const outDir = join(dir, "out");
  await Promise.all([mkdir(runTmp), mkdir(outDir)]);
  const cluster = await startCluster({ schedulers: 2, origin: { files: { [PATH]: plan.content } } });
  let parent: FakeParent | undefined;
  try {
    const url = cluster.origin!.url(PATH);
    if (plan.withParent) {
      const taskId = taskIdOf({ url: new URL(url).href, tag: "", application: "", filteredQueryParams: DEFAULT_FILTERED_QUERY_PARAMS });
      parent = await startSeedParent({ content: plan.content, taskId, pieceLength: PIECE_LENGTH });
      cluster.seedParents.push(parent);
    }
    const servers: SoakServers = {
      origin: cluster.origin!,
      schedulers: cluster.schedulers,
      manager: cluster.manager,
      parent,
      path: PATH,
      replacement: plan.replacement,
      growth: plan.growth,
    };
    for (const fault of plan.faults) await fault.apply(servers);
    const config = join(dir, "dfget.yaml");
    await writeFile(config, CONFIG);
    const out = join(outDir, "soak.bin");
    const args = [url, "-O", out, "--config", config, "--state-dir", join(dir, "state"), "--manager", cluster.manager.addr, "--connect-timeout", "2s"];
    const started = Date.now();
    let run: Awaited<ReturnType<typeof runDfget>>;
    try {
      run = await runDfget(args, { env: baseEnv({ TMPDIR: runTmp }), cwd: dir, timeoutMs: plan.hangGuardMs });
    } catch (error) {
      return { exit: "hang", ms: Date.now() - started, problems: [`no exit within ${plan.hangGuardMs} ms`], stderrTail: String(error).slice(-400) };
    }
    const exit = run.code ?? "signal";
    const problems = await check(plan, servers, exit, outDir, runTmp);
    return { exit, ms: run.ms, problems, stderrTail: run.stderr.trim().split("\n").slice(-3).join(" | ") };
  } finally {
    await parent?.kill();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// Short deadlines so a stalled source is abandoned within seconds, not the 30 s defaults.
const CONFIG = [
  "host:",
  '  ip: "127.0.0.1"',
  '  hostname: "dfget-soak"',
  "scheduler:",
  "  scheduleTimeout: 3s",
  "  cooldownInterval: 60s",
  "download:",
  "  pieceTimeout: 3s",
  "",
].join("\n");

async function check(plan: SoakRunPlan, servers: SoakServers, exit: number | "signal", outDir: string, runTmp: string): Promise<string[]> {
  const problems: string[] = [];
  if (exit === "signal" || !DOCUMENTED_EXITS.has(exit)) problems.push(`exit ${exit} is not one a soak run may end with`);
  const outNames = await readdir(outDir);
  const hidden = outNames.filter((name) => name.startsWith(".soak.bin.dfget."));
  const other = outNames.filter((name) => name !== "soak.bin" && !hidden.includes(name));
  if (exit === 0) {
    const valid = [plan.content, ...plan.faults.flatMap((fault) => fault.alsoValid?.(plan.content, servers) ?? [])].map(sha256);
    const got = outNames.includes("soak.bin") ? sha256(await readFile(join(outDir, "soak.bin"))) : "missing";
    if (!valid.includes(got)) problems.push(`exit 0 but output sha256 ${got.slice(0, 12)} is no valid version`);
    if (hidden.length > 0) problems.push(`exit 0 left ${hidden.join(", ")}`);
  } else {
    if (outNames.includes("soak.bin")) problems.push(`exit ${exit} left a file at -O`);
    if (hidden.length > 0 && !(typeof exit === "number" && KEEPS_PARTIAL.has(exit))) problems.push(`exit ${exit} kept ${hidden.join(", ")}`);
    if (plan.faults.every((fault) => fault.survivable)) problems.push(`exit ${exit} where a retry or another source would have succeeded`);
  }
  if (other.length > 0) problems.push(`left beside the output: ${other.join(", ")}`);
  const leftInTmp = await readdir(runTmp);
  if (leftInTmp.length > 0) problems.push(`left in TMPDIR: ${leftInTmp.join(", ")}`);
  return problems;
}
