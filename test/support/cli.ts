// Runs the BUILT CLI (bin/dfget.js → dist/) as a child process, as users and CI do.
// `npm test` builds first (pretest). Every run has a hard deadline so a hang fails the
// test instead of the suite.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Summary } from "../../src/cli/summary.js";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DFGET_BIN = join(REPO_ROOT, "bin", "dfget.js");

export interface DfgetRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Parsed last stdout line when it is JSON (the --json summary), else undefined. */
  json: DfgetSummary | undefined;
  ms: number;
}

/** The --json summary (cli.md); the shape is the CLI's own type, the tests check the values. */
export type DfgetSummary = Summary;

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  /** Called once the child is spawned (to send signals, or act mid-download). */
  onSpawn?: (child: ChildProcess) => void;
  /** Parse the JSON summary from stderr instead of stdout (with -O -). */
  jsonFromStderr?: boolean;
  stdoutEncoding?: BufferEncoding | "buffer";
  /** Written to the child's stdin, then closed (stdin is empty otherwise). */
  input?: string | Buffer;
  /** Write `input` but leave stdin open (a producer still running) until the child exits. */
  keepStdinOpen?: boolean;
}

/** A clean environment: no user config, no cluster env, no colours. */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    XDG_CONFIG_HOME: "/nonexistent-dfget-test-config",
    NO_COLOR: "1",
    ...extra,
  };
}

export function runDfget(args: string[], opts: RunOptions = {}): Promise<DfgetRun & { stdoutBuffer: Buffer }> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.env ?? baseEnv())) if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [DFGET_BIN, ...args], { cwd: opts.cwd ?? REPO_ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
    // An empty stdin unless the test gives one (as "ignore" would, but writable when asked).
    if (opts.keepStdinOpen) {
      child.stdin.on("error", () => undefined); // EPIPE once the child has gone
      if (opts.input !== undefined) child.stdin.write(opts.input);
    } else {
      child.stdin.end(opts.input ?? "");
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`dfget ${args.join(" ")} did not finish within ${opts.timeoutMs ?? 30_000} ms\n${Buffer.concat(err).toString()}`));
    }, opts.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdoutBuffer = Buffer.concat(out);
      const stdout = stdoutBuffer.toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      resolvePromise({ code, signal, stdout, stderr, stdoutBuffer, json: parseSummary(opts.jsonFromStderr ? stderr : stdout), ms: Date.now() - started });
    });
    opts.onSpawn?.(child);
  });
}

function parseSummary(text: string): DfgetSummary | undefined {
  const lines = text.trim().split("\n");
  const last = lines[lines.length - 1];
  if (!last || !last.startsWith("{")) return undefined;
  try {
    return JSON.parse(last) as DfgetSummary;
  } catch {
    return undefined;
  }
}

/** A temp dir with `out` (for -O) and `state` (for --state-dir); remove() when done. */
export async function workDir(): Promise<{ dir: string; out: string; state: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "dfget-e2e-"));
  return { dir, out: join(dir, "out.bin"), state: join(dir, "state"), remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Work dirs handed out during a test file, all removed by `removeAll()` in `after()`. */
export function workDirs(): { make(): ReturnType<typeof workDir>; removeAll(): Promise<void> } {
  const made: Array<{ remove(): Promise<void> }> = [];
  return {
    async make() {
      const w = await workDir();
      made.push(w);
      return w;
    },
    async removeAll() {
      await Promise.all(made.splice(0).map((d) => d.remove()));
    },
  };
}
