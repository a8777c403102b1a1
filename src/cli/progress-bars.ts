// cli-progress, loaded on first use: only a bar drawn on a TTY needs it, so a run on a pipe
// (scripts, CI, the e2e tests) never pays for loading it. It is CommonJS, so a synchronous
// require keeps the renderers' constructors synchronous.
import { createRequire } from "node:module";
import type * as CliProgress from "cli-progress";

export type CliProgressModule = typeof CliProgress;

let loaded: CliProgressModule | undefined;

export function progressBars(): CliProgressModule {
  loaded ??= createRequire(import.meta.url)("cli-progress") as CliProgressModule;
  return loaded;
}
