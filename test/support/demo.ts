// `npm run demo`: a whole local Dragonfly cluster in one process — a manager, three
// schedulers, a seed peer and an origin serving a 256 MiB file — and the real dfget
// CLI downloading through it. Midway, the scheduler that owns the task dies; the
// download finishes through the next scheduler on the ring. No cluster needed.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFile, rm, writeFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_FILTERED_QUERY_PARAMS, taskIdOf } from "../../src/task/task-id.js";
import { pieceLengthFor } from "../../src/task/piece-plan.js";
import { ringCandidates } from "../../src/switching/ring.js";
import { startCluster } from "./cluster.js";
import { startSeedParent } from "./parent.js";
import { DFGET_BIN, type DfgetSummary } from "./cli.js";

const SIZE = Number(process.env.DEMO_SIZE ?? 256 * 1024 * 1024);

async function main(): Promise<void> {
  const say = (line: string): void => void process.stderr.write(`demo: ${line}\n`);
  say(`making a ${SIZE / 1024 / 1024} MiB file and a local cluster (manager, 3 schedulers, seed peer, origin)…`);
  const content = randomBytes(SIZE);
  const sha = createHash("sha256").update(content).digest("hex");
  const cluster = await startCluster({ schedulers: 3, origin: { files: { "/demo.bin": content } } });
  const url = cluster.origin!.url("/demo.bin");
  const taskId = taskIdOf({ url: new URL(url).href, tag: "", application: "", filteredQueryParams: DEFAULT_FILTERED_QUERY_PARAMS });
  const pieceLength = pieceLengthFor(SIZE);
  const pieceTotal = Math.ceil(SIZE / pieceLength);
  const seed = await startSeedParent({ content, taskId, pieceLength, pieces: "all", hostname: "demo-seed" });
  cluster.seedParents.push(seed);

  const order = ringCandidates(cluster.schedulerAddrs(), taskId);
  const owner = cluster.schedulers.find((s) => s.addr === order[0])!;
  const killAfter = Math.max(1, Math.floor(pieceTotal / 2));
  owner.dieAfterPieces(killAfter);
  say(`task ${taskId.slice(0, 12)}… is owned by scheduler ${owner.addr}; it will die after ${killAfter} of ${pieceTotal} pieces`);

  const dir = await mkdtemp(join(tmpdir(), "dfget-demo-"));
  const out = join(dir, "demo.bin");
  const config = join(dir, "dfget.yaml");
  await writeFile(config, `host:\n  ip: 127.0.0.1\n  hostname: dfget-demo\nscheduler:\n  scheduleTimeout: 5s\n`);
  const args = [DFGET_BIN, url, "-O", out, "--manager", cluster.manager.addr, "--config", config, "--state-dir", join(dir, "state"), "--json"];
  say(`running: dfget ${url} -O ${out} --manager ${cluster.manager.addr} --json`);

  const started = Date.now();
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const wall = Date.now() - started;

  const summary = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as DfgetSummary;
  const got = code === 0 ? createHash("sha256").update(await readFile(out)).digest("hex") : "(no file)";
  say("────────────────────────────────────────────────────────");
  say(`exit code ${code} in ${(wall / 1000).toFixed(1)} s`);
  for (const a of summary.scheduler?.attempts ?? []) say(`  scheduler ${a.addr}: ${a.outcome} (${Math.round(a.ms)} ms)`);
  say(`finished through ${summary.scheduler?.used} after ${summary.scheduler?.switches} switch(es)`);
  say(`pieces: ${summary.pieces?.fromParents} from parents, ${summary.pieces?.fromSource} from the origin, of ${summary.pieces?.total}`);
  say(`bytes served: seed peer ${seed.bytesServed()}, origin ${cluster.origin!.bytesServed()} (file ${SIZE})`);
  say(`registrations: ${cluster.schedulers.map((s) => `${s.name} ${s.registrations().length}`).join(", ")}`);
  say(`sha256 ${got === sha ? "OK" : "MISMATCH"} ${got}`);

  await seed.close();
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
  process.exitCode = code === 0 && got === sha && (summary.scheduler?.switches ?? 0) >= 1 ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
