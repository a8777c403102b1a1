// The CLI against hostile origins (issue 11): every row asserts the output bytes, the exit
// code, what is left beside the output and what is left in $TMPDIR, and the retries the
// origin caused (GETs recorded by the fake).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startOrigin, type FakeOrigin } from "../support/origin.js";
import { baseEnv, runDfget, workDirs } from "../support/cli.js";
import { exists, requestsFor, sha256, waitFor } from "../support/cli-e2e.js";
import { deferred } from "../support/wait.js";

const MiB = 1024 * 1024;
const V1 = randomBytes(9 * MiB); // three 4 MiB pieces
const V2 = randomBytes(9 * MiB);
const TINY = Buffer.from("x");

let origin: FakeOrigin;
const dirs = workDirs();

before(async () => {
  origin = await startOrigin();
});
after(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** A run with its own $TMPDIR, so what it leaves there can be seen. */
async function fetch(path: string, extra: string[] = [], opts: { config?: string } = {}) {
  const w = await dirs.make();
  const tmp = join(w.dir, "tmp");
  await mkdir(tmp);
  const args = [origin.url(path), "-O", w.out, "--state-dir", w.state, "--json", ...extra];
  if (opts.config !== undefined) {
    await writeFile(join(w.dir, "dfget.yaml"), opts.config);
    args.push("--config", join(w.dir, "dfget.yaml"));
  }
  const run = await runDfget(args, { env: baseEnv({ TMPDIR: tmp }), timeoutMs: 60_000 });
  const left = (await readdir(w.dir)).filter((n) => n !== "tmp" && n !== "state" && n !== "dfget.yaml").sort();
  return { run, w, left, tmpLeft: await readdir(tmp) };
}

function gets(path: string): number {
  return requestsFor(origin, path).filter((r) => r.method === "GET").length;
}

describe("hostile origins", () => {
  test("the object replaced mid-download: exit 18 naming both versions, nothing kept", async () => {
    origin.setFile("/replaced", V1);
    origin.setFault("/replaced", { kind: "replace", afterGets: 1, content: V2 });
    const { run, left, tmpLeft } = await fetch("/replaced", ["--retry", "2"]);
    assert.equal(run.code, 18, run.stderr);
    assert.match(run.stderr, /object changed.*was ETag "v1-900000", 9437184 bytes, now ETag "v2-900000"/);
    assert.deepEqual(left, []);
    assert.deepEqual(tmpLeft, []);
  });

  test("the object grew after HEAD (same ETag): exit 18 by the Content-Range total", async () => {
    origin.setFile("/grows", V1);
    origin.setFault("/grows", { kind: "grow", afterGets: 0, extra: Buffer.from("tail") });
    const { run, left } = await fetch("/grows");
    assert.equal(run.code, 18, run.stderr);
    assert.match(run.stderr, /9437184 bytes.*9437188 bytes/);
    assert.deepEqual(left, []);
  });

  test("one range cut short: retried, exit 0, exact bytes, one extra GET", async () => {
    origin.setFile("/cut-once", V1);
    origin.setFault("/cut-once", { kind: "times", count: 1, fault: { kind: "close-mid-body", afterBytes: 1000 } });
    const { run, w, left, tmpLeft } = await fetch("/cut-once");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(V1));
    assert.equal(gets("/cut-once"), 4, "3 pieces + 1 retry");
    assert.deepEqual(left, ["out.bin"]);
    assert.deepEqual(tmpLeft, []);
  });

  test("503 once: retried, exit 0", async () => {
    origin.setFile("/503", V1);
    origin.setFault("/503", { kind: "times", count: 1, fault: { kind: "status", status: 503 } });
    const { run, w } = await fetch("/503");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(V1));
    assert.equal(gets("/503"), 4);
  });

  test("404 is not retried", async () => {
    origin.setFile("/404", V1);
    origin.setFault("/404", { kind: "times", count: 1, fault: { kind: "status", status: 404 } });
    const { run, left } = await fetch("/404", ["--piece-length", "4mib"]);
    assert.equal(run.code, 22, run.stderr);
    assert.equal(requestsFor(origin, "/404").filter((r) => r.method === "GET" && r.status === 404).length, 1);
    assert.deepEqual(left, []);
  });

  test("Range ignored (200): one streamed GET, exit 0, exact bytes", async () => {
    origin.setFile("/ignores", V1);
    origin.setFault("/ignores", { kind: "ignore-range" });
    const { run, w, left } = await fetch("/ignores", ["--retry", "0"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(V1));
    assert.deepEqual(left, ["out.bin"]);
  });

  test("a 206 running past the asked end: exactly the asked bytes, exit 0", async () => {
    origin.setFile("/over", V1);
    origin.setFault("/over", { kind: "over-send", extra: 100_000 });
    const { run, w } = await fetch("/over");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(V1));
  });

  test("a drip (first GET at 40 B/s): dropped within the 1 s window, retried, exit 0", async () => {
    origin.setFile("/drip", V1);
    origin.setFault("/drip", { kind: "times", count: 1, fault: { kind: "slow", bytesPerSecond: 40 } });
    const { run, w } = await fetch("/drip", [], { config: "download:\n  pieceTimeout: 1s\n" });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(V1));
    assert.equal(gets("/drip"), 4);
  });

  test("a 1-byte file whose connection is cut: 18 (not 7) once retries are spent; retried to success otherwise", async () => {
    origin.setFile("/one", TINY);
    origin.setFault("/one", { kind: "close-mid-body", afterBytes: 0 });
    const failed = await fetch("/one", ["--retry", "1"]);
    assert.equal(failed.run.code, 18, failed.run.stderr);
    assert.deepEqual(failed.left, [".out.bin.dfget.json", ".out.bin.dfget.part"], "cut short: kept hidden for a rerun, nothing at PATH");
    origin.setFault("/one", { kind: "times", count: 1, fault: { kind: "close-mid-body", afterBytes: 0 } });
    const ok = await fetch("/one");
    assert.equal(ok.run.code, 0, ok.run.stderr);
    assert.equal(await readFile(ok.w.out, "utf8"), "x");
  });

  test("a 40 KiB response head (HEAD and 206s) is read; over 64 KiB is one clear line, exit 1", async () => {
    origin.setFile("/big-head", V1);
    origin.setFault("/big-head", { kind: "big-header", bytes: 40 * 1024 });
    const ok = await fetch("/big-head");
    assert.equal(ok.run.code, 0, ok.run.stderr);
    assert.equal(sha256(readFileSync(ok.w.out)), sha256(V1));
    origin.setFault("/big-head", { kind: "big-header", bytes: 80 * 1024 });
    const { run, left, tmpLeft } = await fetch("/big-head", ["-q"]);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(run.stderr.trimEnd().split("\n"), [`dfget: error: origin sent a response head over 64 KiB for ${origin.url("/big-head")}`]);
    assert.deepEqual(left, []);
    assert.deepEqual(tmpLeft, []);
  });

  test("--overwrite keeps a 0600 file's mode", async () => {
    origin.setFile("/mode", TINY);
    const w = await dirs.make();
    await writeFile(w.out, "old");
    await chmod(w.out, 0o600);
    const run = await runDfget([origin.url("/mode"), "-O", w.out, "--state-dir", w.state, "--overwrite"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await stat(w.out)).mode & 0o777, 0o600);
    assert.equal(await readFile(w.out, "utf8"), "x");
  });
});

