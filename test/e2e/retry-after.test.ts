// The CLI honours the origin's Retry-After on 429 and 503 (as curl --retry does): the next
// try of that request comes no sooner than the server asked, for ranged GETs and for the
// one streamed GET; a Retry-After past --timeout ends the run at once with exit 28. What
// the fake origin recorded is the evidence; request times are used as lower bounds only.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { startOrigin, type FakeOrigin } from "../support/origin.js";
import { runDfget, workDirs } from "../support/cli.js";
import { requestsFor, sha256 } from "../support/cli-e2e.js";

const FILE = randomBytes(100_000); // one piece: every GET of the path is a try of that piece

let origin: FakeOrigin;
const dirs = workDirs();

before(async () => {
  origin = await startOrigin();
});
after(async () => {
  await origin.close();
  await dirs.removeAll();
});

async function fetch(path: string, extra: string[] = []) {
  const w = await dirs.make();
  const run = await runDfget([origin.url(path), "-O", w.out, "--state-dir", w.state, ...extra], { timeoutMs: 60_000 });
  return { run, w, gets: requestsFor(origin, path).filter((r) => r.method === "GET") };
}

describe("Retry-After from the origin", () => {
  test("ranged GET: 429 with Retry-After: 1 → the retry comes ≥ 1 s later, exit 0", async () => {
    origin.setFile("/busy", FILE);
    origin.setFault("/busy", { kind: "times", count: 1, fault: { kind: "status", status: 429, headers: { "retry-after": "1" } } });
    const { run, w, gets } = await fetch("/busy");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(FILE));
    assert.deepEqual(gets.map((r) => r.status), [429, 206]);
    assert.ok(gets[1]!.at - gets[0]!.at >= 1000, `retry ${Math.round(gets[1]!.at - gets[0]!.at)} ms after the 429`);
  });

  test("streamed GET: 503 with an HTTP-date Retry-After 1 s after its own (old) Date → waited from Date, exit 0", async () => {
    origin.setFile("/busy-stream", FILE);
    // The Date is years in the past: counted from now, this Retry-After would be no wait at all.
    const headers = { date: "Sat, 01 Jan 2000 00:00:00 GMT", "retry-after": "Sat, 01 Jan 2000 00:00:01 GMT" };
    origin.setFault("/busy-stream", { kind: "times", count: 1, fault: { kind: "status", status: 503, headers }, after: { kind: "no-length" } });
    const { run, w, gets } = await fetch("/busy-stream");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(FILE));
    assert.deepEqual(gets.map((r) => [r.status, r.range]), [[503, undefined], [200, undefined]], "one streamed GET, tried twice");
    assert.ok(gets[1]!.at - gets[0]!.at >= 1000, `retry ${Math.round(gets[1]!.at - gets[0]!.at)} ms after the 503`);
  });

  test("a Retry-After past --timeout is not waited for: exit 28 at once, one GET, the reason on stderr", async () => {
    origin.setFile("/busy-long", FILE);
    origin.setFault("/busy-long", { kind: "times", count: 10, fault: { kind: "status", status: 429, headers: { "retry-after": "600" } } });
    const { run, gets } = await fetch("/busy-long", ["--timeout", "30s", "--retry", "2"]);
    assert.equal(run.code, 28, run.stderr);
    assert.equal(gets.length, 1, "no retry");
    assert.match(run.stderr, /429 Too Many Requests.*Retry-After \(10m\).*--timeout/);
  });
});
