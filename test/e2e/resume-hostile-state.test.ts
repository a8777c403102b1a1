// Hostile on-disk state between runs: whatever sits at the hidden names beside the output
// (`.NAME.dfget.part`, `.json`, `.lock`) when the same command runs again. A name that is
// not a plain file of dfget's own — a symlink to the user's other file, a hard link, a
// FIFO — is never written through and never blocked on: the run starts that file over,
// ends 0 with the right bytes, and the other file is untouched.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { link, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startOrigin, type FakeOrigin } from "../support/origin.js";
import { baseEnv, runDfget, workDirs } from "../support/cli.js";
import { KEPT_FOR_RESUME, freePort, partFiles, sha256 } from "../support/cli-e2e.js";

const MiB = 1024 * 1024;
/** Fixed content (sha256 counter stream): five pieces of 4 MiB, the last one short. */
const CONTENT = (() => {
  const out = Buffer.alloc(18 * MiB + 7);
  for (let i = 0, off = 0; off < out.length; i++) off += createHash("sha256").update(`hostile-${i}`).digest().copy(out, off);
  return out;
})();
const STOP_AT = 8 * MiB;

let origin: FakeOrigin;
const dirs = workDirs();
before(async () => {
  origin = await startOrigin();
});
after(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** A first run cut short after pieces 0 and 1 (exit 18): the partial and record are beside out.bin. */
async function interrupted(path: string): Promise<{ dir: string; out: string; args: string[]; env: Record<string, string | undefined>; tmp: string }> {
  origin.setFile(path, CONTENT);
  origin.setFault(path, { kind: "from-offset", from: STOP_AT, fault: { kind: "close-mid-body", afterBytes: 1000 } });
  const w = await dirs.make();
  const tmp = join(w.dir, "tmp");
  await mkdir(tmp);
  const args = [origin.url(path), "-O", w.out, "--state-dir", w.state, "--json"];
  const env = baseEnv({ TMPDIR: tmp });
  const cut = await runDfget([...args, "--retry", "0"], { env });
  assert.equal(cut.code, 18, cut.stderr);
  assert.deepEqual(await partFiles(w.dir), KEPT_FOR_RESUME);
  origin.setFault(path, undefined);
  return { dir: w.dir, out: w.out, args, env, tmp };
}

async function assertCleanSuccess(run: Awaited<ReturnType<typeof runDfget>>, w: { dir: string; out: string; tmp: string }): Promise<void> {
  assert.equal(run.code, 0, run.stderr);
  assert.equal((await lstat(w.out)).isFile(), true, "the output is a plain file, not a link");
  assert.equal(sha256(await readFile(w.out)), sha256(CONTENT));
  assert.equal(run.json?.pieces.reused, 0);
  assert.deepEqual(await partFiles(w.dir), [], "nothing left beside the output");
  assert.deepEqual(await readdir(w.tmp), [], "nothing in TMPDIR");
}

describe("a partial that is not dfget's own plain file", () => {
  for (const flags of [[], ["--no-resume"]]) {
    test(`a symlink to another file in its place${flags.length ? ` (${flags.join(" ")})` : ""}: not written through, the download starts over`, async () => {
      const w = await interrupted(`/symlink-part${flags.join("")}`);
      const victim = join(w.dir, "victim.txt");
      await writeFile(victim, "the user's other file\n");
      const part = join(w.dir, ".out.bin.dfget.part");
      await rm(part);
      await symlink(victim, part);
      const run = await runDfget([...w.args, ...flags], { env: w.env });
      assert.equal(await readFile(victim, "utf8"), "the user's other file\n", "the symlink's target untouched");
      await assertCleanSuccess(run, w);
    });
  }

  test("a hard link shared with another file: that file keeps its bytes", async () => {
    const w = await interrupted("/hardlink-part");
    const other = join(w.dir, "other.bin");
    await link(join(w.dir, ".out.bin.dfget.part"), other);
    const before = sha256(await readFile(other));
    const run = await runDfget(w.args, { env: w.env });
    assert.equal(sha256(await readFile(other)), before, "the other name's bytes untouched");
    await rm(other);
    await assertCleanSuccess(run, w);
  });

  test("a FIFO in its place: no hang, no error, the download starts over", async () => {
    const w = await interrupted("/fifo-part");
    const part = join(w.dir, ".out.bin.dfget.part");
    await rm(part);
    execFileSync("mkfifo", [part]);
    const run = await runDfget(w.args, { env: w.env, timeoutMs: 20_000 }); // a hang fails here
    await assertCleanSuccess(run, w);
  });
});

describe("a record, lock or state file that is not a plain file", () => {
  test("a FIFO in place of the record: no hang, one notice, the download starts over", async () => {
    const w = await interrupted("/fifo-record");
    const record = join(w.dir, ".out.bin.dfget.json");
    await rm(record);
    execFileSync("mkfifo", [record]);
    const run = await runDfget(w.args, { env: w.env, timeoutMs: 20_000 }); // a hang fails here
    assert.equal(run.stderr.split("\n").filter((l) => /not resuming/.test(l)).length, 1, run.stderr);
    await assertCleanSuccess(run, w);
  });

  test("a FIFO in place of the lock: no live owner, no hang; the partial is resumed", async () => {
    const w = await interrupted("/fifo-lock");
    execFileSync("mkfifo", [join(w.dir, ".out.bin.dfget.lock")]);
    const run = await runDfget(w.args, { env: w.env, timeoutMs: 20_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json?.pieces.reused, 2);
    assert.equal(sha256(await readFile(w.out)), sha256(CONTENT));
    assert.deepEqual(await partFiles(w.dir), []);
  });

  test("a directory in place of the lock: 23 naming it, the partial kept", async () => {
    const w = await interrupted("/dir-lock");
    const lock = join(w.dir, ".out.bin.dfget.lock");
    await mkdir(lock);
    const run = await runDfget(w.args, { env: w.env });
    assert.equal(run.code, 23, run.stderr);
    assert.equal(run.stderr.trim(), `dfget: error: cannot create ${lock}: is a directory (not made by dfget: remove it)`);
    assert.deepEqual((await readdir(w.dir)).filter((n) => n.startsWith(".")).sort(), [".out.bin.dfget.json", ".out.bin.dfget.lock", ".out.bin.dfget.part"]);
    await rm(lock, { recursive: true });
  });

  test("a FIFO in place of the cooldown ledger: no hang, one notice, the download succeeds", async () => {
    const path = "/fifo-state";
    origin.setFile(path, CONTENT);
    const w = await dirs.make();
    await mkdir(w.state);
    execFileSync("mkfifo", [join(w.state, "cooldown.json")]);
    const dead = await freePort();
    const run = await runDfget([origin.url(path), "-O", w.out, "--state-dir", w.state, "--scheduler", `127.0.0.1:${dead}`, "--json"], { env: baseEnv(), timeoutMs: 20_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(CONTENT));
    assert.equal(run.stderr.split("\n").filter((l) => /cooldown\.json/.test(l)).length, 1, run.stderr);
  });
});