describe("resume", () => {
  test("kill -9 after two of three pieces, then rerun: only the missing piece is fetched, reused 2", async () => {
    origin.setFile("/resume", V1);
    origin.setFault("/resume", { kind: "from-offset", from: 8 * MiB, fault: { kind: "stall", afterBytes: 1000 } });
    const w = await dirs.make();
    const record = join(w.dir, ".out.bin.dfget.json");
    const args = [origin.url("/resume"), "-O", w.out, "--state-dir", w.state, "--json"];
    const killed = await runDfget(args, {
      onSpawn: (child) => {
        const twoRecorded = (): boolean => {
          let text = "";
          try {
            text = readFileSync(record, "utf8");
          } catch {
            return false;
          }
          return text !== "" && (JSON.parse(text) as { pieces: unknown[] }).pieces.length >= 2;
        };
        waitFor("two pieces in the resume record", twoRecorded, 30_000).then(() => child.kill("SIGKILL"), () => child.kill("SIGKILL"));
      },
    });
    assert.equal(killed.signal, "SIGKILL");
    assert.equal(await exists(w.out), false, "nothing at PATH");
    origin.setFault("/resume", undefined);
    const before = origin.bytesServedFor("/resume");
    const rerun = await runDfget(args);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(V1));
    assert.equal(rerun.json?.pieces.reused, 2);
    assert.equal(origin.bytesServedFor("/resume") - before, 1 * MiB, "the rerun fetched only the missing piece");
    assert.deepEqual((await readdir(w.dir)).filter((n) => n.startsWith(".")), [], "partial, record and lock removed on success");
  });

  test("a second run to the same output while the first runs: exit 73, the first unharmed", async () => {
    origin.setFile("/busy", V1);
    // The first run's last piece is held until the second run has ended: it holds the lock
    // the whole time, however long the second one takes to start on a loaded machine.
    const secondEnded = deferred();
    origin.setFault("/busy", { kind: "from-offset", from: 8 * MiB, fault: { kind: "stall", afterBytes: 1000, until: secondEnded.promise } });
    const w = await dirs.make();
    const args = [origin.url("/busy"), "-O", w.out, "--state-dir", w.state, "--json"];
    let second: Awaited<ReturnType<typeof runDfget>> | undefined;
    const first = await runDfget(args, {
      onSpawn: () => {
        waitFor("the first run's lock", () => existsSync(join(w.dir, ".out.bin.dfget.lock")), 30_000)
          .then(async () => {
            second = await runDfget(args);
          })
          .catch(() => undefined) // asserted below: `second` stays undefined
          .finally(() => secondEnded.resolve());
      },
    });
    assert.equal(first.code, 0, first.stderr);
    assert.ok(second, "the second run ran while the first held the lock");
    assert.equal(second.code, 73, second.stderr);
    assert.match(second.stderr, /another dfget/);
    assert.equal(sha256(await readFile(w.out)), sha256(V1));
  });
});

