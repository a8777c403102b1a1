// The exit-code table of the CLI contract (../shared/design/cli.md, "Exit codes"), for every
// code the direct path (no cluster configured) can produce, by running the BUILT dfget
// (bin/dfget.js → dist/; `npm run build` first) against the fake origin.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { blake3 } from "hash-wasm";
import { baseEnv, runDfget, workDirs, type DfgetRun } from "../support/cli.js";
import { startOrigin, type FakeOrigin } from "../support/origin.js";
import { KEPT_FOR_RESUME, crc32Decimal, exists, freePort, partFiles, requestsFor, sha256, sha256OfFile, waitFor } from "../support/cli-e2e.js";

const SMALL = randomBytes(50_000);
const SLOW = randomBytes(400_000);

let origin: FakeOrigin;
const dirs = workDirs();
const tempDir = dirs.make;

/** Failure message as printed on stderr, and the JSON summary agreeing with the exit code. */
function assertFailure(run: DfgetRun, code: number, messagePart: RegExp): void {
  assert.equal(run.code, code, `exit code; stderr: ${run.stderr}`);
  assert.match(run.stderr, messagePart);
  if (run.json) {
    assert.equal(run.json.ok, false);
    assert.equal(run.json.exitCode, code);
    assert.match(run.json.error ?? "", messagePart);
  }
}

/**
 * --timeout 1s fired (its own message), not an origin read deadline, and not before the
 * second was up. How soon after is not asserted: runDfget's deadline catches a hang.
 */
function assertPromptTimeout(run: DfgetRun): void {
  assert.match(run.json?.error ?? "", /--timeout 1s reached/);
  const ran = run.json?.durationMs ?? Number.NaN;
  assert.ok(ran >= 900, `run lasted ${ran} ms`);
}

before(async () => {
  origin = await startOrigin({ files: { "/small.bin": SMALL, "/slow.bin": SLOW, "/cut.bin": SMALL, "/stall-body.bin": SMALL } });
  origin.setFault("/loop", { kind: "redirect", to: "/loop" });
  origin.setFault("/error500", { kind: "status", status: 500 });
  origin.setFault("/stall", { kind: "stall" });
  origin.setFault("/stall-body.bin", { kind: "stall", afterBytes: 1000 });
  origin.setFault("/cut.bin", { kind: "close-mid-body", afterBytes: 10_000 });
  origin.setFault("/slow.bin", { kind: "slow", bytesPerSecond: 40_000 });
});

after(async () => {
  await origin.close();
  await dirs.removeAll();
});

