// SIGINT/SIGTERM and --timeout for a whole invocation (one file or a batch): the first
// signal aborts the run's signal with a typed reason; a second one exits at once — the
// user insists. Each running file's resumable partial stays with its record, which already
// names every finished piece (it is written synchronously as each one finishes); a temp
// file that cannot be resumed is removed, and the output locks are released.
import { setMaxListeners } from "node:events";
import { ExitCode, InterruptedError, TimeoutError } from "../errors.js";
import { formatDuration } from "../config/duration.js";

/** Arms the handlers and the deadline; returns the function that disarms them. */
export function abortOnSignals(controller: AbortController, timeoutMs: number, running: Iterable<{ removeTempSync(): void }>): () => void {
  // Every transfer in flight listens on the run's signal (concurrentPieceCount may be > 10).
  setMaxListeners(0, controller.signal);
  let signalled = 0;
  const onSignal = (signal: "SIGINT" | "SIGTERM"): void => {
    if (++signalled > 1) {
      for (const run of running) run.removeTempSync();
      process.exit(signal === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm);
    }
    controller.abort(new InterruptedError(signal));
  };
  const sigint = (): void => onSignal("SIGINT");
  const sigterm = (): void => onSignal("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  const timer = setTimeout(() => controller.abort(new TimeoutError("run", `--timeout ${formatDuration(timeoutMs)} reached`)), Math.min(timeoutMs, 2 ** 31 - 1));
  return () => {
    clearTimeout(timer);
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
  };
}
