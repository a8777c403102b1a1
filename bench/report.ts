// Tables (markdown, printed as each figure completes), the goal verdicts, and the files
// a bench run leaves: bench/results.md (machine, date, commit, every table) and — only
// where the README carries the markers — the short table in the README.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import { fmtRatio, fmtRounds, spread } from "./stats.js";

export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
  /** Lines under the table: what was measured, what was skipped and why. */
  notes: string[];
}

export type Verdict = "pass" | "FAIL" | "n/a";

export interface Goal {
  goal: string;
  measured: string;
  verdict: Verdict;
  /** The value of every round behind `measured`, e.g. "0.86, 0.91, 0.88"; "" when not per round. */
  rounds?: string;
}

export interface Results {
  date: Date;
  commit: string;
  machine: string[];
  settings: string[];
  tables: Table[];
  goals: Goal[];
}

export const README_BEGIN = "<!-- bench:begin -->";
export const README_END = "<!-- bench:end -->";

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderTable(table: Table): string {
  const lines = [
    `### ${table.title}`,
    "",
    `| ${table.headers.map(cell).join(" | ")} |`,
    `|${table.headers.map(() => "---").join("|")}|`,
    ...table.rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ];
  if (table.notes.length > 0) lines.push("", ...table.notes.map((note) => `- ${note}`));
  return `${lines.join("\n")}\n`;
}

export function verdict(ok: boolean | undefined): Verdict {
  return ok === undefined ? "n/a" : ok ? "pass" : "FAIL";
}

export function goalsTable(goals: readonly Goal[]): Table {
  return {
    title: "Goals (ratios and differences taken pair by pair in this run)",
    headers: ["goal", "measured (median, min–max)", "each round", "verdict"],
    rows: goals.map((g) => [g.goal, g.measured, g.rounds || "—", g.verdict]),
    notes: [],
  };
}

/**
 * A goal judged on the median of per-round ratios; `missing` is what `measured` says when
 * there are none (a reference tool not installed, a figure that could not run).
 */
export function ratioGoal(goal: string, ratios: readonly number[], pass: (median: number) => boolean, missing: string): Goal {
  const s = spread(ratios);
  return {
    goal,
    measured: s.n > 0 ? fmtRatio(s) : missing,
    verdict: verdict(s.n > 0 ? pass(s.median) : undefined),
    rounds: fmtRounds(ratios),
  };
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 5000 }, (error, stdout, stderr) => resolve(error ? "" : `${stdout}${stderr}`.trim()));
  });
}

/** `abc1234` or `abc1234 (+ uncommitted changes)`; read-only git commands. */
export async function commitOf(repo: string): Promise<string> {
  const head = await run("git", ["-C", repo, "rev-parse", "--short=12", "HEAD"]);
  if (!head) return "unknown (not a git checkout)";
  const dirty = await run("git", ["-C", repo, "status", "--porcelain", "--untracked-files=no"]);
  return dirty ? `${head} (+ uncommitted changes)` : head;
}

export async function machineInfo(tools: Record<string, string | undefined>): Promise<string[]> {
  const cpus = os.cpus();
  let distro = "";
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(await readFile("/etc/os-release", "utf8"))?.[1] ?? "";
  } catch {
    distro = os.type();
  }
  const lines = [
    `CPU: ${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown"}`,
    `memory: ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    `OS: ${distro || os.type()}, kernel ${os.release()}`,
    `node ${process.version}`,
    `load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(", ")}`,
  ];
  for (const [name, path] of Object.entries(tools)) {
    if (path === undefined) {
      lines.push(`${name}: not installed`);
      continue;
    }
    const version = name === "nginx" ? await run(path, ["-v"]) : await run(path, ["--version"]);
    // First line, without curl's long list of libraries in parentheses and after.
    const first = version.split("\n")[0]?.replace(/\s*\(.*$/, "").trim();
    lines.push(`${name}: ${first || path}`);
  }
  return lines;
}

export function renderResults(results: Results): string {
  const parts = [
    "# dfget benchmark results",
    "",
    "Written by `npm run bench` (bench/run.ts); see bench/README.md for what each figure means.",
    "",
    `- date: ${results.date.toISOString()}`,
    `- commit: ${results.commit}`,
    ...results.machine.map((line) => `- ${line}`),
    ...results.settings.map((line) => `- ${line}`),
    "",
    renderTable(goalsTable(results.goals)),
    ...results.tables.map(renderTable),
  ];
  return parts.join("\n");
}

export async function writeResults(path: string, results: Results): Promise<void> {
  await writeFile(path, renderResults(results));
}

/** The short table for the README: one line per goal. */
export function readmeSnippet(results: Results): string {
  const when = results.date.toISOString().slice(0, 10);
  return [
    `Measured ${when} at ${results.commit} (${results.machine[0] ?? ""}); full tables in bench/results.md, \`npm run bench\` to reproduce.`,
    "",
    "| goal | measured | |",
    "|---|---|---|",
    ...results.goals.map((g) => `| ${cell(g.goal)} | ${cell(g.measured)} | ${g.verdict} |`),
    "",
  ].join("\n");
}

/**
 * Replaces the text between README_BEGIN and README_END. A README without both markers is
 * left alone (false): the bench never rewrites prose it does not own.
 */
export async function updateReadme(path: string, snippet: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return false;
  }
  const begin = text.indexOf(README_BEGIN);
  const end = text.indexOf(README_END);
  if (begin < 0 || end < begin) return false;
  const updated = `${text.slice(0, begin + README_BEGIN.length)}\n${snippet}${text.slice(end)}`;
  if (updated !== text) await writeFile(path, updated);
  return true;
}
