// The dfget command: parse, run one download (or a dry run), render, summarise, and
// map whatever happened to an exit code. The only module that decides exit codes.
// Heavy modules (gRPC, undici, yargs, the S3 signer) are imported only on the path that
// needs them: `dfget --version` in a script loop should cost little more than starting node.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { ExitCode, WriteError, UsageError, exitCodeOf } from "../errors.js";
import type { RunConfig } from "../config/types.js";
import { ERROR_PREFIX, userMessage } from "./error-text.js";
import { abortOnSignals } from "./signals.js";
import { quickAnswer } from "./quick-answer.js";
import type { RunResult } from "../engine/result.js";
import type { Renderer } from "./render.js";

export function packageVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = require("../../package.json") as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const version = packageVersion();
  // Answered without loading the option parser (yargs): see quick-answer.ts.
  const quick = quickAnswer(argv);
  if (quick === "version") {
    process.stdout.write(`dfget ${version}\n`);
    return ExitCode.ok;
  }
  if (quick === "help") {
    process.stdout.write((await import("./help.js")).helpText());
    return ExitCode.ok;
  }
  let config: RunConfig;
  try {
    const { parseCommandLine } = await import("./options.js");
    const parsed = await parseCommandLine(argv, process.env, { version, cwd: process.cwd() });
    if (parsed.kind !== "run") {
      process.stdout.write(parsed.text.endsWith("\n") ? parsed.text : `${parsed.text}\n`);
      return ExitCode.ok;
    }
    config = parsed.config;
  } catch (err) {
    process.stderr.write(`${ERROR_PREFIX} ${userMessage(err)}\n`);
    // The summary is promised on every failure, usage errors included.
    if (jsonRequested(argv)) await printUsageFailureSummary(argv, err);
    return exitCodeOf(err);
  }
  const { Renderer } = await import("./render.js");
  const renderer = new Renderer({
    progress: config.progress,
    color: config.color,
    quiet: config.quiet,
    verbose: config.logLevel === "debug" || config.logLevel === "trace",
    stream: process.stderr,
    env: process.env,
  });
  const { isBatchRun } = await import("./batch-kind.js");
  if (isBatchRun(config)) return (await import("./batch-command.js")).runBatchCommand(config, version);
  if (config.dryRun) return dryRun(config, version, renderer);
  return download(config, version, renderer);
}

/** The plan, bounded by --timeout (exit 28) and ended by Ctrl-C (130) like a download. */
async function dryRun(config: RunConfig, version: string, renderer: Renderer): Promise<number> {
  const controller = new AbortController();
  const disarm = abortOnSignals(controller, config.timeoutMs, []);
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(controller.signal.reason as Error), { once: true });
  });
  try {
    const { runDryRun } = await import("./dry-run.js");
    process.stdout.write(await Promise.race([runDryRun(config, version, (m) => renderer.error(m), controller.signal), aborted]));
    return ExitCode.ok;
  } catch (err) {
    return failedBeforeRun(config, controller.signal.aborted ? controller.signal.reason : err, renderer);
  } finally {
    disarm();
  }
}

/**
 * A run that failed before any transfer (a dry run's HEAD, an unreadable TLS file, bad S3
 * credentials): the error line, and with --json the summary, which cli.md promises on
 * every failure (on stderr when -O -).
 */
async function failedBeforeRun(config: RunConfig, err: unknown, renderer: Renderer): Promise<number> {
  const code = exitCodeOf(err);
  renderer.error(userMessage(err, config.output));
  if (config.json) {
    const [{ buildSummary, emptyResult }, { taskIdOfConfig }] = await Promise.all([import("./summary.js"), import("../task/task-id.js")]);
    const facts = emptyResult(config.url, config.output, config.clusterSource === "none" ? "none" : "pending");
    // The URL and flags are parsed and valid here, and the id depends on nothing else (cli.md).
    try {
      facts.taskId = taskIdOfConfig(config);
    } catch {
      facts.taskId = null;
    }
    // Nothing was transferred; the time is the invocation's (a dry run may wait out --timeout).
    const summary = buildSummary(facts, { code, error: err, durationMs: Math.round(performance.now()) });
    (config.output === "-" ? process.stderr : process.stdout).write(`${JSON.stringify(summary)}\n`);
  }
  return code;
}

