// Preloaded into a dfget child with `--import` (NODE_OPTIONS): records every module the
// process loads, so a test can prove what start-up did not load (gRPC, S3, yargs,
// cli-progress) without any hook in the product. ES modules (the bundle's chunks) are
// seen by a load hook (loaded-modules-hook.mjs, on Node's loader thread), which appends
// each URL to `${DFGET_TEST_LOADED_MODULES}.esm` as it is loaded; CommonJS modules
// (require.cache: what the code loads with createRequire, e.g. yaml, cli-progress) are
// written to DFGET_TEST_LOADED_MODULES when the process exits.
import { createRequire, register } from "node:module";
import { writeFileSync } from "node:fs";

const out = process.env.DFGET_TEST_LOADED_MODULES;
if (out) {
  register("./loaded-modules-hook.mjs", import.meta.url, { data: { file: `${out}.esm` } });
  const require = createRequire(import.meta.url);
  process.on("exit", () => {
    writeFileSync(out, JSON.stringify(Object.keys(require.cache)));
  });
}
