// s3:// end to end: the BUILT dfget against the strict in-process S3 server
// (test/support/s3.ts, which recomputes every SigV4 signature). Single objects, a
// P2P-size object fetched by signed ranges, auth failures, -r with -I over more than one
// listing page, a key that would escape -O DIR, and the schemes not served yet.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { baseEnv, runDfget, workDirs } from "../support/cli.js";
import { exists, partFiles, sha256 } from "../support/cli-e2e.js";
import { startCluster } from "../support/cluster.js";
import { startS3, type S3Server } from "../support/s3.js";

const KEY_ID = "AKIDE2E";
const SECRET = "e2e/secret+key=with/odd+characters";
const SMALL = randomBytes(70_000);
const LARGE = randomBytes(9 * 1024 * 1024 + 12_345);

let s3: S3Server;
const dirs = workDirs();

function storageArgs(secret = SECRET): string[] {
  return ["--storage-endpoint", s3.endpoint, "--storage-access-key-id", KEY_ID, "--storage-access-key-secret", secret, "--no-progress"];
}

/** Task id of a default download of `url` (Rust client: sha256(url ‖ "STANDARD")), from the spec, not from src/. */
function expectedTaskId(url: string): string {
  return createHash("sha256").update(`${url}STANDARD`).digest("hex");
}

before(async () => {
  s3 = await startS3({ credentials: { [KEY_ID]: SECRET } });
  s3.put("bkt", "dir/small.bin", SMALL);
  s3.put("bkt", "dir/large.bin", LARGE);
});

after(async () => {
  await s3.close();
  await dirs.removeAll();
});

describe("s3:// single objects", () => {
  test("a signed download writes the object; the summary has the s3 task id and no secret", async () => {
    const w = await dirs.make();
    const run = await runDfget(["s3://bkt/dir/small.bin", "-O", w.out, "--json", ...storageArgs()]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(SMALL));
    assert.equal(run.json?.url, "s3://bkt/dir/small.bin");
    assert.equal(run.json?.taskId, expectedTaskId("s3://bkt/dir/small.bin"));
    assert.equal(run.json?.bytesWritten, SMALL.length);
    assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET));
    const gets = s3.requests.filter((r) => r.method === "GET" && r.path === "/bkt/dir/small.bin");
    assert.ok(gets.length > 0 && gets.every((r) => r.status === 206 && r.accessKeyId === KEY_ID && r.ifMatch !== undefined));
  });

  test("a P2P-size object (> 4 MiB, several pieces) is fetched by signed ranges pinned with If-Match", async () => {
    const w = await dirs.make();
    const before = s3.requests.length;
    const run = await runDfget(["s3://bkt/dir/large.bin", "-O", w.out, "--json", ...storageArgs()]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(LARGE));
    assert.equal(run.json?.contentLength, LARGE.length);
    const ranges = s3.requests.slice(before).filter((r) => r.method === "GET" && r.range !== undefined);
    assert.ok(ranges.length >= 3, `${ranges.length} ranged GETs`);
    const etag = `"${createHash("md5").update(LARGE).digest("hex")}"`;
    assert.ok(ranges.every((r) => r.status === 206 && r.ifMatch === etag));
  });

  test("credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_ENDPOINT_URL", async () => {
    const w = await dirs.make();
    const env = baseEnv({ AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_ENDPOINT_URL: s3.endpoint, AWS_REGION: "us-east-1" });
    const run = await runDfget(["s3://bkt/dir/small.bin", "-O", w.out, "--no-progress"], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(w.out)), sha256(SMALL));
  });

  test("a wrong secret is a clear auth error, exit 22, nothing written, the secret not echoed", async () => {
    const w = await dirs.make();
    const run = await runDfget(["s3://bkt/dir/small.bin", "-O", w.out, "--json", ...storageArgs("wrong-secret-value")]);
    assert.equal(run.code, 22, run.stderr);
    assert.match(run.stderr, /403 SignatureDoesNotMatch/);
    assert.match(run.stderr, /--storage-access-key-secret/);
    assert.equal(run.json?.exitCode, 22);
    assert.ok(!run.stdout.includes("wrong-secret-value") && !run.stderr.includes("wrong-secret-value"));
    assert.equal(await exists(w.out), false);
    assert.deepEqual(await partFiles(w.dir), []);
  });

  test("--dry-run --json HEADs the object signed and prints the plan, never the secret", async () => {
    const run = await runDfget(["s3://bkt/dir/large.bin", "--dry-run", "--json", "--log-level", "debug", ...storageArgs()]);
    assert.equal(run.code, 0, run.stderr);
    const plan = JSON.parse(run.stdout) as { taskId: string; contentLength: number; pieceCount: number };
    assert.equal(plan.taskId, expectedTaskId("s3://bkt/dir/large.bin"));
    assert.equal(plan.contentLength, LARGE.length);
    assert.equal(plan.pieceCount, 3);
    assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET));
  });

  test("a missing key is 404 NoSuchKey, exit 22", async () => {
    const w = await dirs.make();
    const run = await runDfget(["s3://bkt/dir/none.bin", "-O", w.out, ...storageArgs()]);
    assert.equal(run.code, 22, run.stderr);
    assert.match(run.stderr, /404 NoSuchKey/);
  });

  for (const scheme of ["gs", "abs", "oss", "obs", "cos"]) {
    test(`${scheme}:// is refused with exit 2: not supported yet`, async () => {
      const w = await dirs.make();
      const run = await runDfget([`${scheme}://bucket/key.bin`, "-O", w.out]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /not supported yet: use an https:\/\/ URL or s3:\/\//);
    });
  }
});

