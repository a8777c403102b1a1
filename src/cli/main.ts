// The dfget command: parse, run one download (or a dry run), render, summarise, and
// map whatever happened to an exit code. The only module that decides exit codes.
// Heavy modules (gRPC, undici, yargs) are imported only on the path that needs them:
// `dfget --version` in a script loop should cost little more than starting node.
import { setMaxListeners } from "node:events";
import { createRequire } from "node:module";
import { ExitCode, InterruptedError, TimeoutError, UsageError, exitCodeOf, messageOf } from "../errors.js";
import type { RunConfig } from "../config/types.js";
import { formatDuration } from "../config/duration.js";
import { ERROR_PREFIX, userMessage } from "./error-text.js";

export function packageVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = require("../../package.json") as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const version = packageVersion();
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write(`dfget ${version}\n`);
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
  const [{ Download }, { Renderer }, { buildSummary }, { clusterPlanFor }] = await Promise.all([
    import("../engine/run.js"),
    import("./render.js"),
    import("./summary.js"),
    import("./cluster-plan.js"),
  ]);

  const renderer = new Renderer({
    progress: config.progress,
    color: config.color,
    quiet: config.quiet,
    verbose: config.logLevel === "debug",
    stream: process.stderr,
    env: process.env,
  });

  if (config.dryRun) {
    try {
      const { runDryRun } = await import("./dry-run.js");
      const out = await runDryRun(config, version, (m) => renderer.error(m));
      process.stdout.write(out);
      return ExitCode.ok;
    } catch (err) {
      renderer.error(userMessage(err));
      return exitCodeOf(err);
    }
  }

  const started = Date.now();
  // A write error on stdout (ENOSPC, EPIPE) reaches the writer through its callback and
  // becomes exit 23 with a message; the stream's own 'error' event, emitted right after,
  // must not crash the process silently with exit 1.
  if (config.output === "-") process.stdout.on("error", () => undefined);
  const download = new Download(config, { version, cluster: clusterPlanFor(config, version) });
  renderer.attach(download);

  const controller = new AbortController();
  // Every transfer in flight listens on the run's signal (concurrentPieceCount may be > 10).
  setMaxListeners(0, controller.signal);
  let signalled = 0;
  const onSignal = (signal: "SIGINT" | "SIGTERM"): void => {
    signalled++;
    if (signalled > 1) {
      // Second signal: the user insists. Leave nothing half-written and go.
      download.removeTempSync();
      process.exit(signal === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm);
    }
    controller.abort(new InterruptedError(signal));
  };
  const sigint = (): void => onSignal("SIGINT");
  const sigterm = (): void => onSignal("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  const runTimer = setTimeout(
    () => controller.abort(new TimeoutError("run", `--timeout ${formatDuration(config.timeoutMs)} reached`)),
    Math.min(config.timeoutMs, 2 ** 31 - 1),
  );

  let failure: unknown;
  try {
    await download.run(controller.signal);
  } catch (err) {
    // An abort surfaces as whatever the aborted operation threw; the reason is what counts.
    failure = controller.signal.aborted ? controller.signal.reason : err;
  } finally {
    clearTimeout(runTimer);
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
  }

  const code = failure === undefined ? ExitCode.ok : exitCodeOf(failure);
  renderer.finish(failure === undefined, { report: download.report, durationMs: Date.now() - started });
  if (failure !== undefined) renderer.error(userMessage(failure, config.output));
  if (config.json) {
    const summary = buildSummary(download.report, { code, error: failure, durationMs: Date.now() - started });
    const out = config.output === "-" ? process.stderr : process.stdout;
    out.write(`${JSON.stringify(summary)}\n`);
  }
  return code;
}

/** What we can say in the JSON summary when the command line itself was wrong. */
async function printUsageFailureSummary(argv: string[], err: unknown): Promise<void> {
  const { buildSummary, emptyReport } = await import("./summary.js");
  const url = argv.find((a) => /^[a-z][a-z0-9+.-]*:\/\//i.test(a)) ?? "";
  const dash = argv.indexOf("-O") >= 0 ? argv.indexOf("-O") : argv.indexOf("--output");
  const output = dash >= 0 ? (argv[dash + 1] ?? "") : "";
  const code = exitCodeOf(err instanceof Error ? err : new UsageError(String(err)));
  const summary = buildSummary(emptyReport(url, output, "none"), { code, error: err, durationMs: 0 });
  (output === "-" ? process.stderr : process.stdout).write(`${JSON.stringify(summary)}\n`);
}