describe("dfget exit codes (direct origin, no cluster)", { concurrency: 4 }, () => {
  test("0: success, the file is the served bytes", async () => {
    const w = await tempDir();
    const run = await runDfget([origin.url("/small.bin"), "-O", w.out, "--state-dir", w.state, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await sha256OfFile(w.out), sha256(SMALL));
    assert.equal(run.json?.ok, true);
    assert.equal(run.json?.exitCode, 0);
    assert.deepEqual(await partFiles(w.dir), []);
  });

  test("1: origin redirect loop", async () => {
    const w = await tempDir();
    const run = await runDfget([origin.url("/loop"), "-O", w.out, "--state-dir", w.state, "--json"]);
    assertFailure(run, 1, /redirect/i);
    assert.ok(requestsFor(origin, "/loop").length > 1, "the redirect was followed at least once");
    assert.equal(await exists(w.out), false);
  });

  describe("2: usage errors, before any origin request", () => {
    const usageCases: Array<{ name: string; args: (out: string) => string[]; message: RegExp }> = [
      { name: "unknown flag", args: (out) => [origin.url("/u1"), "-O", out, "--bogus-flag"], message: /--bogus-flag/ },
      { name: "bad duration", args: (out) => [origin.url("/u2"), "-O", out, "--timeout", "abc"], message: /--timeout.*abc/ },
      { name: "priority out of range", args: (out) => [origin.url("/u3"), "-O", out, "--priority", "9"], message: /--priority.*9/ },
      { name: "malformed header", args: (out) => [origin.url("/u4"), "-O", out, "-H", "nocolon"], message: /(--header|-H).*nocolon/ },
      { name: "non-http URL", args: (out) => ["ftp://127.0.0.1/u5", "-O", out], message: /http/ },
    ];
    for (const c of usageCases) {
      test(c.name, async () => {
        const w = await tempDir();
        const run = await runDfget([...c.args(w.out), "--state-dir", w.state]);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, c.message);
        assert.equal(await exists(w.out), false);
      });
    }

    test("config file: unknown key and wrong type name the key and the file", async () => {
      const w = await tempDir();
      const unknownKey = join(w.dir, "unknown-key.yaml");
      await writeFile(unknownKey, "scheduler:\n  cooldownIntervall: 5s\n");
      const wrongType = join(w.dir, "wrong-type.yaml");
      await writeFile(wrongType, "download:\n  concurrentPieceCount: eight\n");

      for (const [file, key] of [[unknownKey, "scheduler.cooldownIntervall"], [wrongType, "download.concurrentPieceCount"]]) {
        const run = await runDfget([origin.url("/u7"), "-O", w.out, "--state-dir", w.state, "--config", file]);
        assert.equal(run.code, 2, run.stderr);
        assert.ok(run.stderr.includes(key), `names the key ${key}: ${run.stderr}`);
        assert.ok(run.stderr.includes(file), `names the file ${file}: ${run.stderr}`);
      }
      assert.equal(await exists(w.out), false);
    });

    after(() => {
      const touched = origin.requests.filter((r) => /^\/u\d/.test(r.path));
      assert.deepEqual(touched, [], "a usage error must not reach the origin");
    });
  });

  test("7: origin port refused", async () => {
    const w = await tempDir();
    const port = await freePort();
    const run = await runDfget([`http://127.0.0.1:${port}/file`, "-O", w.out, "--state-dir", w.state, "--json"]);
    assertFailure(run, 7, /unreachable|ECONNREFUSED|refused/i);
    assert.equal(await exists(w.out), false);
    assert.deepEqual(await partFiles(w.dir), []);
  });

  test("18: origin closes the connection mid-body", async () => {
    const w = await tempDir();
    const run = await runDfget([origin.url("/cut.bin"), "-O", w.out, "--state-dir", w.state, "--json"]);
    assertFailure(run, 18, /./);
    // The first try and --retry's 5 more, all cut: then 18, the partial kept for a rerun.
    assert.equal(requestsFor(origin, "/cut.bin").filter((r) => r.method === "GET").length, 6);
    assert.equal(await exists(w.out), false);
    assert.deepEqual(await partFiles(w.dir), KEPT_FOR_RESUME);
  });

  test("22: 404 and 500, status in the message", async () => {
    const w = await tempDir();
    const notFound = await runDfget([origin.url("/missing.bin"), "-O", w.out, "--state-dir", w.state, "--json"]);
    assertFailure(notFound, 22, /404/);
    const serverError = await runDfget([origin.url("/error500"), "-O", w.out, "--state-dir", w.state, "--json"]);
    assertFailure(serverError, 22, /500/);
    assert.equal(await exists(w.out), false);
  });

  test("23: output directory missing, or its parent is a regular file", async () => {
    const w = await tempDir();
    const missingDir = await runDfget([origin.url("/small.bin"), "-O", join(w.dir, "no-such-dir", "out.bin"), "--state-dir", w.state, "--json"]);
    assertFailure(missingDir, 23, /no-such-dir/);
    // Typed relative: the summary's output is still the absolute path (cli.md).
    const relative = await runDfget([origin.url("/small.bin"), "-O", join("no-such-dir", "out.bin"), "--state-dir", w.state, "--json"], { cwd: w.dir });
    assertFailure(relative, 23, /no-such-dir/);
    assert.equal(relative.json?.output, join(w.dir, "no-such-dir", "out.bin"));
    // Tests run as root, so permissions cannot make a directory unwritable: a file can.
    const regular = join(w.dir, "regular-file");
    await writeFile(regular, "not a directory");
    const underFile = await runDfget([origin.url("/small.bin"), "-O", join(regular, "out.bin"), "--state-dir", w.state, "--json"]);
    assertFailure(underFile, 23, /regular-file/);
    assert.equal(await readFile(regular, "utf8"), "not a directory");
  });

  test("28: --timeout 1s against an origin that never answers, and one that stalls mid-body", async () => {
    const w = await tempDir();
    const silent = await runDfget([origin.url("/stall"), "-O", w.out, "--state-dir", w.state, "--timeout", "1s", "--json"]);
    assertFailure(silent, 28, /timeout/i);
    assertPromptTimeout(silent);
    const stalled = await runDfget([origin.url("/stall-body.bin"), "-O", w.out, "--state-dir", w.state, "--timeout", "1s", "--json"]);
    assertFailure(stalled, 28, /timeout/i);
    assertPromptTimeout(stalled);
    assert.equal(await exists(w.out), false);
    // Nothing at PATH; the hidden partial and its record stay for a rerun (issue 11).
    assert.deepEqual(await partFiles(w.dir), KEPT_FOR_RESUME);
  });

  describe("32: --digest", () => {
    test("wrong sha256: exit 32 and no file at -O", async () => {
      const w = await tempDir();
      const run = await runDfget([origin.url("/small.bin"), "-O", w.out, "--state-dir", w.state, "--digest", `sha256:${"0".repeat(64)}`, "--json"]);
      assertFailure(run, 32, /digest/i);
      assert.equal(await exists(w.out), false);
      assert.deepEqual(await partFiles(w.dir), []);
    });

    test("correct sha256: exit 0 and digest in the JSON", async () => {
      const w = await tempDir();
      const want = `sha256:${sha256(SMALL)}`;
      const run = await runDfget([origin.url("/small.bin"), "-O", w.out, "--state-dir", w.state, "--digest", want, "--json"]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.json?.digest, want);
      assert.equal(await sha256OfFile(w.out), sha256(SMALL));
    });

    test("crc32 (Dragonfly's decimal form) and blake3", async () => {
      const w = await tempDir();
      const crc = `crc32:${crc32Decimal(SMALL)}`;
      const byCrc = await runDfget([origin.url("/small.bin"), "-O", w.out, "--state-dir", w.state, "--digest", crc, "--json"]);
      assert.equal(byCrc.code, 0, byCrc.stderr);
      assert.equal(byCrc.json?.digest, crc);

      const blake = `blake3:${await blake3(SMALL)}`;
      const byBlake = await runDfget([origin.url("/small.bin"), "-O", w.out, "--overwrite", "--state-dir", w.state, "--digest", blake, "--json"]);
      assert.equal(byBlake.code, 0, byBlake.stderr);
      assert.equal(byBlake.json?.digest, blake);
    });
  });

  test("73: existing output is left untouched; --overwrite replaces it", async () => {
    const w = await tempDir();
    const path = join(w.dir, "existing.bin");
    await writeFile(path, "old content");
    const refused = await runDfget([origin.url("/small.bin?run=73"), "-O", path, "--state-dir", w.state, "--json"]);
    assertFailure(refused, 73, /existing\.bin/);
    assert.equal(await readFile(path, "utf8"), "old content");
    assert.ok(!origin.requests.some((r) => r.path === "/small.bin?run=73"), "no origin request before the output check");

    const replaced = await runDfget([origin.url("/small.bin"), "-O", path, "--overwrite", "--state-dir", w.state, "--json"]);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.equal(await sha256OfFile(path), sha256(SMALL));
    assert.deepEqual(await partFiles(w.dir), []);
  });

  test("69: --disable-back-to-source with no cluster configured", async () => {
    const w = await tempDir();
    const run = await runDfget([origin.url("/small.bin?run=69"), "-O", w.out, "--state-dir", w.state, "--disable-back-to-source", "--json"]);
    assertFailure(run, 69, /scheduler|back-to-source/i);
    const gets = origin.requests.filter((r) => r.path === "/small.bin?run=69" && r.method === "GET");
    assert.deepEqual(gets, [], "the file body is never fetched from the origin");
    assert.equal(await exists(w.out), false);
    assert.deepEqual(await partFiles(w.dir), []);
  });

  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    test(`${code}: ${signal} mid-download leaves no file at PATH, the hidden partial kept for resume`, async () => {
      const w = await tempDir();
      await mkdir(w.state, { recursive: true });
      const tag = `/slow.bin?signal=${signal}`;
      let signalled = false;
      const run = await runDfget([origin.url(tag), "-O", w.out, "--state-dir", w.state, "--json"], {
        onSpawn: (child) => {
          const bodyStarted = (): boolean => origin.requests.some((r) => r.path === tag && r.method === "GET" && r.status === 206);
          waitFor(`GET ${tag}`, bodyStarted).then(
            () => {
              signalled = true;
              child.kill(signal);
            },
            () => child.kill("SIGKILL"),
          );
        },
      });
      assert.ok(signalled, "the signal was sent mid-download");
      assert.equal(run.signal, null, "dfget handles the signal and exits with a code");
      assertFailure(run, code, new RegExp(signal));
      // This run's own GETs only: the other signal's test streams /slow.bin at the same time.
      const served = origin.requests.filter((r) => r.path === tag).reduce((sum, r) => sum + r.bytesSent, 0);
      assert.ok(served < SLOW.length, `the slow body (10 s) was not cut short: ${served} bytes sent`);
      assert.equal(await exists(w.out), false);
      assert.deepEqual(await partFiles(w.dir), KEPT_FOR_RESUME);
    });
  }
});
