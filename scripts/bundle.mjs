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
import { dirname } from "node:path";

const OUT = "dist/bundle";

/**
 * string-width (used by yargs, cliui and wrap-ansi to lay out yargs's own help, which we
 * never print) builds an Intl.Segmenter and Unicode-property regular expressions when it
 * is loaded: ~60 ms of every download's start-up here, for nothing. Each import of it
 * gets a stand-in that loads the real module (the same file, as the importer resolved
 * it) on its first call, so the width is the same whenever it is asked for.
 */
const lazyStringWidth = {
  name: "lazy-string-width",
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData === "real") return undefined; // our own lookup below
      const real = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: "real" });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: "lazy-string-width" };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy-string-width" }, (args) => ({
      contents: `let real;\nexport default function stringWidth(text, options) {\n  real ??= require(${JSON.stringify(args.path)}).default;\n  return real(text, options);\n}\n`,
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};

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
  plugins: [lazyStringWidth],
  chunkNames: "chunk-[hash]",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});
writeFileSync(`${OUT}/meta.json`, JSON.stringify(result.metafile));
