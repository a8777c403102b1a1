// Hostile inputs for several files and s3 -r, the BUILT dfget against the fakes: a -i
// second field ending in "/", an interrupt while the list is still being read from stdin,
// files never started when the batch is interrupted, and a throttled or failing S3 store
// (503 SlowDown on a listing page and on a GET, keys with CR/LF and '+', an HTML error
// page, an object replaced between the listing and its GETs).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runDfget, workDirs } from "../support/cli.js";
import { exists, partFiles, sha256, waitFor } from "../support/cli-e2e.js";
import { startOrigin, type FakeOrigin } from "../support/origin.js";
import { startS3, type S3Server } from "../support/s3.js";

const KEY_ID = "AKIDHOSTILE";
const SECRET = "hostile-secret";
const A = Buffer.from("first file\n");
const B = Buffer.from("second file\n");
const LARGE = randomBytes(9 * 1024 * 1024 + 1);

let origin: FakeOrigin;
let s3: S3Server;
const dirs = workDirs();

interface Line {
  ok: boolean;
  exitCode: number;
  url?: string;
  error?: string | null;
  files?: number;
  failed?: number;
  bytesWritten: number;
}

const jsonLines = (stdout: string): Line[] => stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Line);
const storageArgs = (): string[] => ["--storage-endpoint", s3.endpoint, "--storage-access-key-id", KEY_ID, "--storage-access-key-secret", SECRET, "--no-progress"];

before(async () => {
  origin = await startOrigin({ files: { "/a.bin": A, "/b.bin": B, "/slow.bin": randomBytes(4_000_000) } });
  origin.setFault("/slow.bin", { kind: "stall", afterBytes: 10 });
  s3 = await startS3({ credentials: { [KEY_ID]: SECRET } });
});

after(async () => {
  await origin.close();
  await s3.close();
  await dirs.removeAll();
});

describe("-i lists", () => {
  test("a second field ending in / is a directory: the file is saved inside it under the URL's name", async () => {
    const w = await dirs.make();
    const list = join(w.dir, "list.txt");
    await writeFile(list, `${origin.url("/a.bin")} sub/\n${origin.url("/b.bin")} deeper/dir/\n`);
    const run = await runDfget(["-i", list, "-O", `${w.dir}/o/`, "--no-progress"]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readFile(join(w.dir, "o", "sub", "a.bin")), A);
    assert.deepEqual(await readFile(join(w.dir, "o", "deeper", "dir", "b.bin")), B);
  });

  test("--timeout while -i - is still reading stdin (a producer that never closes it): exit 28, the final object", async () => {
    const w = await dirs.make();
    const run = await runDfget(["-i", "-", "-O", `${w.dir}/o/`, "--json", "--no-progress", "--timeout", "1s"], {
      timeoutMs: 15_000,
      input: `${origin.url("/a.bin")}\n`,
      keepStdinOpen: true,
    });
    assert.equal(run.code, 28, run.stderr);
    assert.match(run.stderr, /--timeout 1s reached/);
    const lines = jsonLines(run.stdout);
    assert.deepEqual(lines.map((l) => [l.exitCode, l.files]), [[28, 0]]);
    assert.equal(await exists(join(w.dir, "o", "a.bin")), false);
  });
});

describe("interrupted batch", () => {
  test("files never started still get their summary line (exit 130), so lines = files", async () => {
    const w = await dirs.make();
    const out = join(w.dir, "o");
    const run = await runDfget([origin.url("/slow.bin"), origin.url("/a.bin"), origin.url("/b.bin"), "-O", `${out}/`, "--json", "--no-progress", "--max-concurrent-files", "1"], {
      timeoutMs: 15_000,
      onSpawn: (child) => {
        void waitFor("the GET of slow.bin", () => origin.requests.some((r) => r.method === "GET" && r.path === "/slow.bin" && r.status === 206), 10_000).then(() => child.kill("SIGINT"));
      },
    });
    assert.equal(run.code, 130, run.stderr);
    const lines = jsonLines(run.stdout);
    const final = lines.at(-1)!;
    assert.equal(final.files, 3);
    assert.equal(final.failed, 3);
    const perFile = lines.slice(0, -1);
    assert.deepEqual(perFile.map((l) => [l.url, l.exitCode]).sort(), [
      [origin.url("/a.bin"), 130],
      [origin.url("/b.bin"), 130],
      [origin.url("/slow.bin"), 130],
    ]);
    assert.equal(await exists(join(out, "a.bin")), false);
    assert.deepEqual(await partFiles(out), [".slow.bin.dfget.json", ".slow.bin.dfget.part"]);
  });
});