describe("-O -", () => {
  test("| sha256sum: right bytes, no copy in $TMPDIR", async () => {
    origin.setFile("/pipe", V1);
    const w = await dirs.make();
    const tmp = join(w.dir, "tmp");
    await mkdir(tmp);
    const run = await runDfget([origin.url("/pipe"), "-O", "-", "--state-dir", w.state], { env: baseEnv({ TMPDIR: tmp }), stdoutEncoding: "buffer" });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(run.stdoutBuffer), sha256(V1));
    assert.deepEqual(await readdir(tmp), []);
  });

  test("| head -c 100: the reader goes away → exit 23, no stack trace, nothing left", async () => {
    origin.setFile("/head", V1);
    const w = await dirs.make();
    const tmp = join(w.dir, "tmp");
    await mkdir(tmp);
    const run = await runDfget([origin.url("/head"), "-O", "-", "--state-dir", w.state], {
      env: baseEnv({ TMPDIR: tmp }),
      onSpawn: (child) => {
        let seen = 0;
        child.stdout?.on("data", (b: Buffer) => {
          seen += b.length;
          if (seen >= 100) child.stdout?.destroy();
        });
      },
    });
    assert.equal(run.code, 23, run.stderr);
    assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
    // Said once, in words (was "the reader closed the pipe (reader closed the pipe)").
    assert.match(run.stderr, /^dfget: error: cannot write to stdout: reader closed the pipe$/m);
    assert.equal(run.stderr.match(/closed the pipe/g)?.length, 1, run.stderr);
    assert.deepEqual(await readdir(tmp), []);
  });
});
