// Friendly mistakes (issue 14) through the BUILT CLI: one error prefix, suggestions, the
// -o hint, -O DIR/, a missing directory up front, and a disk-full write told in words.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { baseEnv, DFGET_BIN, REPO_ROOT, runDfget, workDirs } from "../support/cli.js";
import { sha256, sha256OfFile } from "../support/cli-e2e.js";
import { startOrigin, type FakeOrigin } from "../support/origin.js";

const BODY = randomBytes(200_000);
let origin: FakeOrigin;
const dirs = workDirs();

before(async () => {
  origin = await startOrigin({ files: { "/data/My%20File.bin": BODY, "/plain.bin": BODY } });
});

after(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** stderr lines, for one-line checks. */
const lines = (text: string): string[] => text.trimEnd().split("\n");

describe("usage mistakes: one line, one prefix, exit 2", { concurrency: 4 }, () => {
  const cases: Array<{ argv: string[]; line: string | RegExp }> = [
    { argv: ["--overwirte"], line: "dfget: error: unknown option --overwirte; did you mean --overwrite?" },
    { argv: ["-o", "x"], line: "dfget: error: -o: unknown option; dfget writes to -O/--output (capital O), e.g. -O file.bin" },
    { argv: ["--digest", "md5:abc"], line: /^dfget: error: --digest: / },
    { argv: ["-e", "/var/run/dragonfly/dfdaemon.sock"], line: /^dfget: error: -e\/--endpoint: this dfget is its own peer and needs no dfdaemon/ },
    { argv: ["--piece-length", "1gib"], line: /^dfget: error: --piece-length: 1gib is too large: .*a Go scheduler rejects a larger piece_length$/ },
  ];
  for (const c of cases) {
    test(c.argv.join(" "), async () => {
      const w = await dirs.make();
      const run = await runDfget([origin.url("/plain.bin"), "-O", w.out, ...c.argv]);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(lines(run.stderr).length, 1, run.stderr);
      if (typeof c.line === "string") assert.equal(lines(run.stderr)[0], c.line);
      else assert.match(lines(run.stderr)[0], c.line);
    });
  }
});

describe("output paths", { concurrency: 4 }, () => {
  test("-O an existing directory saves inside it under the URL's name, decoded, query dropped", async () => {
    const w = await dirs.make();
    const run = await runDfget([origin.url("/data/My%20File.bin?sig=1"), "-O", w.dir, "--json", "--state-dir", w.state]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json?.output, join(w.dir, "My File.bin"));
    assert.equal(await sha256OfFile(join(w.dir, "My File.bin")), sha256(BODY));
  });

  test("-O DIR/ that does not exist: a clear message up front, nothing fetched", async () => {
    const w = await dirs.make();
    // A query of its own: the tests beside it run at the same time on the same origin.
    const run = await runDfget([origin.url("/plain.bin?missing-dir"), "-O", join(w.dir, "nope") + "/", "--state-dir", w.state]);
    assert.equal(run.code, 23, run.stderr);
    assert.equal(run.stderr, `dfget: error: cannot save to ${join(w.dir, "nope")}/: no such directory\n`);
    assert.deepEqual(origin.requests.filter((r) => r.path.includes("missing-dir")), [], "no request reached the origin");
  });

  test("-O relative path in a missing directory names the path as typed", async () => {
    const w = await dirs.make();
    await mkdir(join(w.dir, "cwd"));
    const run = await runDfget([origin.url("/plain.bin"), "-O", "sub/x.bin", "--state-dir", w.state], { cwd: join(w.dir, "cwd") });
    assert.equal(run.code, 23, run.stderr);
    assert.equal(run.stderr, "dfget: error: cannot save to sub/x.bin: no such directory sub\n");
  });
});

test("a full disk is said in words (stdout on /dev/full: ENOSPC), exit 23", { skip: process.platform !== "linux" }, async () => {
  const w = await dirs.make();
  const full = openSync("/dev/full", "w");
  try {
    const child = spawn(process.execPath, [DFGET_BIN, origin.url("/plain.bin"), "-O", "-", "--state-dir", w.state], {
      cwd: REPO_ROOT,
      env: Object.fromEntries(Object.entries(baseEnv()).filter((e): e is [string, string] => e[1] !== undefined)),
      stdio: ["ignore", full, "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    // Hang guard: a run that never ends is killed and fails the test (null exit code).
    const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve)).finally(() => clearTimeout(guard));
    assert.equal(code, 23, `stderr: ${stderr}`);
    assert.match(stderr, /^dfget: error: cannot write to stdout: disk full$/m);
    assert.doesNotMatch(stderr, /ENOSPC/);
  } finally {
    closeSync(full);
  }
  assert.deepEqual((await readdir(w.dir)).filter((n) => n !== "state"), []);
});