describe("s3 faults", () => {
  test("503 SlowDown on a listing page is retried: every object downloads", async () => {
    for (let i = 0; i < 1005; i++) s3.put("throttled", `p/${String(i).padStart(4, "0")}.txt`, `n${i}\n`);
    s3.fault({ match: (r) => r.bucket === "throttled" && r.query["continuation-token"] !== undefined, times: 1, answer: { status: 503, code: "SlowDown" } });
    s3.fault({ match: (r) => r.bucket === "throttled" && r.key === "p/0003.txt" && r.method === "GET", times: 1, answer: { status: 503, code: "SlowDown" } });
    const w = await dirs.make();
    const out = join(w.dir, "o");
    const run = await runDfget(["-r", "s3://throttled/p/", "-O", `${out}/`, "--json", "--max-concurrent-files", "8", ...storageArgs()], { timeoutMs: 120_000 });
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    assert.equal((await readdir(out)).length, 1005);
    assert.equal(await readFile(join(out, "1004.txt"), "utf8"), "n1004\n");
    assert.equal(await readFile(join(out, "0003.txt"), "utf8"), "n3\n");
    const throttled = s3.requests.filter((r) => r.errorCode === "SlowDown");
    assert.equal(throttled.length, 2);
  });

  test("keys with CR/LF, '+', spaces and '&' are saved under their exact names", async () => {
    const keys = ["line\r\nbreak.txt", "a+b c.txt", "x&y.txt"];
    keys.forEach((key, i) => s3.put("oddkeys", `p/${key}`, `object ${i}\n`));
    const w = await dirs.make();
    const out = join(w.dir, "o");
    const run = await runDfget(["-r", "s3://oddkeys/p/", "-O", `${out}/`, ...storageArgs()], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await readdir(out)).sort(), [...keys].sort());
    for (const [i, key] of keys.entries()) assert.equal(await readFile(join(out, key), "utf8"), `object ${i}\n`);
  });

  test("a listing that keeps failing with an HTML error page: exit 22, one line naming the status, nothing created", async () => {
    s3.put("html", "p/x.txt", "x");
    s3.fault({ match: (r) => r.bucket === "html" && r.query["list-type"] === "2", times: 100, answer: { status: 502, body: "<html><body><h1>502 Bad Gateway</h1></body></html>", headers: { "content-type": "text/html" } } });
    const w = await dirs.make();
    const out = join(w.dir, "o");
    const run = await runDfget(["-r", "s3://html/p/", "-O", `${out}/`, "--json", "--retry", "1", ...storageArgs()], { timeoutMs: 60_000 });
    assert.equal(run.code, 22, run.stderr);
    const errors = run.stderr.trim().split("\n").filter((l) => l.startsWith("dfget: error:"));
    assert.equal(errors.length, 1, run.stderr);
    assert.match(errors[0]!, /502/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
    assert.equal(await exists(out), false);
    assert.deepEqual(jsonLines(run.stdout).map((l) => l.exitCode), [22]);
  });

  test("an object replaced between its listing and its GETs: that file exits 18 (412), the other downloads", async () => {
    s3.put("moving", "p/a.txt", "stays\n");
    s3.put("moving", "p/large.bin", LARGE);
    const etag = `"${createHash("md5").update(LARGE).digest("hex")}"`;
    // large.bin is replaced when its first GET arrives (after the HEAD that pinned it): If-Match → 412.
    let replaced = false;
    s3.fault({
      match: (r) => {
        if (r.key === "p/large.bin" && r.method === "GET" && !replaced) {
          replaced = true;
          s3.put("moving", "p/large.bin", randomBytes(LARGE.length));
        }
        return false;
      },
      times: 1,
      answer: "reset",
    });
    const w = await dirs.make();
    const out = join(w.dir, "o");
    const run = await runDfget(["-r", "s3://moving/p/", "-O", `${out}/`, "--json", "--max-concurrent-files", "1", ...storageArgs()], { timeoutMs: 60_000 });
    assert.equal(run.code, 18, run.stderr);
    assert.match(run.stderr, /key p\/large\.bin .*object changed/);
    assert.equal(await readFile(join(out, "a.txt"), "utf8"), "stays\n");
    assert.equal(await exists(join(out, "large.bin")), false);
    assert.deepEqual(await partFiles(out), []);
    assert.ok(s3.requests.some((r) => r.status === 412 && r.ifMatch === etag));
    assert.deepEqual(jsonLines(run.stdout).map((l) => l.exitCode), [0, 18, 18]);
    assert.equal(sha256(await readFile(join(out, "a.txt"))), sha256(Buffer.from("stays\n")));
  });
});
