// The --json summary object (cli.md, "JSON summary"): the shape of its numbers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildSummary, emptyResult } from "../../src/cli/summary.js";

test("scheduler.attempts[].ms are whole milliseconds, as cli.md shows them (a probe's 6.8 ms was printed as 6.8)", () => {
  const report = emptyResult("http://o.test/f", "/d/f", "static");
  report.scheduler.attempts = [
    { addr: "10.0.0.1:8002", outcome: "refused", ms: 6.8 },
    { addr: "10.0.0.2:8002", outcome: "ok", ms: 0.4 },
    { addr: "10.0.0.3:8002", outcome: "timeout", ms: 250 },
  ];
  const summary = buildSummary(report, { code: 0, error: undefined, durationMs: 12 });
  assert.deepEqual(summary.scheduler.attempts, [
    { addr: "10.0.0.1:8002", outcome: "refused", ms: 7 },
    { addr: "10.0.0.2:8002", outcome: "ok", ms: 0 },
    { addr: "10.0.0.3:8002", outcome: "timeout", ms: 250 },
  ]);
  assert.equal(JSON.stringify(summary).includes("6.8"), false);
});
