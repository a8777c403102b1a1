// Contract review (../shared/design/cli.md) through the BUILT CLI: the --json summary on
// failure paths that ran before any transfer (a dry run's HEAD, an unreadable TLS file
// named by the config, half-given S3 credentials, `--json=true` on a bad command line),
// getopt-style attached short values (-Ofile, -H'K: V'), and --progress bar on a pipe.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runDfget, workDirs, type DfgetSummary } from "../support/cli.js";
import { requestsFor, sha256, sha256OfFile } from "../support/cli-e2e.js";
import { startOrigin, type FakeOrigin } from "../support/origin.js";

const BODY = randomBytes(5 * 1024 * 1024);
let origin: FakeOrigin;
const dirs = workDirs();

before(async () => {
  origin = await startOrigin({ files: { "/data.bin": BODY, "/headers.bin": BODY.subarray(0, 1000) } });
  origin.setFault("/missing", { kind: "status", status: 404 });
  origin.setFile("/hang.bin", BODY);
  origin.setFault("/hang.bin", { kind: "stall" });
});

after(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** The text holds exactly one line, a JSON object with the failure fields cli.md lists. */
function oneFailureSummary(text: string, exitCode: number): DfgetSummary {
  const lines = text.split("\n");
  assert.equal(lines.length, 2, `one JSON line: ${JSON.stringify(text)}`);
  const s = JSON.parse(lines[0]) as DfgetSummary;
  assert.equal(s.ok, false);
  assert.equal(s.exitCode, exitCode);
  assert.equal(typeof s.error, "string");
  for (const key of ["url", "output", "taskId", "peerId", "contentLength", "bytesWritten", "durationMs", "bytesPerSecond", "pieces", "backToSource", "scheduler", "digest"]) {
    assert.ok(key in s, `has ${key}`);
  }
  assert.equal(s.peerId, null);
  return s;
}

/** A config file naming a CA certificate that does not exist. */
async function configWithMissingCa(dir: string): Promise<{ config: string; ca: string }> {
  const config = join(dir, "dfget.yaml");
  const ca = join(dir, "no-such-ca.pem");
  await writeFile(config, `scheduler:\n  caCert: ${ca}\n`);
  return { config, ca };
}

describe("--json: one summary also when the run fails before any transfer", { concurrency: 4 }, () => {
  test("--dry-run --json whose HEAD gets 404: exit 22 and one JSON line on stdout", async () => {
    const w = await dirs.make();
    const url = origin.url("/missing");
    const run = await runDfget([url, "--dry-run", "--json", "--state-dir", w.state]);
    assert.equal(run.code, 22, run.stderr);
    const s = oneFailureSummary(run.stdout, 22);
    assert.equal(s.url, url);
    assert.match(s.error ?? "", /404/);
    assert.equal(run.stderr, `dfget: error: origin answered 404 Not Found for ${url}\n`);
  });

  test("--dry-run --json on an unreachable origin: exit 7, and the summary carries the task id of the URL and --tag", async () => {
    const w = await dirs.make();
    const run = await runDfget(["http://127.0.0.1:1/x", "--tag", "t", "--dry-run", "--json", "--state-dir", w.state]);
    assert.equal(run.code, 7, run.stderr);
    // sha256("http://127.0.0.1:1/x" + "t" + "STANDARD"), dragonfly-client.md §2 (was null).
    assert.equal(oneFailureSummary(run.stdout, 7).taskId, "97707f767e0b90a269aef6c97d48495350d0f64793082433278301b920d088fb");
  });

  test("--dry-run --timeout 1s whose HEAD never answers: --timeout ends it (exit 28), not the 30 s piece timeout", async () => {
    const w = await dirs.make();
    const run = await runDfget([origin.url("/hang.bin"), "--dry-run", "--json", "--timeout", "1s", "--state-dir", w.state], { timeoutMs: 20_000 });
    assert.equal(run.code, 28, run.stderr);
    assert.equal(run.stderr, "dfget: error: --timeout 1s reached\n");
    assert.equal(oneFailureSummary(run.stdout, 28).error, "--timeout 1s reached");
  });

  test("an unreadable scheduler.caCert: exit 2, the key and the file named, the summary printed", async () => {
    const w = await dirs.make();
    const { config, ca } = await configWithMissingCa(w.dir);
    const url = origin.url("/data.bin");
    const run = await runDfget([url, "-O", w.out, "--json", "--scheduler", "127.0.0.1:9", "--config", config, "--state-dir", w.state]);
    assert.equal(run.code, 2, run.stderr);
    const line = `config ${config}: scheduler.caCert: cannot read ${ca} (no such file or directory)`;
    assert.equal(run.stderr, `dfget: error: ${line}\n`);
    const s = oneFailureSummary(run.stdout, 2);
    assert.equal(s.error, line);
    assert.equal(s.output, w.out);
  });

  test("the same with -O -: the summary on stderr, nothing on stdout", async () => {
    const w = await dirs.make();
    const { config } = await configWithMissingCa(w.dir);
    const run = await runDfget([origin.url("/data.bin"), "-O", "-", "--json", "--scheduler", "127.0.0.1:9", "--config", config, "--state-dir", w.state]);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, "");
    const [errorLine, ...rest] = run.stderr.split("\n");
    assert.match(errorLine, /^dfget: error: config .*: scheduler\.caCert: cannot read /);
    oneFailureSummary(rest.join("\n"), 2);
  });

  test("several files with an unreadable scheduler.caCert: exit 2 and the batch's final object", async () => {
    const w = await dirs.make();
    const { config } = await configWithMissingCa(w.dir);
    const run = await runDfget([origin.url("/data.bin"), origin.url("/headers.bin"), "-O", `${w.dir}/files/`, "--json", "--scheduler", "127.0.0.1:9", "--config", config, "--state-dir", w.state]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /^dfget: error: config .*: scheduler\.caCert: cannot read /);
    const lines = run.stdout.split("\n");
    assert.equal(lines.length, 2, run.stdout);
    const final = JSON.parse(lines[0]) as { ok: boolean; exitCode: number };
    assert.equal(final.ok, false);
    assert.equal(final.exitCode, 2);
  });

  test("s3:// with an access key id but no secret: exit 2 and the summary", async () => {
    const w = await dirs.make();
    const run = await runDfget(["s3://bucket/key.bin", "-O", w.out, "--json", "--storage-access-key-id", "AKID", "--storage-endpoint", origin.url("/"), "--state-dir", w.state]);
    assert.equal(run.code, 2, run.stderr);
    const s = oneFailureSummary(run.stdout, 2);
    assert.match(s.error ?? "", /access key id and a secret/);
  });

  test("--json=true on a bad command line: the summary, with -O as an absolute path", async () => {
    const w = await dirs.make();
    const run = await runDfget([origin.url("/data.bin"), "-O", "rel.bin", "--json=true", "--bogus"], { cwd: w.dir });
    assert.equal(run.code, 2, run.stderr);
    const s = oneFailureSummary(run.stdout, 2);
    assert.equal(s.output, join(w.dir, "rel.bin"));
  });

  test("--json then --no-json on a bad command line: no summary", async () => {
    const run = await runDfget([origin.url("/data.bin"), "-O", "x", "--json", "--no-json", "--bogus"]);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, "");
  });
});

describe("attached short-option values, as curl and wget read them", { concurrency: 4 }, () => {
  test("-OPATH saves to PATH and -H'K: V' sends the header", async () => {
    const w = await dirs.make();
    const run = await runDfget([origin.url("/headers.bin"), "-Oattached.bin", "-HX-Attached: yes", "-q", "--state-dir", w.state], { cwd: w.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.equal(await sha256OfFile(join(w.dir, "attached.bin")), sha256(BODY.subarray(0, 1000)));
    const gets = requestsFor(origin, "/headers.bin").filter((r) => r.method === "GET");
    assert.ok(gets.length > 0);
    for (const r of gets) assert.equal(r.headers["x-attached"], "yes");
  });
});

describe("--progress bar on a pipe", () => {
  test("draws the bar (as wget's bar:force) instead of printing nothing", async () => {
    const w = await dirs.make();
    const run = await runDfget([origin.url("/data.bin"), "-O", w.out, "--progress", "bar", "--state-dir", w.state]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /█/);
    assert.match(run.stderr, /100%/);
  });
});
