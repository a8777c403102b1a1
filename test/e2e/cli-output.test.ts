// What dfget prints (../shared/design/cli.md): the --json summary on success and failure,
// -O - streaming, -H headers (and secrets kept out of the output), --version/--help, and
// stderr on a pipe (no bar, no escapes unless asked). Runs the BUILT CLI against the fake
// origin; `npm run build` first.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { baseEnv, runDfget, workDirs, type DfgetSummary } from "../support/cli.js";
import { startOrigin, type FakeOrigin } from "../support/origin.js";
import { ANSI_ESCAPE, CARRIAGE_RETURN, TASK_ID, exists, requestsFor, sha256, sha256OfFile } from "../support/cli-e2e.js";

const MiB = 1024 * 1024;
const SMALL = randomBytes(30_000);
/** Several pieces (4 MiB + 1 byte). */
const MULTI = randomBytes(4 * MiB + 1);
const SECRET = "Bearer sekret-7f3a9c-token";

let origin: FakeOrigin;
const dirs = workDirs();
const tempDir = dirs.make;

/** Fields every summary has, success or failure, with their types. */
function assertSummaryShape(s: DfgetSummary, url: string, output: string): void {
  assert.equal(typeof s.ok, "boolean");
  assert.equal(typeof s.exitCode, "number");
  assert.equal(s.url, url);
  assert.equal(s.output, output);
  assert.ok(isAbsolute(s.output) || s.output === "-", `output ${s.output} is absolute`);
  for (const key of ["taskId", "peerId", "contentLength", "digest", "error"] as const) assert.ok(key in s, `has ${key}`);
  assert.equal(typeof s.bytesWritten, "number");
  assert.equal(typeof s.durationMs, "number");
  assert.equal(typeof s.bytesPerSecond, "number");
  for (const key of ["total", "fromParents", "fromSource", "reused"] as const) assert.equal(typeof s.pieces[key], "number", `pieces.${key}`);
  assert.equal(typeof s.backToSource, "boolean");
  assert.ok(Array.isArray(s.scheduler.attempts), "scheduler.attempts is an array");
  assert.equal(typeof s.scheduler.switches, "number");
}

/** stdout holds exactly one line, the JSON object. */
function assertOneJsonLine(text: string): void {
  const lines = text.split("\n");
  assert.equal(lines.length, 2, `one line then newline: ${JSON.stringify(text.slice(0, 200))}`);
  assert.equal(lines[1], "");
  assert.ok(lines[0].startsWith("{") && lines[0].endsWith("}"));
}

before(async () => {
  origin = await startOrigin({ files: { "/small.bin": SMALL, "/multi.bin": MULTI, "/secret.bin": SMALL, "/stdout.bin": MULTI } });
  origin.setFault("/error404", { kind: "status", status: 404 });
});

after(async () => {
  await origin.close();
  await dirs.removeAll();
});

