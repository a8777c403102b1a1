// The --dry-run text for people, and the manager fallback texts, from fixed values.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDryRun } from "../../src/cli/dry-run.js";
import { cachedAtText, managersUnreachableText } from "../../src/cluster/resolve.js";
import { ManagerUnavailableError } from "../../src/cluster/manager.js";

// Local time is what a person reads; pin the zone so the expected texts are fixed.
process.env.TZ = "UTC";
const NOW = Date.parse("2026-08-01T12:00:00.000Z");

test("sizes in IEC units next to the bytes, cooling as seconds left, names with their addresses", () => {
  const text = formatDryRun(
    {
      taskId: "a".repeat(64),
      pieceLength: 4194304,
      pieceCount: 3,
      contentLength: 12582912 + 5,
      schedulerSource: "static",
      schedulers: [
        { addr: "127.0.0.3:8002", cooling: true, coolingUntil: "2026-08-01T12:00:41.200Z" },
        { addr: "127.0.0.2:8002", cooling: false, coolingUntil: null },
      ],
      resolved: { "sched.test:8002": ["127.0.0.2:8002", "127.0.0.3:8002"] },
    },
    { unresolved: [{ addr: "nope.test:8002", reason: "ENOTFOUND" }], now: NOW },
  );
  assert.equal(
    text,
    [
      `task id:        ${"a".repeat(64)}`,
      "content length: 12582917 (12.0 MiB)",
      "piece length:   4194304 (4.0 MiB)",
      "piece count:    3",
      "names:",
      "  sched.test:8002 → 127.0.0.2:8002, 127.0.0.3:8002",
      "  nope.test:8002 → does not resolve (ENOTFOUND)",
      "schedulers (static), in the order they would be tried:",
      "  1. 127.0.0.3:8002  cooling for 42 s more (until 2026-08-01T12:00:41.200Z)",
      "  2. 127.0.0.2:8002",
      "",
    ].join("\n"),
  );
});

test("unknown sizes and no schedulers", () => {
  const text = formatDryRun(
    { taskId: "b".repeat(64), pieceLength: 4194304, pieceCount: null, contentLength: null, schedulerSource: "none", schedulers: [], resolved: {} },
    { unresolved: [], now: NOW },
  );
  assert.match(text, /^content length: unknown \(not asked: --piece-length given\)$/m);
  assert.match(text, /^piece count:    unknown$/m);
  assert.match(text, /^  \(none: the file would come straight from the origin\)$/m);
  assert.doesNotMatch(text, /names:/);
});

test("manager fallback texts name each address and why", () => {
  const one = new ManagerUnavailableError([{ managerAddr: "10.0.0.10:65003", outcome: "timeout", detail: "not connected within 2000 ms" }]);
  assert.equal(managersUnreachableText(one), "manager 10.0.0.10:65003 unreachable (connect timeout)");
  const two = new ManagerUnavailableError([
    { managerAddr: "10.0.0.10:65003", outcome: "refused", detail: "connect: ECONNREFUSED" },
    { managerAddr: "m.test:65003", outcome: "unresolved", detail: "does not resolve: ENOTFOUND" },
  ]);
  assert.equal(managersUnreachableText(two), "managers 10.0.0.10:65003 (connection refused), m.test:65003 (does not resolve: ENOTFOUND) unreachable");
});

test("cached-at time: HH:MM the same day, with the date before", () => {
  assert.equal(cachedAtText(Date.parse("2026-08-01T09:14:59Z"), NOW), "09:14");
  assert.equal(cachedAtText(Date.parse("2026-07-30T09:04:00Z"), NOW), "2026-07-30 09:04");
});
