// -O naming an existing character device or FIFO (/dev/null, /dev/full, a named pipe):
// the bytes are written into it, as curl and wget do. It is never replaced by a regular
// file (a temp file renamed onto /dev/null once turned /dev/null into a 9 MiB file), no
// lock or partial is put beside it, and a device that fails (ENOSPC) or a reader that goes
// away is exit 23 with one line. The devices here are twins made with mknod in the test's
// own directory, so a regression can never replace the machine's /dev/null.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { closeSync, constants, openSync, statSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { startOrigin, type FakeOrigin } from "../support/origin.js";
import { baseEnv, runDfget, workDirs } from "../support/cli.js";
import { sha256 } from "../support/cli-e2e.js";

const MiB = 1024 * 1024;
const BODY = randomBytes(9 * MiB); // three 4 MiB pieces
const linux = process.platform === "linux";

let origin: FakeOrigin;
const dirs = workDirs();

before(async () => {
  origin = await startOrigin({ files: { "/f.bin": BODY } });
});
after(async () => {
  await origin.close();
  await dirs.removeAll();
});

/**
 * `cat PATH` in a child: the FIFO's reader. `unblock()`, once the writer has exited: a
 * reader still waiting for one in open(2) gets a writer that closes at once (EOF, no
 * bytes); a FIFO replaced by a file can never get one, so its reader is stopped.
 */
function readFifo(path: string): { bytes: Promise<Buffer>; unblock(): void } {
  const cat = spawn("cat", [path], { stdio: ["ignore", "pipe", "ignore"] });
  const chunks: Buffer[] = [];
  cat.stdout.on("data", (b: Buffer) => chunks.push(b));
  const bytes = new Promise<Buffer>((resolve) => cat.on("close", () => resolve(Buffer.concat(chunks))));
  const unblock = (): void => {
    if (!statSync(path).isFIFO()) {
      cat.kill();
      return;
    }
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: no reader left, it has already seen the end.
    }
  };
  return { bytes, unblock };
}

/**
 * A twin of /dev/null (minor 3) or /dev/full (minor 7) in the test's own directory, so a
 * regression that replaces the device replaces the twin, never the machine's.
 */
function twinOf(path: string, minor: number): boolean {
  try {
    execFileSync("mknod", [path, "c", "1", String(minor)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function fifoRun(extra: string[]) {
  const w = await dirs.make();
  const tmp = join(w.dir, "tmp");
  await mkdir(tmp);
  const fifo = join(w.dir, "pipe");
  execFileSync("mkfifo", [fifo]);
  const reader = readFifo(fifo);
  const run = await runDfget([origin.url("/f.bin"), "-O", fifo, "--state-dir", w.state, "--json", ...extra], { env: baseEnv({ TMPDIR: tmp }), timeoutMs: 60_000 });
  reader.unblock();
  const got = await reader.bytes;
  const left = (await readdir(w.dir)).filter((n) => n !== "tmp" && n !== "state").sort();
  return { run, got, fifo, left, tmpLeft: await readdir(tmp) };
}

describe("-O a character device or FIFO", { skip: !linux && "needs mkfifo and /dev/full" }, () => {
  test("a named pipe gets the bytes in order; it stays a pipe, nothing beside it", async () => {
    const { run, got, fifo, left, tmpLeft } = await fifoRun([]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(got), sha256(BODY));
    assert.ok(statSync(fifo).isFIFO(), "still a FIFO");
    assert.deepEqual(left, ["pipe"]);
    assert.deepEqual(tmpLeft, []);
    assert.equal(run.json?.bytesWritten, BODY.length);
    assert.equal(run.json?.output, fifo);
  });

  test("--overwrite does not replace the pipe with a file", async () => {
    const { run, got, fifo, left } = await fifoRun(["--overwrite"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(got), sha256(BODY));
    assert.ok(statSync(fifo).isFIFO(), "still a FIFO");
    assert.deepEqual(left, ["pipe"]);
  });

  test("--digest: the bytes reach the pipe once verified", async () => {
    const { run, got, fifo } = await fifoRun(["--digest", `sha256:${sha256(BODY)}`]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(got), sha256(BODY));
    assert.ok(statSync(fifo).isFIFO());
  });

  test("a /dev/null twin (mknod 1,3), with and without --overwrite: exit 0, still the null device, nothing beside it", async (t) => {
    const w = await dirs.make();
    const dev = join(w.dir, "null");
    if (!twinOf(dev, 3)) return t.skip("mknod is not allowed here");
    for (const extra of [[], ["--overwrite"]]) {
      const run = await runDfget([origin.url("/f.bin"), "-O", dev, "--state-dir", w.state, "--json", ...extra], { env: baseEnv({ TMPDIR: w.dir }) });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.json?.bytesWritten, BODY.length);
      assert.ok(statSync(dev).isCharacterDevice(), `${extra.join(" ")}: replaced by a plain file`);
    }
    assert.deepEqual((await readdir(w.dir)).filter((n) => n !== "state").sort(), ["null"]);
  });

  test("a /dev/full twin (mknod 1,7): exit 23 'disk full' on one line, still the device, nothing left", async (t) => {
    const w = await dirs.make();
    const dev = join(w.dir, "full");
    if (!twinOf(dev, 7)) return t.skip("mknod is not allowed here");
    const tmp = join(w.dir, "tmp");
    await mkdir(tmp);
    for (const extra of [[], ["--overwrite"]]) {
      const run = await runDfget([origin.url("/f.bin"), "-O", dev, "--state-dir", w.state, "-q", "--json", ...extra], { env: baseEnv({ TMPDIR: tmp }) });
      assert.equal(run.code, 23, run.stderr);
      assert.deepEqual(run.stderr.trimEnd().split("\n"), [`dfget: error: cannot write to ${dev}: disk full`]);
      assert.equal(run.json?.exitCode, 23);
      assert.ok(statSync(dev).isCharacterDevice(), "still the full device");
      assert.deepEqual((await readdir(w.dir)).filter((n) => n !== "state" && n !== "tmp").sort(), ["full"]);
      assert.deepEqual(await readdir(tmp), []);
    }
  });
});
