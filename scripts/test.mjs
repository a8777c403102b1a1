#!/usr/bin/env node
// `npm test`: every test file, one at a time, in a fresh TMPDIR; then a last step that fails
// when anything is left in it (tests must clean up after themselves). tsx's own compile
// cache (tsx-<uid>) is the one expected entry: it is the runner's, not a test's.
// Extra arguments replace the file list: `npm test -- test/unit/help.test.ts`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const files = process.argv.length > 2
  ? process.argv.slice(2)
  : readdirSync("test", { recursive: true }).map(String).filter((f) => f.endsWith(".test.ts")).map((f) => join("test", f)).sort();

const freshTmp = mkdtempSync(join(tmpdir(), "dfget-test-tmp-"));
const run = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", "--test-concurrency=1", ...files], {
  stdio: "inherit",
  env: { ...process.env, TMPDIR: freshTmp },
});

const left = readdirSync(freshTmp).filter((name) => !/^tsx-\d+$/.test(name));
rmSync(freshTmp, { recursive: true, force: true });
if (left.length > 0) {
  process.stderr.write(`# FAIL: the tests left ${left.length} entr${left.length === 1 ? "y" : "ies"} in TMPDIR: ${left.join(", ")}\n`);
  process.exit(1);
}
process.stdout.write(`# TMPDIR clean: nothing left by the tests\n`);
process.exit(run.status ?? 1);
