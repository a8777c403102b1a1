// Figure 5 — start-up: against `node -e 0`, the floor any node CLI pays, all in the same
// rounds: `dfget --version`, `dfget --help`, a 1-byte download straight from the bench
// origin (`-q`, no scheduler: HEAD/GET, write, fsync, rename — the whole path for a tiny
// file), and `dfget --dry-run` (one HEAD, ring order, cooldown state; nothing downloaded).
// Every ratio is taken round by round against node -e 0 of the same round.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { checkSameBytes, type BenchContext } from "../context.js";
import { dfgetPlain, freshStateDir, nodeNoop } from "../dfget.js";
import { cpuOf, ensureDir, interleaved, rssOf, wallsOf, type Contender } from "../loop.js";
import { ratioGoal, type Goal } from "../report.js";
import { fmtCpu, fmtDuration, fmtRatio, fmtRounds, fmtRssKiB, pairRatios, spread } from "../stats.js";
import type { FigureResult } from "./back-to-source.js";

const NODE = "node -e 0";
const VERSION = "dfget --version";
const HELP = "dfget --help";
const ONE_BYTE = "dfget 1-byte download -q";
const DRY_RUN = "dfget --dry-run --json";
const DEADLINE_MS = 30_000;
/** Never contacted by a dry run; only placed on the ring. */
const SCHEDULERS = ["127.0.0.1:18002", "127.0.0.1:28002", "127.0.0.1:38002"];
/** Issue 12's goals: wall ÷ node -e 0, median of the rounds. */
export const STARTUP_LIMITS = { oneByte: 3, help: 2, version: 1.5 } as const;

function failed(label: string, why: string, stdout: string, stderr: string): Error {
  return new Error(`${label}: ${why}; stdout: ${stdout.trim().slice(-500) || "(empty)"}; stderr: ${stderr.trim().slice(-500) || "(empty)"}`);
}

export async function startupFigure(ctx: BenchContext): Promise<FigureResult> {
  const dir = await ensureDir(join(ctx.work, "startup"));
  const url = ctx.origin.url(ctx.failover.path);
  const oneByteUrl = ctx.origin.url(ctx.oneByte.path);
  const oneByteOut = (round: number): string => join(dir, `one-${round + 1}.bin`);
  const contenders: Contender[] = [
    { label: NODE, command: () => nodeNoop(DEADLINE_MS) },
    {
      label: VERSION,
      command: () => dfgetPlain(VERSION, ["--version"], DEADLINE_MS),
      after: (s) => {
        if (s.code !== 0 || !s.stdout.startsWith("dfget ")) throw failed(VERSION, `exit ${s.code}`, s.stdout, s.stderr);
      },
    },
    {
      label: HELP,
      command: () => dfgetPlain(HELP, ["--help"], DEADLINE_MS),
      after: (s) => {
        if (s.code !== 0 || !/usage/i.test(s.stdout)) throw failed(HELP, `exit ${s.code}`, s.stdout, s.stderr);
      },
    },
    {
      label: ONE_BYTE,
      command: async (round) =>
        dfgetPlain(ONE_BYTE, [oneByteUrl, "-O", oneByteOut(round), "-q", "--state-dir", await freshStateDir(join(dir, "state"))], DEADLINE_MS),
      after: async (s, round) => {
        if (s.code !== 0) throw failed(ONE_BYTE, `exit ${s.code}`, s.stdout, s.stderr);
        await checkSameBytes(ONE_BYTE, oneByteOut(round), ctx.oneByte.content);
        await rm(oneByteOut(round));
      },
    },
    {
      label: DRY_RUN,
      command: async () =>
        dfgetPlain(DRY_RUN, [url, "--dry-run", "--json", "--scheduler", SCHEDULERS.join(","), "--state-dir", await freshStateDir(join(dir, "state"))], DEADLINE_MS),
      after: (s) => {
        if (s.code !== 0 || !s.stdout.includes('"taskId"')) throw failed(DRY_RUN, `exit ${s.code}`, s.stdout, s.stderr);
      },
    },
  ];
  const samples = await interleaved(contenders, { runs: ctx.knobs.runs, rotate: true, log: ctx.log });
  const nodeWalls = wallsOf(samples.get(NODE) ?? []);
  const ratiosOf = (label: string): number[] => pairRatios(wallsOf(samples.get(label) ?? []), nodeWalls);
  const rows = contenders.map((c) => {
    const runs = samples.get(c.label) ?? [];
    const ratios = ratiosOf(c.label);
    return [
      c.label,
      fmtDuration(spread(wallsOf(runs))),
      c.label === NODE ? "1×" : fmtRatio(spread(ratios)),
      c.label === NODE ? "—" : fmtRounds(ratios),
      fmtCpu(spread(cpuOf(runs))),
      fmtRssKiB(spread(rssOf(runs))),
    ];
  });
  const { oneByte, help, version } = STARTUP_LIMITS;
  const goals: Goal[] = [
    ratioGoal(`1-byte download ≤ ${oneByte} × node -e 0`, ratiosOf(ONE_BYTE), (m) => m <= oneByte, "did not run"),
    ratioGoal(`dfget --help ≤ ${help} × node -e 0`, ratiosOf(HELP), (m) => m <= help, "did not run"),
    ratioGoal(`dfget --version ≤ ${version} × node -e 0`, ratiosOf(VERSION), (m) => m <= version, "did not run"),
  ];
  return {
    table: {
      title: "5. Start-up",
      headers: ["command", "wall (median, min–max)", "÷ node -e 0 (median, min–max)", "÷ node -e 0, each round", "CPU user+sys (median, min–max)", "peak RSS (median, min–max)"],
      rows,
      notes: [
        `the 1-byte download fetches ${oneByteUrl.replace(/^http:\/\/[^/]+/, "")} from ${ctx.origin.description} with no scheduler, -q, a fresh --state-dir; the bytes are checked.`,
        `the dry run HEADs ${ctx.origin.description} once and places 3 static schedulers on the ring (none is contacted); fresh --state-dir per run.`,
      ],
    },
    goals,
  };
}
