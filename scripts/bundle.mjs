#!/usr/bin/env node
// `npm run build`, second step: bundle tsc's output (dist/cli/main.js) into dist/bundle/
// with esbuild, which bin/dfget.js runs. Start-up was mostly module resolution and
// compile of ~100 own files plus undici/yargs's hundreds (issue 12 item 5); one file per
// entry is read and compiled in one go. Code splitting keeps every dynamic import lazy
// (cluster/gRPC, S3, batch, progress): each becomes its own chunk, loaded only when used.
// Kept outside: @node-rs/crc32 (a native addon, resolved from node_modules at run time)
// and what the code loads itself with createRequire (package.json, yaml, cli-progress).
// The metafile (dist/bundle/meta.json) says which chunk holds which module: the
// start-up test uses it to prove gRPC is not loaded by a direct download.
import { build } from "esbuild";
import { rmSync, writeFileSync } from "node:fs";

const OUT = "dist/bundle";

// Chunk names are content hashes: start clean so no stale chunk is left beside the new ones.
rmSync(OUT, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: "dist/cli/main.js" },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // CommonJS packages inside an ESM bundle call require() for Node's built-ins.
  banner: { js: "import { createRequire as __dfgetRequire } from \"node:module\"; const require = __dfgetRequire(import.meta.url);" },
  external: ["@node-rs/crc32"],
  chunkNames: "chunk-[hash]",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});
writeFileSync(`${OUT}/meta.json`, JSON.stringify(result.metafile));
