// --dry-run, config-file lookup and precedence, file sizes at the piece boundaries, and
// origins as they are in the wild (../shared/design/cli.md). Runs the BUILT CLI against the
// fake origin; `npm run build` first.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { baseEnv, runDfget, workDirs } from "../support/cli.js";
import { startOrigin, type FakeOrigin, type OriginFault } from "../support/origin.js";
import { TASK_ID, partFiles, requestsFor, sha256, sha256OfFile } from "../support/cli-e2e.js";

const MiB = 1024 * 1024;
const SMALL = randomBytes(100_000);
const EMPTY = Buffer.alloc(0);
const MULTI = randomBytes(4 * MiB + 1);

interface DryRunPlan {
  taskId: string;
  pieceLength: number | null;
  pieceCount: number | null;
  contentLength: number | null;
  schedulers: Array<{ addr: string; cooling: boolean; coolingUntil: string | null }>;
}

let origin: FakeOrigin;
const dirs = workDirs();
const tempDir = dirs.make;

async function dryRun(args: string[], env = baseEnv()): Promise<DryRunPlan> {
  const run = await runDfget([...args, "--dry-run", "--json"], { env });
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, 1, `one JSON line: ${run.stdout}`);
  return JSON.parse(lines[0]) as DryRunPlan;
}

const addrsOf = (plan: DryRunPlan): string[] => plan.schedulers.map((s) => s.addr);

before(async () => {
  origin = await startOrigin({
    files: {
      "/plan.bin": MULTI,
      "/plan-fixed.bin": MULTI,
      "/config.bin": SMALL,
      "/small.bin": SMALL,
      "/empty.bin": EMPTY,
      "/multi.bin": MULTI,
      "/no-range.bin": MULTI,
      "/no-length.bin": MULTI,
      "/head-405.bin": MULTI,
    },
  });
  for (const kind of ["no-range", "no-length", "head-405"] as const) origin.setFault(`/${kind}.bin`, { kind } as OriginFault);
});

after(async () => {
  await origin.close();
  await dirs.removeAll();
});

describe("--dry-run --json", { concurrency: 4 }, () => {
  test("plan from one HEAD: task id, piece plan, both schedulers not cooling", async () => {
    const w = await tempDir();
    const plan = await dryRun([origin.url("/plan.bin"), "--scheduler", "127.0.0.1:1", "--scheduler", "127.0.0.1:2", "--state-dir", w.state]);
    assert.match(plan.taskId, TASK_ID);
    assert.equal(plan.contentLength, MULTI.length);
    assert.equal(typeof plan.pieceLength, "number");
    assert.ok((plan.pieceLength ?? 0) >= 4 * MiB);
    assert.equal(plan.pieceCount, Math.ceil(MULTI.length / (plan.pieceLength ?? 1)));
    assert.equal(plan.schedulers.length, 2);
    assert.deepEqual([...addrsOf(plan)].sort(), ["127.0.0.1:1", "127.0.0.1:2"]);
    for (const s of plan.schedulers) assert.deepEqual(s, { addr: s.addr, cooling: false, coolingUntil: null });
    assert.deepEqual(requestsFor(origin, "/plan.bin").map((r) => r.method), ["HEAD"], "only one HEAD, no body");
  });

  test("with --piece-length 4MiB: no origin request at all; the length enters the task id", async () => {
    const w = await tempDir();
    const args = [origin.url("/plan-fixed.bin"), "--scheduler", "127.0.0.1:1", "--scheduler", "127.0.0.1:2", "--state-dir", w.state];
    const fixed = await dryRun([...args, "--piece-length", "4MiB"]);
    assert.match(fixed.taskId, TASK_ID);
    assert.equal(fixed.pieceLength, 4 * MiB);
    assert.equal(fixed.contentLength, null);
    assert.equal(fixed.pieceCount, null);
    assert.equal(fixed.schedulers.length, 2);
    for (const s of fixed.schedulers) assert.deepEqual(s, { addr: s.addr, cooling: false, coolingUntil: null });
    assert.deepEqual(requestsFor(origin, "/plan-fixed.bin"), [], "no request reached the origin");

    const computed = await dryRun(args);
    assert.notEqual(computed.taskId, fixed.taskId, "an explicit piece length changes the task id");
  });

  test("--content-for-calculating-task-id: the task id is sha256 of that text alone, as the Rust client", async () => {
    const w = await tempDir();
    // printf '%s' 'models/llama-3-8b@rev42' | sha256sum
    const expected = "fa6e070853e0a56098d4dcd8dfd06f19437a606db928a0aff4dbd273ee35e201";
    const args = ["--content-for-calculating-task-id", "models/llama-3-8b@rev42", "--piece-length", "4mib", "--state-dir", w.state];
    assert.equal((await dryRun([origin.url("/plan-fixed.bin"), ...args, "--tag", "t"])).taskId, expected);
    assert.equal((await dryRun([origin.url("/other.bin"), ...args, "-p", "1"])).taskId, expected, "URL, tag, priority: none of them counts");
  });

  test("the dry-run task id is the task id of the real download", async () => {
    const w = await tempDir();
    const plan = await dryRun([origin.url("/small.bin"), "--state-dir", w.state]);
    const run = await runDfget([origin.url("/small.bin"), "-O", w.out, "--json", "--state-dir", w.state]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json?.taskId, plan.taskId);
    assert.deepEqual(plan.schedulers, [], "no cluster configured: no candidates");
  });
});

