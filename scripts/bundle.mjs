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
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

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

// undici 7's HTTP/1 parser crashes the process when a Connection: close origin (python's
// http.server, HTTP/1.0 servers) ends the socket while the body is under backpressure
// (nodejs/undici#5360; fixed only in undici 8, which needs Node 22). `npm ci` applies
// patches/undici+*.patch (patch-package, postinstall); never bundle an unpatched copy.
const h1 = join(dirname(createRequire(import.meta.url).resolve("undici")), "lib/dispatcher/client-h1.js");
if (!readFileSync(h1, "utf8").includes("nodejs/undici#5360")) {
  console.error(`bundle: ${h1} lacks patches/undici+*.patch: run npm ci (or npx patch-package)`);
  process.exit(1);
}

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
