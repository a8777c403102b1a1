// Runs one command as a child process and measures it: wall time from this process's
// monotonic clock around spawn → exit (10 ms resolution of `time %e` is too coarse for
// start-up figures), and peak RSS and CPU time from GNU time (`/usr/bin/time -f '%M %U %S'`),
// which reads the child's rusage. Every run has a deadline; a run past it is killed with its
// whole process group, so a hung download cannot hang the bench.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export const GNU_TIME = "/usr/bin/time";
const OUTPUT_CAP_BYTES = 1024 * 1024;
/** Process groups of runs in flight, so an interrupted bench can end them. */
const running = new Set<number>();

/** SIGKILLs the process group of every measured run still in flight (bench interrupted). */
export function killRunning(): void {
  for (const pgid of running) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  running.clear();
}

export interface CommandSpec {
  /** Shown in errors and tables. */
  label: string;
  file: string;
  args: readonly string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs: number;
}

export interface Sample {
  label: string;
  wallMs: number;
  /** Peak resident set of the measured command in KiB; undefined without GNU time. */
  peakRssKiB: number | undefined;
  /** User + system CPU time of the measured command in ms (10 ms resolution); undefined without GNU time. */
  cpuMs: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class CommandFailedError extends Error {
  constructor(
    readonly sample: Sample,
    why: string,
  ) {
    super(`${sample.label}: ${why} (exit ${sample.code ?? sample.signal}); stderr: ${sample.stderr.trim().slice(-2000) || "(empty)"}`);
    this.name = "CommandFailedError";
  }
}

export const hasGnuTime = (): boolean => existsSync(GNU_TIME);

/** The path of `name` on PATH (plus the sbin directories, where Debian puts nginx), or undefined. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function cleanEnv(env: Record<string, string | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env ?? process.env)) if (value !== undefined) out[key] = value;
  return out;
}

/** Runs `spec` once and resolves with its measurements, whatever its exit code. */
export async function measure(spec: CommandSpec): Promise<Sample> {
  const timeDir = hasGnuTime() ? await mkdtemp(join(tmpdir(), "dfget-bench-time-")) : undefined;
  const timeFile = timeDir === undefined ? undefined : join(timeDir, "time.txt");
  const [file, args] =
    timeFile === undefined ? [spec.file, [...spec.args]] : [GNU_TIME, ["-f", "%e %M %U %S", "-o", timeFile, spec.file, ...spec.args]];
  try {
    const started = process.hrtime.bigint();
    const result = await new Promise<Omit<Sample, "label" | "wallMs" | "peakRssKiB" | "cpuMs">>((resolve, reject) => {
      const child = spawn(file, args, { cwd: spec.cwd, env: cleanEnv(spec.env), stdio: ["ignore", "pipe", "pipe"], detached: true });
      if (child.pid !== undefined) running.add(child.pid);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      child.stdout.on("data", (chunk: Buffer) => {
        if (outBytes < OUTPUT_CAP_BYTES) out.push(chunk);
        outBytes += chunk.length;
      });
      child.stderr.on("data", (chunk: Buffer) => {
        if (errBytes < OUTPUT_CAP_BYTES) err.push(chunk);
        errBytes += chunk.length;
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        // detached: the child leads its own process group; kill time and the tool together.
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            child.kill("SIGKILL");
          }
        }
      }, spec.timeoutMs);
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (child.pid !== undefined) running.delete(child.pid);
        const stderr = Buffer.concat(err).toString("utf8");
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: timedOut ? `${stderr}\n[bench] killed after ${spec.timeoutMs} ms` : stderr,
        });
      });
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const usage = timeFile === undefined ? undefined : await readUsage(timeFile);
    return { label: spec.label, wallMs, peakRssKiB: usage?.peakRssKiB, cpuMs: usage?.cpuMs, ...result };
  } finally {
    if (timeDir !== undefined) await rm(timeDir, { recursive: true, force: true });
  }
}

/** Like measure(), but a non-zero exit is an error. */
export async function measureOk(spec: CommandSpec): Promise<Sample> {
  const sample = await measure(spec);
  if (sample.code !== 0) throw new CommandFailedError(sample, "failed");
  return sample;
}

/** GNU time writes "Command exited with non-zero status N" before the format line on failure. */
async function readUsage(path: string): Promise<{ peakRssKiB: number; cpuMs: number } | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  const last = text.trim().split("\n").pop() ?? "";
  const match = /^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/.exec(last.trim());
  if (!match) return undefined;
  return { peakRssKiB: Number(match[2]), cpuMs: Math.round((Number(match[3]) + Number(match[4])) * 1000) };
}
