#!/usr/bin/env node
// `npm test`: every test file, one at a time, in a fresh TMPDIR; then a last step that fails
// when anything is left in it (tests must clean up after themselves). tsx's own compile
// cache (tsx-<uid>) is the one expected entry: it is the runner's, not a test's.
// Extra arguments replace the file list: `npm test -- test/unit/help.test.ts`.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";

const files = process.argv.length > 2
  ? process.argv.slice(2)
  : readdirSync("test", { recursive: true }).map(String).filter((f) => f.endsWith(".test.ts")).map((f) => join("test", f)).sort();

const freshTmp = mkdtempSync(join(tmpdir(), "dfget-test-tmp-"));
// Ctrl-C or a SIGTERM to the process group reaches the tests as well: the runner waits for
// them to end instead of dying at once, so that the fresh TMPDIR is still removed below.
let signalled;
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => void (signalled = signal));
const run = await new Promise((resolve) => {
  const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", "--test-concurrency=1", ...files], {
    stdio: "inherit",
    env: { ...process.env, TMPDIR: freshTmp },
  });
  child.on("error", () => resolve({ status: null }));
  child.on("close", (status) => resolve({ status }));
});

const left = readdirSync(freshTmp).filter((name) => !/^tsx-\d+$/.test(name));
rmSync(freshTmp, { recursive: true, force: true });
if (signalled) {
  process.stderr.write(`# interrupted (${signalled}): the fresh TMPDIR is removed\n`);
  process.exit(128 + constants.signals[signalled]);
}
if (left.length > 0) {
  process.stderr.write(`# FAIL: the tests left ${left.length} entr${left.length === 1 ? "y" : "ies"} in TMPDIR: ${left.join(", ")}\n`);
  process.exit(1);
}
process.stdout.write(`# TMPDIR clean: nothing left by the tests\n`);
process.exit(run.status ?? 1);
