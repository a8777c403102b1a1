// `dfget URL1 URL2 … -O DIR/`, `dfget -i LIST|- -O DIR/`, `dfget -r s3://B/P/ -O DIR/`:
// gather the entries (positional URLs, list lines, prefix listings), name them and find
// conflicts before any download, make DIR, then run them over ONE process-wide host and
// pair of upload servers (cli/compose.ts), at most --max-concurrent-files at a time.
// --json: one summary per file as it finishes, then the batch's final object.
import { mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { RunConfig } from "../config/types.js";
import { ExitCode, UsageError, WriteError, exitCodeOf, messageOf } from "../errors.js";
import { isS3Url, refuseUnsupportedObjectStorage } from "../transport/s3-location.js";
import { includeFilter } from "./batch-glob.js";
import { parseInputList, readInputList } from "./batch-input.js";
import { planBatch, type BatchEntry, type BatchSource } from "./batch-plan.js";
import { BatchProgress } from "./batch-progress.js";
import { listPrefix } from "./batch-recursive.js";
import { batchSummary, runBatch, type FileOutcome } from "./batch.js";
import type { ProcessParts } from "./compose.js";
import { parseSourceUrl } from "./option-values.js";
import { abortOnSignals } from "./signals.js";

export { isBatchRun } from "./batch-kind.js";

/** The run's config for one entry of the batch. */
export function fileConfig(config: RunConfig, entry: BatchEntry): RunConfig {
  return { ...config, url: entry.url, urls: [entry.url], output: entry.output, inputFile: undefined, recursive: false, includeFiles: [] };
}

export async function runBatchCommand(config: RunConfig, version: string): Promise<number> {
  const started = Date.now();
  const controller = new AbortController();
  const running = new Set<{ removeTempSync(): void }>();
  const disarm = abortOnSignals(controller, config.timeoutMs, running);
  const progressStream = process.stderr;
  // Nothing was downloaded: the error line, and with --json the batch's final object.
  const failedBeforeFiles = (err: unknown): number => {
    const failure = controller.signal.aborted ? controller.signal.reason : err;
    progressStream.write(`dfget: error: ${messageOf(failure)}\n`);
    if (config.json) writeLine(batchSummary({ exitCode: exitCodeOf(failure), files: 0, failed: 0, bytesWritten: 0, outcomes: [] }, Date.now() - started));
    return exitCodeOf(failure);
  };
  let entries: BatchEntry[];
  try {
    const sources = await gatherSources(config, version, controller.signal);
    if (!config.dryRun) await ensureDirectory(config.output);
    entries = planBatch(sources, config.output);
  } catch (err) {
    disarm();
    return failedBeforeFiles(err);
  }
  try {
    if (config.dryRun) return await dryRunAll(config, version, entries);
    const shared = await import("./compose.js").then((compose) => compose.processPartsFor(config, version)).catch((err: unknown) => ({ failed: err }));
    if ("failed" in shared) return failedBeforeFiles(shared.failed);
    return await downloadAll(config, version, entries, shared, controller.signal, started, running);
  } finally {
    disarm();
  }
}

/** Positional URLs, then -i lines; with -r each positional URL is a prefix to list. */
async function gatherSources(config: RunConfig, version: string, signal: AbortSignal): Promise<BatchSource[]> {
  const sources: BatchSource[] = [];
  if (config.recursive) {
    const include = includeFilter(config.includeFiles);
    // The S3 side (signer, XML parser) is loaded only when a prefix is listed.
    const { s3ClientFor } = await import("../transport/s3-origin.js");
    const client = s3ClientFor(config, version);
    try {
      for (const url of config.urls) {
        const listing = await listPrefix(client, url, include, { signal, retries: config.download.retries });
        sources.push(...listing.sources);
      }
    } finally {
      await client.close();
    }
  } else {
    config.urls.forEach((url, index) => sources.push({ label: `argument ${index + 1}`, url }));
  }
  if (config.inputFile !== undefined) {
    const name = config.inputFile === "-" ? "stdin" : config.inputFile;
    for (const line of parseInputList(await readInputList(config.inputFile, signal))) {
      const label = `line ${line.line}`;
      try {
        refuseUnsupportedObjectStorage(line.url);
        sources.push({ label, url: parseSourceUrl(line.url), relative: line.path });
      } catch (err) {
        sources.push({ label, url: line.url, relative: line.path, failure: new UsageError(`${name} ${label}: ${messageOf(err)}`) });
      }
    }
  }
  return sources;
}

/** -O DIR must be a directory; it is created when its parent exists (as `mkdir DIR`). */
async function ensureDirectory(dir: string): Promise<void> {
  const kind = await stat(dir).then((s) => (s.isDirectory() ? "dir" : "file"), () => "missing");
  if (kind === "dir") return;
  if (kind === "file") throw new UsageError(`-O ${dir}: several files need a directory, and this is a file`);
  try {
    await mkdir(dir);
  } catch (err) {
    throw new WriteError(`-O ${dir}: cannot create the directory (${messageOf(err)}); its parent must exist`, { cause: err });
  }
}

async function dryRunAll(config: RunConfig, version: string, entries: readonly BatchEntry[]): Promise<number> {
  const { runDryRun } = await import("./dry-run.js");
  let exitCode: number = ExitCode.ok;
  for (const entry of entries) {
    try {
      if (entry.failure) throw entry.failure;
      process.stdout.write(await runDryRun(fileConfig(config, entry), version, (m) => process.stderr.write(`dfget: error: ${m}\n`)));
    } catch (err) {
      process.stderr.write(`dfget: error: ${entry.label} ${entry.url}: ${messageOf(err)}\n`);
      if (exitCode === ExitCode.ok) exitCode = exitCodeOf(err);
    }
  }
  return exitCode;
}

async function downloadAll(
  config: RunConfig,
  version: string,
  entries: readonly BatchEntry[],
  shared: ProcessParts,
  signal: AbortSignal,
  started: number,
  running: Set<{ removeTempSync(): void }>,
): Promise<number> {
  const modules = await loadRunModules();
  const { buildSummary, emptyResult } = modules.summary;
  const { originFor } = modules.compose;
  const progress = new BatchProgress({ progress: config.progress, color: config.color, quiet: config.quiet, stream: process.stderr, env: process.env, files: entries.length });
  const report = (entry: BatchEntry, outcome: FileOutcome, summary: unknown): void => {
    progress.finish(entry, outcome);
    if (config.json) writeLine(summary);
  };
  // s3:// files share one S3 client (it pins each object by its own ETag, and its
  // connections are reused). An HTTP OriginClient pins the first object it HEADs, so every
  // http(s) file gets its own, closed after the file.
  let s3: ReturnType<typeof originFor> | undefined;
  let notStarted = 0;
  try {
    const outcome = await runBatch(entries, {
      maxConcurrent: config.maxConcurrentFiles,
      signal,
      refused: (entry, failure) => {
        const outcome = { code: exitCodeOf(failure), bytesWritten: 0, error: failure };
        report(entry, outcome, buildSummary(emptyResult(entry.url, entry.output, "none"), { code: outcome.code, error: failure, durationMs: 0 }));
        return outcome;
      },
      notStarted: (entry, reason) => {
        const outcome = { code: exitCodeOf(reason), bytesWritten: 0, error: reason };
        notStarted++;
        progress.finish(entry, outcome, { silent: true });
        if (config.json) writeLine(buildSummary(emptyResult(entry.url, entry.output, "none"), { code: outcome.code, error: reason, durationMs: 0 }));
        return outcome;
      },
      run: (entry, runSignal) => runOneFile(entry, runSignal, { config, version, shared, running, progress, report, modules, s3: (cfg) => (s3 ??= originFor(cfg, version)) }),
    });
    progress.stop();
    // One line for the files an interrupt kept from starting, not one per file.
    if (notStarted > 0) process.stderr.write(`dfget: ${notStarted} of ${outcome.files} files not started (${messageOf(signal.reason)})\n`);
    if (config.json) writeLine(batchSummary(outcome, Date.now() - started));
    else if (outcome.failed > 0) process.stderr.write(`dfget: ${outcome.failed} of ${outcome.files} files failed (exit ${outcome.exitCode})\n`);
    return outcome.exitCode;
  } finally {
    progress.stop();
    await shared.close();
    await s3?.then((client) => client.close()).catch(() => undefined);
  }
}

async function loadRunModules() {
  const [engine, summary, compose] = await Promise.all([import("../engine/run.js"), import("./summary.js"), import("./compose.js")]);
  return { engine, summary, compose };
}

type RunModules = Awaited<ReturnType<typeof loadRunModules>>;

interface FileRunContext {
  config: RunConfig;
  version: string;
  shared: Awaited<ReturnType<RunModules["compose"]["processPartsFor"]>>;
  running: Set<{ removeTempSync(): void }>;
  progress: BatchProgress;
  report: (entry: BatchEntry, outcome: FileOutcome, summary: unknown) => void;
  modules: RunModules;
  /** The one S3 client of the batch, made on first use. */
  s3: (cfg: RunConfig) => ReturnType<RunModules["compose"]["originFor"]>;
}

/** One file of the batch as one DownloadRun on the batch's shared parts; never rejects. */
async function runOneFile(entry: BatchEntry, runSignal: AbortSignal, ctx: FileRunContext): Promise<FileOutcome> {
  const { DownloadRun } = ctx.modules.engine;
  const { buildSummary, emptyResult } = ctx.modules.summary;
  const { originFor, runPartsFor } = ctx.modules.compose;
  const cfg = fileConfig(ctx.config, entry);
  let result;
  try {
    await mkdir(dirname(entry.output), { recursive: true }).catch((err: unknown) => {
      throw new WriteError(`cannot create ${dirname(entry.output)}: ${messageOf(err)}`, { cause: err });
    });
    const own = isS3Url(cfg.url) ? undefined : await originFor(cfg, ctx.version);
    const parts = runPartsFor(cfg, ctx.shared, own ?? (await ctx.s3(cfg)));
    const run = new DownloadRun(parts);
    ctx.progress.follow(entry, run);
    ctx.running.add(run);
    try {
      result = await run.run(runSignal);
    } finally {
      ctx.running.delete(run);
      await own?.close();
    }
  } catch (err) {
    result = { ...emptyResult(entry.url, entry.output, "none"), error: err };
  }
  const failure = result.error === undefined ? undefined : runSignal.aborted ? runSignal.reason : result.error;
  const outcome: FileOutcome = { code: failure === undefined ? ExitCode.ok : exitCodeOf(failure), bytesWritten: result.bytesWritten, error: failure };
  ctx.report(entry, outcome, buildSummary(result, { code: outcome.code, error: failure, durationMs: result.timings.durationMs }));
  return outcome;
}

function writeLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

