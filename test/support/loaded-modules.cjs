// Preloaded into a dfget child with `--require` (NODE_OPTIONS): when the process exits it
// writes every CommonJS module it loaded (require.cache keys, which include CJS packages
// imported from ESM) to the file named by DFGET_TEST_LOADED_MODULES. Lets a test prove
// what start-up did not load (gRPC, cli-progress) without any hook in the product.
"use strict";
const { writeFileSync } = require("node:fs");

const out = process.env.DFGET_TEST_LOADED_MODULES;
if (out) {
  process.on("exit", () => {
    writeFileSync(out, JSON.stringify(Object.keys(require.cache)));
  });
}
