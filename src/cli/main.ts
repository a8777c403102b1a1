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
    if (argv.includes("--json")) await printUsageFailureSummary(argv, err);
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

async function dryRun(config: RunConfig, version: string, renderer: Renderer): Promise<number> {
  try {
    const { runDryRun } = await import("./dry-run.js");
    process.stdout.write(await runDryRun(config, version, (m) => renderer.error(m)));
    return ExitCode.ok;
  } catch (err) {
    renderer.error(userMessage(err));
    return exitCodeOf(err);
  }
}

/** One download: wire its parts, run it under the run's signal, print the summary. */
async function download(config: RunConfig, version: string, renderer: Renderer): Promise<number> {
  const [{ DownloadRun }, { buildSummary }, { originFor, processPartsFor, runPartsFor }] = await Promise.all([
    import("../engine/run.js"),
    import("./summary.js"),
    import("./compose.js"),
  ]);
  const shared = await processPartsFor(config, version);
  let parts: ReturnType<typeof runPartsFor>;
  try {
    parts = runPartsFor(config, shared, await originFor(config, version));
  } catch (err) {
    renderer.error(userMessage(err));
    return exitCodeOf(err);
  }
  const run = new DownloadRun(parts);
  renderer.attach(run);
  const controller = new AbortController();
  // A reader that goes away (EPIPE) or a full disk behind stdout ends the run at once with
  // exit 23, as curl does — not at the end of the download, and never as a crash.
  if (config.output === "-") {
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      const why = err.code === "EPIPE" ? "the reader closed the pipe (EPIPE)" : (err.code ?? err.message);
      controller.abort(new WriteError(`cannot write to stdout: ${why}`, { cause: err }));
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
  const dash = argv.indexOf("-O") >= 0 ? argv.indexOf("-O") : argv.indexOf("--output");
  const typed = dash >= 0 ? (argv[dash + 1] ?? "") : "";
  // cli.md's "output" is an absolute path (as on every other summary), "-" for stdout.
  const output = typed === "" || typed === "-" ? typed : resolve(typed);
  const code = exitCodeOf(err instanceof Error ? err : new UsageError(String(err)));
  const summary = buildSummary(emptyResult(url, output, "none"), { code, error: err, durationMs: 0 });
  (output === "-" ? process.stderr : process.stdout).write(`${JSON.stringify(summary)}\n`);
}