describe("dfget output contract", { concurrency: 4 }, () => {
  test("--json on success: one line, every field; -O relative resolved; -H on every request", async () => {
    const w = await tempDir();
    const url = origin.url("/multi.bin");
    const run = await runDfget([url, "-O", "out.bin", "--json", "-H", "X-Test: 1", "--state-dir", w.state], { cwd: w.dir });
    assert.equal(run.code, 0, run.stderr);
    assertOneJsonLine(run.stdout);
    const s = run.json;
    assert.ok(s);
    assertSummaryShape(s, url, join(w.dir, "out.bin"));
    assert.equal(s.ok, true);
    assert.equal(s.exitCode, 0);
    assert.equal(s.error, null);
    assert.match(s.taskId ?? "", TASK_ID);
    assert.equal(s.contentLength, MULTI.length);
    assert.equal(s.bytesWritten, MULTI.length);
    assert.ok(s.pieces.total >= 2, `several pieces, got ${s.pieces.total}`);
    assert.equal(s.pieces.fromSource, s.pieces.total);
    assert.equal(s.backToSource, true);
    assert.deepEqual(s.scheduler.attempts, []);
    assert.equal(await sha256OfFile(join(w.dir, "out.bin")), sha256(MULTI));

    const seen = requestsFor(origin, "/multi.bin");
    assert.ok(seen.filter((r) => r.method === "GET").length >= 2, "ranged GETs, one per piece");
    for (const r of seen) assert.equal(r.headers["x-test"], "1", `${r.method} ${r.range ?? ""} carried X-Test`);
  });

  test("--json on failure: still one line, ok false, the exit code and the error", async () => {
    const w = await tempDir();
    const url = origin.url("/error404");
    const run = await runDfget([url, "-O", w.out, "--json", "--state-dir", w.state]);
    assert.equal(run.code, 22, run.stderr);
    assertOneJsonLine(run.stdout);
    const s = run.json;
    assert.ok(s);
    assertSummaryShape(s, url, w.out);
    assert.equal(s.ok, false);
    assert.equal(s.exitCode, 22);
    assert.match(s.error ?? "", /404/);
    assert.equal(s.bytesWritten, 0);
    assert.match(s.taskId ?? "", TASK_ID, "the task id depends on the URL only, so failures carry it too");
  });

  test(
    "--json on a usage error (exit 2): the summary is still printed",
    async () => {
      const w = await tempDir();
      const run = await runDfget([origin.url("/small.bin"), "-O", w.out, "--json", "--timeout", "abc", "--state-dir", w.state]);
      assert.equal(run.code, 2);
      assert.equal(run.json?.ok, false);
      assert.equal(run.json?.exitCode, 2);
      assert.match(run.json?.error ?? "", /--timeout/);
    },
  );

  test("-O -: file bytes on stdout, summary on stderr", async () => {
    const w = await tempDir();
    const url = origin.url("/stdout.bin");
    const run = await runDfget([url, "-O", "-", "--json", "--state-dir", w.state], { jsonFromStderr: true, cwd: w.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdoutBuffer.length, MULTI.length);
    assert.equal(sha256(run.stdoutBuffer), sha256(MULTI));
    assert.ok(run.json, `summary on stderr: ${run.stderr}`);
    assert.equal(run.json.ok, true);
    assert.equal(run.json.output, "-");
    assert.equal(run.json.bytesWritten, MULTI.length);
    assert.equal(run.stderr.trim().split("\n").filter((l) => l.startsWith("{")).length, 1);

    const failed = await runDfget([origin.url("/error404"), "-O", "-", "--json", "--state-dir", w.state], { jsonFromStderr: true });
    assert.equal(failed.code, 22);
    assert.equal(failed.stdoutBuffer.length, 0, "nothing on stdout when the download fails");
    assert.equal(failed.json?.exitCode, 22);
  });

  test("-O - with a TMPDIR that does not exist still works (curl needs no temp dir): exit 0, the bytes, nothing left", async () => {
    const w = await tempDir();
    const url = origin.url("/stdout.bin");
    const run = await runDfget([url, "-O", "-", "-q", "--state-dir", w.state], { cwd: w.dir, env: baseEnv({ TMPDIR: join(w.dir, "missing") }) });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(run.stdoutBuffer), sha256(MULTI));
    assert.equal(run.stderr, "");
    assert.deepEqual((await readdir(w.dir)).filter((n) => n !== "state"), []);
  });

  test("Authorization header reaches the origin but never the output, even with -v", async () => {
    const w = await tempDir();
    const ok = await runDfget([origin.url("/secret.bin"), "-O", w.out, "-v", "--json", "-H", `Authorization: ${SECRET}`, "--state-dir", w.state]);
    assert.equal(ok.code, 0, ok.stderr);
    const sent = requestsFor(origin, "/secret.bin");
    assert.ok(sent.length > 0);
    for (const r of sent) assert.equal(r.headers.authorization, SECRET);

    const failed = await runDfget([origin.url("/error404"), "-O", w.out, "--overwrite", "-v", "--json", "-H", `Authorization: ${SECRET}`, "--state-dir", w.state]);
    assert.equal(failed.code, 22);
    for (const run of [ok, failed]) {
      assert.ok(!run.stderr.includes("sekret"), `stderr leaks the token: ${run.stderr}`);
      assert.ok(!run.stdout.includes("sekret"), `stdout leaks the token: ${run.stdout}`);
    }
  });

  test('--version prints dfget 0.2.0 (cli.md: this version builds its "Additions in 0.2")', async () => {
    const run = await runDfget(["--version"]);
    assert.equal(run.code, 0);
    assert.equal(run.stdout, "dfget 0.2.0\n");
    assert.equal(run.stderr, "");
  });

  test("--help lists every option of the contract with its default", async () => {
    const run = await runDfget(["--help"]);
    assert.equal(run.code, 0);
    const longOptions = [
      "output", "overwrite", "digest", "header", "tag", "application", "priority", "piece-length",
      "filtered-query-param", "disable-back-to-source", "timeout", "connect-timeout", "cooldown", "config",
      "state-dir", "progress", "no-progress", "quiet", "verbose", "log-level", "color", "json", "dry-run",
      "scheduler", "manager", "help", "version", "retry", "no-resume", "hedge-delay", "content-for-calculating-task-id",
      "input-file", "max-concurrent-files", "recursive", "include-files", "storage-KEY",
    ];
    for (const name of longOptions) assert.match(run.stdout, new RegExp(`--${name}\\b`), `--help mentions --${name}`);
    for (const short of ["-O", "-H", "-q", "-v", "-p", "-l", "-i", "-r", "-I"]) assert.ok(run.stdout.includes(`${short}, --`), `--help shows ${short}`);
    for (const value of ["2h", "2s", "60s", "auto", "info", "5", "300ms"]) assert.ok(run.stdout.includes(`[${value}]`), `default ${value}`);
    assert.ok(run.stdout.split("\n").length <= 81, "at most 80 lines");
  });
});

