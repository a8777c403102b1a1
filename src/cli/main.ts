// The dfget command: parse, run one download (or a dry run), render, summarise, and
// map whatever happened to an exit code. The only module that decides exit codes.
import { createRequire } from "node:module";
import { ExitCode, InterruptedError, TimeoutError, exitCodeOf, messageOf } from "../errors.js";
import type { RunConfig } from "../config/types.js";
import { Download } from "../p2p/download.js";
import { parseCommandLine } from "./options.js";
import { Renderer } from "./render.js";
import { buildSummary, type Summary } from "./summary.js";
import { clusterPlanFor } from "./cluster-plan.js";
import { runDryRun } from "./dry-run.js";

export function packageVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = require("../../package.json") as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const version = packageVersion();
  let config: RunConfig;
  try {
    const parsed = await parseCommandLine(argv, process.env, { version, cwd: process.cwd() });
    if (parsed.kind !== "run") {
      process.stdout.write(parsed.text.endsWith("\n") ? parsed.text : `${parsed.text}\n`);
      return ExitCode.ok;
    }
    config = parsed.config;
  } catch (err) {
    process.stderr.write(`dfget: ${messageOf(err)}\n`);
    return exitCodeOf(err);
  }

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
      const out = await runDryRun(config, version, (m) => renderer.error(m));
      process.stdout.write(out);
      return ExitCode.ok;
    } catch (err) {
      renderer.error(messageOf(err));
      return exitCodeOf(err);
    }
  }

  const started = Date.now();
  const download = new Download(config, { version, cluster: clusterPlanFor(config, version) });
  renderer.attach(download);

  const controller = new AbortController();
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
    () => controller.abort(new TimeoutError("run", `--timeout of ${config.timeoutMs} ms reached`)),
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
  renderer.finish(failure === undefined);
  if (failure !== undefined) renderer.error(messageOf(failure));
  if (config.json) {
    const summary: Summary = buildSummary(download.report, { code, error: failure, durationMs: Date.now() - started });
    const out = config.output === "-" ? process.stderr : process.stdout;
    out.write(`${JSON.stringify(summary)}\n`);
  }
  return code;
}
