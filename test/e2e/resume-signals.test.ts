// Signals against the resume record (issue 11 item 5): whether the user presses Ctrl-C
// once, twice in quick succession (the second exits at once), or the service manager
// sends SIGTERM, every piece finished before the exit is in the sidecar record, the rerun
// of the same command reuses them and fetches only the rest, and the final bytes are right.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startOrigin, type FakeOrigin } from "../support/origin.js";
import { baseEnv, runDfget, workDirs } from "../support/cli.js";
import { KEPT_FOR_RESUME, crc32Decimal, exists, partFiles, sha256, waitFor } from "../support/cli-e2e.js";

const MiB = 1024 * 1024;
/** Five pieces of 4 MiB, the last one short. */
const CONTENT = randomBytes(18 * MiB + 7);
/** The origin stops sending after this offset: pieces 0 and 1 finish, the rest hang. */
const STALL_FROM = 8 * MiB;

let origin: FakeOrigin;
const dirs = workDirs();
before(async () => {
  origin = await startOrigin();
});
after(async () => {
  await origin.close();
  await dirs.removeAll();
});

function recordedPieces(record: string): Array<[number, string]> {
  try {
    const text = readFileSync(record, "utf8");
    return text === "" ? [] : (JSON.parse(text) as { pieces: Array<[number, string]> }).pieces;
  } catch {
    return [];
  }
}

const crcOf = (n: number): string => `crc32:${crc32Decimal(CONTENT.subarray(n * 4 * MiB, Math.min(CONTENT.length, (n + 1) * 4 * MiB)))}`;

const cases = [
  { name: "SIGINT twice in quick succession", signals: ["SIGINT", "SIGINT"], code: 130 },
  { name: "SIGTERM", signals: ["SIGTERM"], code: 143 },
  { name: "SIGTERM twice", signals: ["SIGTERM", "SIGTERM"], code: 143 },
] as const;

describe("a signal mid-download, then the same command again", () => {
  for (const c of cases) {
    test(`${c.name}: exit ${c.code}, the record names every finished piece, the rerun reuses them`, async () => {
      const path = `/sig-${c.signals.length}-${c.signals[0]}`;
      origin.setFile(path, CONTENT);
      origin.setFault(path, { kind: "from-offset", from: STALL_FROM, fault: { kind: "stall", afterBytes: 1000 } });
      const w = await dirs.make();
      const tmp = join(w.dir, "tmp");
      await mkdir(tmp);
      const record = join(w.dir, ".out.bin.dfget.json");
      const args = [origin.url(path), "-O", w.out, "--state-dir", w.state, "--json"];
      const env = baseEnv({ TMPDIR: tmp });
      let signalled = false;
      const interrupted = await runDfget(args, {
        env,
        onSpawn: (child) => {
          waitFor("pieces 0 and 1 in the resume record", () => recordedPieces(record).length >= 2, 30_000).then(
            () => {
              signalled = true;
              for (const s of c.signals) child.kill(s); // back to back: no turn of our loop between
            },
            () => child.kill("SIGKILL"),
          );
        },
      });
      assert.ok(signalled, "the download reached two finished pieces");
      assert.equal(interrupted.code, c.code, interrupted.stderr);
      assert.equal(await exists(w.out), false, "nothing at PATH");
      assert.deepEqual(await partFiles(w.dir), KEPT_FOR_RESUME, "partial and record kept, lock released");
      assert.deepEqual(recordedPieces(record), [[0, crcOf(0)], [1, crcOf(1)]], "exactly the finished pieces, with their crc32");

      origin.setFault(path, undefined);
      const before = origin.bytesServedFor(path);
      const rerun = await runDfget(args, { env });
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.equal(sha256(await readFile(w.out)), sha256(CONTENT));
      assert.equal(rerun.json?.pieces.reused, 2);
      assert.equal(rerun.json?.pieces.fromSource, 3);
      assert.equal(origin.bytesServedFor(path) - before, CONTENT.length - 8 * MiB, "the rerun fetched only pieces 2-4");
      assert.deepEqual(await partFiles(w.dir), [], "partial, record and lock removed on success");
      assert.deepEqual(await readdir(tmp), [], "nothing in TMPDIR");
    });
  }
});

describe("a rerun that fails before it looks at the earlier partial", () => {
  test("Ctrl-C while the origin's HEAD hangs: exit 130, the earlier partial and record are kept as they were, the next run reuses them", async () => {
    const path = "/sig-during-head";
    origin.setFile(path, CONTENT);
    origin.setFault(path, { kind: "from-offset", from: STALL_FROM, fault: { kind: "close-mid-body", afterBytes: 1000 } });
    const w = await dirs.make();
    const tmp = join(w.dir, "tmp");
    await mkdir(tmp);
    const record = join(w.dir, ".out.bin.dfget.json");
    const args = [origin.url(path), "-O", w.out, "--state-dir", w.state, "--json"];
    const env = baseEnv({ TMPDIR: tmp });
    const cut = await runDfget([...args, "--retry", "0"], { env });
    assert.equal(cut.code, 18, cut.stderr);
    assert.deepEqual(await partFiles(w.dir), KEPT_FOR_RESUME);
    const recordBefore = readFileSync(record, "utf8");

    origin.setFault(path, { kind: "stall" }); // the HEAD is never answered
    const heads = (): number => origin.requests.filter((r) => r.path === path && r.method === "HEAD").length;
    const headsBefore = heads();
    let signalled = false;
    const interrupted = await runDfget(args, {
      env,
      onSpawn: (child) => {
        waitFor("the rerun's HEAD", () => heads() > headsBefore, 30_000).then(
          () => {
            signalled = true;
            child.kill("SIGINT");
          },
          () => child.kill("SIGKILL"),
        );
      },
    });
    assert.ok(signalled, "the rerun sent its HEAD");
    assert.equal(interrupted.code, 130, interrupted.stderr);
    assert.deepEqual(await partFiles(w.dir), KEPT_FOR_RESUME, "the earlier partial and record kept, lock released");
    assert.equal(readFileSync(record, "utf8"), recordBefore, "the record untouched");

    origin.setFault(path, undefined);
    const rerun = await runDfget(args, { env });
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(CONTENT));
    assert.equal(rerun.json?.pieces.reused, 2);
    assert.deepEqual(await partFiles(w.dir), []);
    assert.deepEqual(await readdir(tmp), [], "nothing in TMPDIR");
  });
});