describe("config file lookup and precedence", { concurrency: 4 }, () => {
  test("--config with switching and download keys is accepted and the download works", async () => {
    const w = await tempDir();
    const file = join(w.dir, "dfget.yaml");
    await writeFile(
      file,
      [
        "scheduler:",
        "  cooldownInterval: 90s",
        "  maxAttempts: 2",
        "  connectTimeout: 1500ms",
        "  scheduleTimeout: 10s",
        "download:",
        "  concurrentPieceCount: 2",
        "  pieceTimeout: 20s",
        "host:",
        "  hostname: test-host",
        "state:",
        `  dir: ${w.state}`,
        "",
      ].join("\n"),
    );
    const run = await runDfget([origin.url("/config.bin"), "-O", w.out, "--config", file, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await sha256OfFile(w.out), sha256(SMALL));
  });

  test("DFGET_CONFIG is read when no --config; --config wins over it; flags win over both", async () => {
    const w = await tempDir();
    const envFile = join(w.dir, "env.yaml");
    await writeFile(envFile, 'scheduler:\n  addrs: ["127.0.0.1:5"]\n');
    const flagFile = join(w.dir, "flag.yaml");
    await writeFile(flagFile, 'scheduler:\n  addrs: ["127.0.0.1:6"]\n');
    const url = origin.url("/never-fetched.bin");
    const base = [url, "--piece-length", "4MiB", "--state-dir", w.state];
    const env = baseEnv({ DFGET_CONFIG: envFile });

    assert.deepEqual(addrsOf(await dryRun(base, env)), ["127.0.0.1:5"]);
    assert.deepEqual(addrsOf(await dryRun([...base, "--config", flagFile], env)), ["127.0.0.1:6"]);
    assert.deepEqual(addrsOf(await dryRun([...base, "--scheduler", "127.0.0.1:7"], env)), ["127.0.0.1:7"]);
    // The cluster list follows "first match wins": the file's list ranks above DFGET_SCHEDULERS.
    assert.deepEqual(addrsOf(await dryRun(base, baseEnv({ DFGET_CONFIG: envFile, DFGET_SCHEDULERS: "127.0.0.1:8" }))), ["127.0.0.1:5"]);
    assert.deepEqual(requestsFor(origin, "/never-fetched.bin"), []);
  });

  test("a bad file named by DFGET_CONFIG is an error naming it (exit 2)", async () => {
    const w = await tempDir();
    const bad = join(w.dir, "bad-env.yaml");
    await writeFile(bad, "scheduler:\n  cooldownInterval: [1, 2]\n");
    const run = await runDfget([origin.url("/config.bin"), "-O", w.out, "--state-dir", w.state], { env: baseEnv({ DFGET_CONFIG: bad }) });
    assert.equal(run.code, 2, run.stderr);
    assert.ok(run.stderr.includes(bad) && run.stderr.includes("scheduler.cooldownInterval"), run.stderr);
  });

  test("$XDG_CONFIG_HOME/dragonfly/dfget.yaml is used last; file < environment < flag for download.disableBackToSource", async () => {
    const w = await tempDir();
    const xdg = join(w.dir, "xdg");
    await mkdir(join(xdg, "dragonfly"), { recursive: true });
    await writeFile(join(xdg, "dragonfly", "dfget.yaml"), "download:\n  disableBackToSource: true\n");
    const args = [origin.url("/config.bin"), "-O", w.out, "--state-dir", w.state];

    const fromFile = await runDfget(args, { env: baseEnv({ XDG_CONFIG_HOME: xdg }) });
    assert.equal(fromFile.code, 69, `the file disabled back-to-source: ${fromFile.stderr}`);
    const envWins = await runDfget(args, { env: baseEnv({ XDG_CONFIG_HOME: xdg, DFGET_DISABLE_BACK_TO_SOURCE: "false" }) });
    assert.equal(envWins.code, 0, envWins.stderr);
    const flagWins = await runDfget([...args, "--overwrite", "--disable-back-to-source=false"], { env: baseEnv({ XDG_CONFIG_HOME: xdg, DFGET_DISABLE_BACK_TO_SOURCE: "true" }) });
    assert.equal(flagWins.code, 0, flagWins.stderr);
    assert.equal(await sha256OfFile(w.out), sha256(SMALL));
  });
});

describe("downloads of every size and from origins in the wild", { concurrency: 4 }, () => {
  const cases: Array<{ name: string; path: string; content: Buffer; minPieces?: number }> = [
    { name: "small file (< 4 MiB)", path: "/small.bin", content: SMALL },
    { name: "0-byte file", path: "/empty.bin", content: EMPTY },
    { name: "4 MiB + 1 byte (several pieces)", path: "/multi.bin", content: MULTI, minPieces: 2 },
    { name: "origin ignores Range (200 to a ranged GET)", path: "/no-range.bin", content: MULTI },
    { name: "origin sends no length (chunked)", path: "/no-length.bin", content: MULTI },
    { name: "origin refuses HEAD (405)", path: "/head-405.bin", content: MULTI },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const w = await tempDir();
      const run = await runDfget([origin.url(c.path), "-O", w.out, "--json", "--state-dir", w.state]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await sha256OfFile(w.out), sha256(c.content));
      assert.equal(run.json?.bytesWritten, c.content.length);
      assert.equal(run.json?.ok, true);
      assert.equal(run.json?.backToSource, true);
      assert.match(run.json?.taskId ?? "", TASK_ID, "a task id even when the file is streamed whole");
      if (c.minPieces !== undefined) assert.ok((run.json?.pieces.total ?? 0) >= c.minPieces, `pieces ${run.json?.pieces.total}`);
      assert.deepEqual(await partFiles(w.dir), []);
    });
  }
});
