// `npm test` (scripts/test.mjs) runs the tests in a fresh TMPDIR and fails when anything is
// left in it; node's test runner's closing lines stay visible.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

test("a test that leaves a file in TMPDIR fails the run, naming the leftover", () => {
  const run = spawnSync(process.execPath, ["scripts/test.mjs", "test/fixtures/leaves-tmp.fixture.ts"], {
    cwd: root,
    encoding: "utf8",
    // Run as a top-level `npm test` would, not as a child of this test runner.
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT")),
  });
  assert.equal(run.status, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^# pass 1$/m, "the runner's own summary is still printed");
  assert.match(run.stderr, /^# FAIL: the tests left 1 entry in TMPDIR: dfget-forgotten\.tmp$/m);
  assert.equal(existsSync(join(tmpdir(), "dfget-forgotten.tmp")), false, "the fresh TMPDIR received it, and is gone");
});
