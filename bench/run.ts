// `npm run bench`: dfget measured side by side with curl and aria2c, and its failover
// cost, in one run on one origin. Prints each table as it completes, then writes
// bench/results.md (and the README's bench table, where the README has the markers).
// Knobs: BENCH_RUNS (5), BENCH_SIZE_MIB (1024), BENCH_QUICK=1 (1 run, 64 MiB smoke check),
// BENCH_WORK_DIR (scratch space, default the OS temp dir), BENCH_OUT (results file),
// BENCH_ORIGIN=test (the test origin even when nginx is installed).
// Benchmarks are never part of `npm test`. See bench/README.md.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MiB, KnobError, knobsFrom, makeContent, type BenchContext, type Tools } from "./context.js";
import { REPO_ROOT } from "./dfget.js";
import { backToSourceFigure, type FigureResult } from "./figures/back-to-source.js";
import { failoverFigure } from "./figures/failover.js";
import { memoryFigure } from "./figures/memory.js";
import { p2pFigure } from "./figures/p2p.js";
import { startupFigure } from "./figures/startup.js";
import { findTool, hasGnuTime, killRunning } from "./measure.js";
import { startBenchOrigin, type BenchOrigin } from "./origin.js";
import { makeBenchTls, type BenchTls } from "./tls.js";
import {
  commitOf,
  goalsTable,
  machineInfo,
  readmeSnippet,
  README_BEGIN,
  README_END,
  renderTable,
  updateReadme,
  writeResults,
  type Goal,
  type Results,
  type Table,
} from "./report.js";
import { fmtSize } from "./stats.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

const say = (line: string): void => void process.stderr.write(`bench: ${line}\n`);
const print = (text: string): void => void process.stdout.write(`\n${text}\n`);
/** Set by SIGINT/SIGTERM: runs in flight are killed, and their failures are not news. */
let interrupted = false;