describe("-r s3://BUCKET/PREFIX/ with -I", () => {
  test("1,200 objects over two listing pages; -I filters (* crosses /); folder markers skipped; the tree is recreated", async () => {
    for (let i = 0; i < 1200; i++) s3.put("tree", `data/part/${String(i).padStart(4, "0")}.txt`, `object ${i}\n`);
    s3.put("tree", "data/part/", "");
    s3.put("tree", "data/skip.bin", "not a txt");
    s3.put("tree", "elsewhere/x.txt", "outside the prefix");
    const w = await dirs.make();
    const out = join(w.dir, "tree");
    const before = s3.requests.length;
    const run = await runDfget(["-r", "s3://tree/data/", "-I", "*.txt", "-O", `${out}/`, "--json", "--max-concurrent-files", "8", ...storageArgs()], { timeoutMs: 120_000 });
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    const listings = s3.requests.slice(before).filter((r) => r.query["list-type"] === "2");
    assert.equal(listings.length, 2);
    const files = await readdir(join(out, "part"));
    assert.equal(files.length, 1200);
    assert.equal(await readFile(join(out, "part", "0007.txt"), "utf8"), "object 7\n");
    assert.equal(await exists(join(out, "skip.bin")), false);
    const lines = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 1201);
    assert.deepEqual({ ...lines[1200], durationMs: 0 }, { ok: true, exitCode: 0, files: 1200, failed: 0, bytesWritten: sizeOfObjects(), durationMs: 0 });
  });

  test("a key with ../ fails that file with exit 1 and writes nothing outside DIR; the others download", async () => {
    s3.put("esc", "pre/ok.txt", "fine");
    s3.put("esc", "pre/../evil.txt", "escaped");
    s3.put("esc", "pre/a/../../evil2.txt", "escaped");
    const w = await dirs.make();
    const out = join(w.dir, "inside");
    const run = await runDfget(["-r", "s3://esc/pre/", "-O", `${out}/`, "--json", ...storageArgs()]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /would be written outside/);
    assert.equal(await readFile(join(out, "ok.txt"), "utf8"), "fine");
    assert.deepEqual((await readdir(w.dir)).sort(), ["inside"]);
    const final = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
    assert.equal(final.files, 3);
    assert.equal(final.failed, 2);
    assert.equal(final.exitCode, 1);
  });
});

/** Bytes of "object N\n" for N = 0..1199. */
function sizeOfObjects(): number {
  let total = 0;
  for (let i = 0; i < 1200; i++) total += `object ${i}\n`.length;
  return total;
}

describe("s3:// in P2P mode", () => {
  test("the task id is the Rust client's for the s3 URL; Download carries object_storage; a batch announces ONE host and deletes it once", async () => {
    const cluster = await startCluster({ schedulers: 1 });
    const w = await dirs.make();
    try {
      s3.put("p2p", "one.bin", LARGE);
      s3.put("p2p", "two.bin", LARGE.subarray(0, 5 * 1024 * 1024));
      const config = join(w.dir, "dfget.yaml");
      await writeFile(config, 'host:\n  ip: "127.0.0.1"\n  hostname: "dfget-e2e"\nscheduler:\n  scheduleTimeout: 2s\n');
      const out = join(w.dir, "got");
      const run = await runDfget(
        ["s3://p2p/one.bin", "s3://p2p/two.bin", "-O", `${out}/`, "--config", config, "--state-dir", w.state, "--scheduler", cluster.schedulerAddrs()[0]!, "--json", ...storageArgs()],
        { timeoutMs: 60_000 },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(sha256(await readFile(join(out, "one.bin"))), sha256(LARGE));
      const scheduler = cluster.schedulers[0]!;
      const registrations = scheduler.registrations();
      assert.deepEqual(registrations.map((r) => r.taskId).sort(), [expectedTaskId("s3://p2p/one.bin"), expectedTaskId("s3://p2p/two.bin")].sort());
      for (const registration of registrations) {
        assert.deepEqual(registration.request.download?.objectStorage, {
          endpoint: `${s3.endpoint}/`,
          accessKeyId: KEY_ID,
          accessKeySecret: SECRET,
          insecureSkipVerify: false,
          region: undefined,
          sessionToken: undefined,
          credentialPath: undefined,
          predefinedAcl: undefined,
          securityToken: undefined,
        });
      }
      assert.equal(scheduler.calls("AnnounceHost").length, 1);
      assert.equal(scheduler.calls("DeleteHost").length, 1);
      assert.equal(new Set(registrations.map((r) => r.hostId)).size, 1);
    } finally {
      await cluster.stop();
    }
  });
});