/** One download: wire its parts, run it under the run's signal, print the summary. */
async function download(config: RunConfig, version: string, renderer: Renderer): Promise<number> {
  const [{ DownloadRun }, { buildSummary }, { originFor, processPartsFor, runPartsFor }] = await Promise.all([
    import("../engine/run.js"),
    import("./summary.js"),
    import("./compose.js"),
  ]);
  let shared: Awaited<ReturnType<typeof processPartsFor>> | undefined;
  let origin: Awaited<ReturnType<typeof originFor>> | undefined;
  let parts: ReturnType<typeof runPartsFor>;
  try {
    shared = await processPartsFor(config, version);
    origin = await originFor(config, version);
    parts = runPartsFor(config, shared, origin);
  } catch (err) {
    await origin?.close();
    await shared?.close();
    return failedBeforeRun(config, err, renderer);
  }
  const run = new DownloadRun(parts);
  renderer.attach(run);
  const controller = new AbortController();
  // A reader that goes away (EPIPE) or a full disk behind stdout ends the run at once with
  // exit 23, as curl does — not at the end of the download, and never as a crash.
  if (config.output === "-") {
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      // The code alone: error-text.ts puts it in words (EPIPE → "reader closed the pipe") once.
      controller.abort(new WriteError(`cannot write to stdout: ${err.code ?? err.message}`, { cause: err }));
    });
  }
  const stopSignals = abortOnSignals(controller, config.timeoutMs, [run]);
  let result: RunResult;
  try {
    result = await run.run(controller.signal);
  } finally {
    stopSignals();
    await shared.close();
    await parts.origin.close();
  }
  // An abort surfaces as whatever the aborted operation threw; the reason is what counts.
  const failure = result.error === undefined ? undefined : controller.signal.aborted ? controller.signal.reason : result.error;
  const code = failure === undefined ? ExitCode.ok : exitCodeOf(failure);
  renderer.finish(failure === undefined, { report: result, durationMs: result.timings.durationMs });
  if (failure !== undefined) renderer.error(userMessage(failure, config.output));
  if (config.json) {
    const summary = buildSummary(result, { code, error: failure, durationMs: result.timings.durationMs });
    const out = config.output === "-" ? process.stderr : process.stdout;
    out.write(`${JSON.stringify(summary)}\n`);
  }
  return code;
}

/** What we can say in the JSON summary when the command line itself was wrong. */
async function printUsageFailureSummary(argv: string[], err: unknown): Promise<void> {
  const { buildSummary, emptyResult } = await import("./summary.js");
  const url = argv.find((a) => /^[a-z][a-z0-9+.-]*:\/\//i.test(a)) ?? "";
  const typed = typedOutput(argv);
  // As on every other path: an absolute path, or "-" for stdout, or "" when none was given.
  const output = typed === "" || typed === "-" ? typed : resolve(process.cwd(), typed);
  const code = exitCodeOf(err instanceof Error ? err : new UsageError(String(err)));
  const summary = buildSummary(emptyResult(url, output, "none"), { code, error: err, durationMs: 0 });
  (output === "-" ? process.stderr : process.stdout).write(`${JSON.stringify(summary)}\n`);
}

/** The options before `--`: what the parser reads. */
function optionArgs(argv: readonly string[]): readonly string[] {
  return argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
}

/** Whether the command line, even a broken one, asks for --json (the last spelling wins). */
export function jsonRequested(argv: readonly string[]): boolean {
  let json = false;
  for (const arg of optionArgs(argv)) {
    if (arg === "--json" || arg === "--json=true") json = true;
    else if (arg === "--no-json" || arg === "--json=false") json = false;
  }
  return json;
}

/** -O PATH, -OPATH, -O=PATH, --output PATH, --output=PATH as typed (the last wins); "" if none. */
export function typedOutput(argv: readonly string[]): string {
  const args = optionArgs(argv);
  let output = "";
  args.forEach((arg, i) => {
    if (arg === "-O" || arg === "--output") output = args[i + 1] ?? "";
    else if (arg.startsWith("--output=")) output = arg.slice("--output=".length);
    else if (/^-O./.test(arg)) output = arg.slice(arg[2] === "=" ? 3 : 2);
  });
  return output;
}