async function main(): Promise<number> {
  let knobs;
  try {
    knobs = knobsFrom(process.env);
  } catch (error) {
    if (error instanceof KnobError) {
      say(error.message);
      return 2;
    }
    throw error;
  }
  if (!existsSync(join(REPO_ROOT, "dist", "cli", "main.js"))) {
    say("dist/ is missing: run `npm run bench` (it builds first), or `npm run build`");
    return 2;
  }
  const tools: Tools = { curl: findTool("curl"), aria2c: findTool("aria2c"), nginx: findTool("nginx") };
  const missing = Object.entries(tools).filter(([, path]) => path === undefined).map(([name]) => name);
  if (missing.length > 0) say(`not installed: ${missing.join(", ")} (full comparison: apt-get update && apt-get install -y nginx curl aria2)`);
  if (!hasGnuTime()) say("/usr/bin/time is missing: no peak RSS figures (apt-get install -y time)");

  const workRoot = process.env.BENCH_WORK_DIR || os.tmpdir();
  await mkdir(workRoot, { recursive: true });
  const work = await mkdtemp(join(workRoot, "dfget-bench-"));
  let origin: BenchOrigin | undefined;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    say("interrupted: stopping runs and cleaning up");
    killRunning();
    void Promise.resolve(origin?.close())
      .catch(() => undefined)
      .then(() => rm(work, { recursive: true, force: true }))
      .finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const started = new Date();
  const tables: Table[] = [];
  const goals: Goal[] = [];
  let failures = 0;
  try {
    say(`${knobs.quick ? "QUICK smoke check: " : ""}${knobs.runs} run(s) per figure after a warm-up, big file ${fmtSize(knobs.size)}; scratch in ${work}`);
    say(`making random test files (${fmtSize(knobs.size)}, ${fmtSize(knobs.smallSize)}, ${fmtSize(knobs.failoverSize)})…`);
    const large = { path: "/large.bin", content: makeContent(knobs.size) };
    const small = { path: "/small.bin", content: makeContent(knobs.smallSize) };
    const failover = { path: "/failover.bin", content: makeContent(knobs.failoverSize) };
    const oneByte = { path: "/one.bin", content: makeContent(1) };
    const preferNginx = process.env.BENCH_ORIGIN !== "test";
    const files = { [large.path]: large.content, [small.path]: small.content, [failover.path]: failover.content, [oneByte.path]: oneByte.content };
    const tls = preferNginx && tools.nginx !== undefined ? await benchTls(join(work, "tls")) : undefined;
    origin = await startBenchOrigin(work, files, say, preferNginx, tls);
    say(`origin: ${origin.description}${origin.https === undefined ? "; no HTTPS" : `; HTTPS: ${origin.https.description}`}`);
    const ctx: BenchContext = { knobs, tools, work, large, small, failover, oneByte, origin, log: (line) => say(`  ${line}`) };

    const figure = async <R extends FigureResult>(name: string, run: () => Promise<R>): Promise<R | undefined> => {
      say(`${name}…`);
      try {
        const result = await run();
        tables.push(result.table);
        goals.push(...result.goals);
        print(renderTable(result.table));
        return result;
      } catch (error) {
        if (interrupted) throw error;
        failures += 1;
        const message = error instanceof Error ? error.message : String(error);
        say(`${name} FAILED: ${message}`);
        const table: Table = { title: `${name} — did not complete`, headers: ["error"], rows: [[message.slice(0, 2000)]], notes: [] };
        tables.push(table);
        print(renderTable(table));
        // Its goals are not met: a figure fails on wrong bytes, a failed run or a timeout.
        goals.push({ goal: `${name}: the figure's goals`, measured: `did not complete: ${message.slice(0, 200)}`, verdict: "FAIL" });
        return undefined;
      }
    };

    const b2s = await figure("1. back-to-source over HTTP", () => backToSourceFigure(ctx, "http"));
    const b2sTls = await figure("2. back-to-source over HTTPS", () => backToSourceFigure(ctx, "https"));
    const p2p = await figure("3. P2P", () => p2pFigure(ctx));
    await figure("4. failover cost", () => failoverFigure(ctx));
    await figure("5. start-up", () => startupFigure(ctx));
    await figure("6. memory", () =>
      memoryFigure(ctx, { http: b2s?.dfgetRssKiB ?? [], https: b2sTls?.dfgetRssKiB ?? [], p2p: p2p?.oneParentRssKiB ?? [] }),
    );

    print(renderTable(goalsTable(goals)));
    const results: Results = {
      date: started,
      commit: await commitOf(REPO_ROOT),
      machine: await machineInfo({ nginx: tools.nginx, curl: tools.curl, aria2c: tools.aria2c }),
      settings: [
        `runs: ${knobs.runs} per figure after one warm-up${knobs.quick ? " (BENCH_QUICK smoke check: not for publishing)" : ""}`,
        `file sizes: ${fmtSize(knobs.size)} (figures 1, 2, 3, 6), ${fmtSize(knobs.smallSize)} (figure 6), ${fmtSize(knobs.failoverSize)} (figures 4, 5), 1 byte (figure 5)`,
        `origin: ${origin.description}; HTTPS: ${origin.https?.description ?? "none (needs nginx and openssl)"}`,
        `wall time: spawn to exit, measured by the bench; peak RSS: GNU time %M; CPU: GNU time %U + %S`,
      ],
      tables,
      goals,
    };
    const defaultOut = knobs.quick ? join(BENCH_DIR, "work", "results.quick.md") : join(BENCH_DIR, "results.md");
    const outPath = process.env.BENCH_OUT || defaultOut;
    await mkdir(dirname(outPath), { recursive: true });
    await writeResults(outPath, results);
    say(`results written to ${outPath}`);
    if (!knobs.quick && failures === 0 && knobs.size >= 1024 * MiB) {
      const readme = join(REPO_ROOT, "README.md");
      const updated = await updateReadme(readme, readmeSnippet(results));
      say(updated ? "README bench table updated" : `README.md has no ${README_BEGIN} … ${README_END} markers: bench table not written there`);
    }
  } finally {
    await origin?.close();
    await rm(work, { recursive: true, force: true });
  }
  return failures === 0 ? 0 : 1;
}

/** TLS material for the HTTPS origin, or undefined (said why) when openssl is missing or fails. */
async function benchTls(dir: string): Promise<BenchTls | undefined> {
  const openssl = findTool("openssl");
  if (openssl === undefined) {
    say("openssl is not installed: no HTTPS origin, figure 2 skipped (apt-get install -y openssl)");
    return undefined;
  }
  try {
    return await makeBenchTls(openssl, dir);
  } catch (error) {
    say(`no HTTPS origin: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    killRunning();
    if (interrupted) return;
    say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
