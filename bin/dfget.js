#!/usr/bin/env node
// Thin launcher: the CLI is bundled into dist/bundle/ by `npm run build` (tsc, then
// scripts/bundle.mjs): one file per entry starts faster than ~100 compiled modules.
import { main } from "../dist/bundle/main.js";

// Exit as soon as the outcome is known and the output is flushed: a socket still closing
// (a parent transfer cut by a signal, a scheduler that never answers) must not hold the
// process, and so the exit code.
function exitWhenFlushed(code) {
  let pending = 2;
  const done = () => { if (--pending === 0) process.exit(code); };
  process.stdout.write("", done);
  process.stderr.write("", done);
}

main(process.argv.slice(2)).then(exitWhenFlushed, (err) => {
  process.stderr.write(`dfget: ${err instanceof Error ? err.message : String(err)}\n`);
  exitWhenFlushed(1);
});