describe("stderr on a pipe", { concurrency: 4 }, () => {
  /** Colours left to auto-detection: NO_COLOR unset, so only the pipe keeps stderr plain. */
  const autoColorEnv = baseEnv({ NO_COLOR: undefined, TERM: "xterm-256color" });

  test("--progress auto: plain lines, no escapes or \\r, ends with a progress line", async () => {
    const w = await tempDir();
    const run = await runDfget([origin.url("/small.bin"), "-O", w.out, "--progress", "auto", "--state-dir", w.state], { env: autoColorEnv });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, ANSI_ESCAPE);
    assert.doesNotMatch(run.stderr, CARRIAGE_RETURN);
    assert.match(run.stderr, /directly from the origin/, "says there is no P2P");
    const lines = run.stderr.trimEnd().split("\n");
    assert.match(lines[lines.length - 1], /^dfget: 100% .*pieces 1\/1$/);
    assert.equal(run.stdout, "", "nothing on stdout without --json");
  });

  test("-q and --progress none print nothing on success", async () => {
    const w = await tempDir();
    for (const flags of [["-q"], ["--no-progress"]]) {
      const run = await runDfget([origin.url("/small.bin"), "-O", w.out, "--overwrite", ...flags, "--state-dir", w.state], { env: autoColorEnv });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, "", `${flags.join(" ")}: stderr ${JSON.stringify(run.stderr)}`);
      assert.equal(await sha256OfFile(w.out), sha256(SMALL));
    }
  });

  test("--progress none prints the error, and only it", async () => {
    const w = await tempDir();
    const run = await runDfget([origin.url("/error404"), "-O", w.out, "--progress", "none", "--state-dir", w.state]);
    assert.equal(run.code, 22);
    const lines = run.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, JSON.stringify(run.stderr));
    assert.match(lines[0], /^dfget: error: .*404/);
  });

  test("NO_COLOR=1 and --color never: no escapes, even in the error line", async () => {
    const w = await tempDir();
    const noColor = await runDfget([origin.url("/error404"), "-O", w.out, "--state-dir", w.state], { env: baseEnv({ NO_COLOR: "1", FORCE_COLOR: undefined }) });
    const never = await runDfget([origin.url("/error404"), "-O", w.out, "--color", "never", "--state-dir", w.state], { env: baseEnv({ NO_COLOR: undefined, FORCE_COLOR: "1" }) });
    for (const run of [noColor, never]) {
      assert.equal(run.code, 22);
      assert.match(run.stderr, /error: .*404/);
      assert.doesNotMatch(run.stderr, ANSI_ESCAPE);
    }
  });

  test("--color always colours the error line, even with NO_COLOR and a pipe", async () => {
    const w = await tempDir();
    const run = await runDfget([origin.url("/error404"), "-O", w.out, "--color", "always", "--state-dir", w.state], { env: baseEnv({ NO_COLOR: "1" }) });
    assert.equal(run.code, 22);
    const errorLine = run.stderr.split("\n").find((l) => l.includes("404"));
    assert.ok(errorLine, run.stderr);
    assert.match(errorLine, ANSI_ESCAPE);
    assert.equal(await exists(w.out), false);
  });
});
