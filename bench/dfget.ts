// Command lines of the tools the bench compares, all writing to disk, and the parsing of
// dfget's --json summary. dfget is the BUILT CLI (bin/dfget.js → dist/) in a clean
// environment: no user config, no cluster variables, no colours.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { baseEnv, DFGET_BIN, REPO_ROOT, type DfgetSummary } from "../test/support/cli.js";
import type { CommandSpec, Sample } from "./measure.js";

export { DFGET_BIN, REPO_ROOT, type DfgetSummary };

export interface DfgetOptions {
  url: string;
  output: string;
  /** A fresh or prepared directory; never the user's. */
  stateDir: string;
  schedulers?: readonly string[];
  config?: string;
  extraArgs?: readonly string[];
  /** PEM file of a CA to trust (an HTTPS origin with a bench-made certificate). */
  caCert?: string;
  timeoutMs: number;
  label?: string;
}

/**
 * dfget has no origin CA option (cli.md): it verifies HTTPS origins against node's store,
 * which NODE_EXTRA_CA_CERTS extends — read by node at start-up, honoured by both undici and
 * the lean range reader's tls.connect. The environment is otherwise the clean baseEnv().
 */
export const dfgetEnv = (caCert?: string): Record<string, string | undefined> =>
  baseEnv(caCert === undefined ? {} : { NODE_EXTRA_CA_CERTS: caCert });

export function dfgetDownload(o: DfgetOptions): CommandSpec {
  const args = [DFGET_BIN, o.url, "-O", o.output, "-q", "--json", "--state-dir", o.stateDir];
  if (o.schedulers !== undefined && o.schedulers.length > 0) args.push("--scheduler", o.schedulers.join(","));
  if (o.config !== undefined) args.push("--config", o.config);
  args.push(...(o.extraArgs ?? []));
  return { label: o.label ?? "dfget", file: process.execPath, args, env: dfgetEnv(o.caCert), cwd: REPO_ROOT, timeoutMs: o.timeoutMs };
}

export function dfgetPlain(label: string, args: readonly string[], timeoutMs: number): CommandSpec {
  return { label, file: process.execPath, args: [DFGET_BIN, ...args], env: baseEnv(), cwd: REPO_ROOT, timeoutMs };
}

export function nodeNoop(timeoutMs: number): CommandSpec {
  return { label: "node -e 0", file: process.execPath, args: ["-e", "0"], env: baseEnv(), cwd: REPO_ROOT, timeoutMs };
}

/** `caCert`: the CA of an HTTPS origin, given with --cacert (verification stays on). */
export function curlDownload(curl: string, url: string, output: string, timeoutMs: number, caCert?: string): CommandSpec {
  const ca = caCert === undefined ? [] : ["--cacert", caCert];
  return { label: "curl -o", file: curl, args: ["-sS", "--fail", ...ca, "-o", output, url], env: baseEnv(), timeoutMs };
}

/**
 * `aria2c -x8` with `-s8`: aria2c's default split is 5, so without it `-x8` alone would
 * open only 5 connections. No preallocation (the default writes the file twice on
 * filesystems without fallocate support); no control file left behind on success.
 */
export function aria2Download(aria2c: string, url: string, output: string, timeoutMs: number, caCert?: string): CommandSpec {
  return {
    label: "aria2c -x8",
    file: aria2c,
    args: [
      ...(caCert === undefined ? [] : [`--ca-certificate=${caCert}`]),
      "-x8",
      "-s8",
      "--file-allocation=none",
      "--allow-overwrite=true",
      "--auto-file-renaming=false",
      "--console-log-level=error",
      "--summary-interval=0",
      "--download-result=hide",
      "-q",
      "-d",
      dirname(output),
      "-o",
      basename(output),
      url,
    ],
    env: baseEnv(),
    timeoutMs,
  };
}

/** The config file P2P runs need: an advertised address the fake cluster can reach. */
export async function writeP2pConfig(dir: string): Promise<string> {
  const path = join(dir, "dfget.yaml");
  await writeFile(path, `host:\n  ip: "127.0.0.1"\n  hostname: "bench"\n`);
  return path;
}

/** A new empty state directory under `dir`. */
export async function freshStateDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return mkdtemp(join(dir, "state-"));
}

export class SummaryError extends Error {
  constructor(label: string, why: string, sample: Sample) {
    super(`${label}: ${why}; stdout: ${sample.stdout.trim().slice(-1000) || "(empty)"}; stderr: ${sample.stderr.trim().slice(-1000) || "(empty)"}`);
    this.name = "SummaryError";
  }
}

/** The --json summary: the last stdout line. */
export function summaryOf(sample: Sample): DfgetSummary {
  const last = sample.stdout.trim().split("\n").pop() ?? "";
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    throw new SummaryError(sample.label, "no JSON summary on stdout", sample);
  }
  if (typeof parsed !== "object" || parsed === null || !("ok" in parsed)) throw new SummaryError(sample.label, "stdout is not a dfget summary", sample);
  const summary = parsed as DfgetSummary;
  if (!summary.ok || sample.code !== 0) throw new SummaryError(sample.label, `download failed (exit ${sample.code}, ${summary.error ?? "no error"})`, sample);
  return summary;
}
