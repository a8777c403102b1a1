#!/usr/bin/env node
// Thin launcher: the CLI is bundled into dist/bundle/ by `npm run build` (tsc, then
// scripts/bundle.mjs): one file per entry starts faster than ~100 compiled modules.
import { setFlagsFromString } from "node:v8";

// undici's HTTP parser (llhttp, WebAssembly) has one 33 KB function that V8 recompiles
// with its optimising compiler after parsing a couple of responses: ~150 ms of CPU on a
// background thread (far more on a loaded machine), and process exit waits for it — most
// of a 1-byte download's time after start-up (issue 12 item 5). Ten times V8's default
// tiering budget (1.8 M) keeps a short run on the baseline code; long runs (bodies
// through undici, blake3 digests) still reach optimised code (blake3 of 256 MiB: same
// CPU time). Set before any WebAssembly is instantiated, hence the dynamic import.
setFlagsFromString("--wasm-tiering-budget=18000000");
// The young generation grows from 1 MiB up to 16 MiB semi-spaces (×3 while scavenging)
// under a download's steady allocation; held at its start size it costs ~76 extra
// scavenges per GiB (< 1 ms each, no measurable CPU) and 14 MiB less peak RSS (issue 12's
// 100 MiB goal). Growth, unlike the size limit, can still be set at this point.
setFlagsFromString("--semi-space-growth-factor=1");
const { main } = await import("../dist/bundle/main.js");

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
