// Several files in one run, the BUILT dfget against the fake HTTP origin: positional
// URLs, -i from a file and from stdin, a 404 among them, the same URL twice, usage errors,
// --dry-run per file, and the JSON lines (one per file, then the batch's final object).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runDfget, workDirs } from "../support/cli.js";
import { exists, sha256 } from "../support/cli-e2e.js";
import { startOrigin, type FakeOrigin } from "../support/origin.js";

const A = randomBytes(100_000);
const B = randomBytes(5 * 1024 * 1024 + 7);
const C = randomBytes(10);

let origin: FakeOrigin;
const dirs = workDirs();

interface Line {
  ok: boolean;
  exitCode: number;
  url?: string;
  output?: string;
  error?: string | null;
  files?: number;
  failed?: number;
  bytesWritten: number;
}

function jsonLines(stdout: string): Line[] {
  return stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Line);
}

before(async () => {
  origin = await startOrigin({ files: { "/a.bin": A, "/dir/b.bin": B, "/c%20d.bin": C } });
});

after(async () => {
  await origin.close();
  await dirs.removeAll();
});

describe("batch downloads", () => {
  test("two URLs into -O DIR/ (created): both files, one summary each, then the final object", async () => {
    const w = await dirs.make();
    const out = join(w.dir, "new");
    const run = await runDfget([origin.url("/a.bin"), origin.url("/dir/b.bin"), "-O", `${out}/`, "--json", "--no-progress"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(join(out, "a.bin"))), sha256(A));
    assert.equal(sha256(await readFile(join(out, "b.bin"))), sha256(B));
    const lines = jsonLines(run.stdout);
    assert.equal(lines.length, 3);
    assert.deepEqual(lines.slice(0, 2).map((l) => l.output).sort(), [join(out, "a.bin"), join(out, "b.bin")]);
    const final = lines[2]!;
    assert.deepEqual(Object.keys(final).sort(), ["bytesWritten", "durationMs", "exitCode", "failed", "files", "ok"]);
    assert.equal(final.ok, true);
    assert.equal(final.files, 2);
    assert.equal(final.bytesWritten, A.length + B.length);
  });

  test("-i FILE: comments and blank lines skipped, a second field names the path under DIR", async () => {
    const w = await dirs.make();
    const list = join(w.dir, "list.txt");
    await writeFile(list, `# artifacts\n\n${origin.url("/a.bin")}\n${origin.url("/c%20d.bin")}   nested/renamed c.bin\n`);
    const run = await runDfget(["-i", list, "-O", `${w.dir}/got/`, "--no-progress"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(join(w.dir, "got", "a.bin"))), sha256(A));
    assert.equal(sha256(await readFile(join(w.dir, "got", "nested", "renamed c.bin"))), sha256(C));
  });

  test("-i - reads the list from stdin; a URL's name is percent-decoded", async () => {
    const w = await dirs.make();
    const run = await runDfget(["-i", "-", "-O", w.dir, "--no-progress"], { input: `${origin.url("/c%20d.bin")}\n${origin.url("/a.bin?token=x")}\n` });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(join(w.dir, "c d.bin"))), sha256(C));
    assert.equal(sha256(await readFile(join(w.dir, "a.bin"))), sha256(A));
  });

  test("one 404 among them: the others still download, exit 22, the final object counts it", async () => {
    const w = await dirs.make();
    const run = await runDfget([origin.url("/missing.bin"), origin.url("/a.bin"), "-O", w.dir, "--json", "--no-progress"]);
    assert.equal(run.code, 22, run.stderr);
    assert.match(run.stderr, /argument 1 .*missing\.bin.*404/);
    assert.equal(sha256(await readFile(join(w.dir, "a.bin"))), sha256(A));
    assert.equal(await exists(join(w.dir, "missing.bin")), false);
    const final = jsonLines(run.stdout).at(-1)!;
    assert.deepEqual({ ...final, durationMs: undefined }, { ok: false, exitCode: 22, files: 2, failed: 1, bytesWritten: A.length, durationMs: undefined });
  });

  test("the same URL twice: downloaded once, the later line refused with 73 before any download", async () => {
    const w = await dirs.make();
    const list = join(w.dir, "dup.txt");
    await writeFile(list, `${origin.url("/a.bin")}\n${origin.url("/a.bin")} copy.bin\n`);
    const gets = origin.requests.filter((r) => r.method === "GET" && r.path === "/a.bin").length;
    const run = await runDfget(["-i", list, "-O", join(w.dir, "o"), "--json", "--no-progress"]);
    assert.equal(run.code, 73, run.stderr);
    assert.match(run.stderr, /line 2: same URL as line 1/);
    assert.deepEqual(await readdir(join(w.dir, "o")), ["a.bin"]);
    assert.ok(origin.requests.filter((r) => r.method === "GET" && r.path === "/a.bin").length > gets);
    const lines = jsonLines(run.stdout);
    assert.equal(lines[0]!.exitCode, 73);
    assert.equal(lines.at(-1)!.failed, 1);
  });

  test("two URLs with the same name: the later fails 73 'same output as argument 1'", async () => {
    const w = await dirs.make();
    const run = await runDfget([origin.url("/a.bin"), origin.url("/a.bin?v=2"), "-O", w.dir, "--no-progress"]);
    assert.equal(run.code, 73, run.stderr);
    assert.match(run.stderr, /argument 2: same output as argument 1/);
  });

  test("--digest and -O - with several files are usage errors (2)", async () => {
    const w = await dirs.make();
    const digest = await runDfget([origin.url("/a.bin"), origin.url("/dir/b.bin"), "-O", w.dir, "--digest", `sha256:${sha256(A)}`]);
    assert.equal(digest.code, 2, digest.stderr);
    const stdout = await runDfget([origin.url("/a.bin"), origin.url("/dir/b.bin"), "-O", "-"]);
    assert.equal(stdout.code, 2, stdout.stderr);
  });

  test("--dry-run --json prints one plan per file and downloads nothing", async () => {
    const w = await dirs.make();
    const run = await runDfget([origin.url("/a.bin"), origin.url("/dir/b.bin"), "-O", w.dir, "--dry-run", "--json", "--piece-length", "4mib"]);
    assert.equal(run.code, 0, run.stderr);
    const plans = jsonLines(run.stdout) as unknown as Array<{ taskId: string; pieceLength: number }>;
    assert.equal(plans.length, 2);
    assert.notEqual(plans[0]!.taskId, plans[1]!.taskId);
    assert.deepEqual(await readdir(w.dir), []);
  });
});
