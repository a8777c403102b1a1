// Start-up cost (issue 12 item 5): a direct download with no scheduler or manager must not
// load gRPC, and a run on a pipe must not load the progress bar. A preload script records
// the CommonJS modules the built CLI loaded; a run with a (dead) scheduler is the control
// that shows the recorder does see gRPC when it is loaded.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT, baseEnv, runDfget, workDirs } from "../support/cli.js";
import { startOrigin, type FakeOrigin } from "../support/origin.js";

const ONE_BYTE = Buffer.from("x");
const RECORDER = join(REPO_ROOT, "test", "support", "loaded-modules.cjs");

let origin: FakeOrigin;
const dirs = workDirs();

before(async () => {
  origin = await startOrigin({ files: { "/one.bin": ONE_BYTE } });
});

after(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** Runs dfget with the recorder preloaded; returns the exit code and the loaded module paths. */
async function runRecorded(extraArgs: string[]): Promise<{ code: number | null; modules: string[]; out: string; stderr: string }> {
  const w = await dirs.make();
  const record = join(w.dir, "modules.json");
  const env = baseEnv({ NODE_OPTIONS: `--require ${RECORDER}`, DFGET_TEST_LOADED_MODULES: record });
  const run = await runDfget([origin.url("/one.bin"), "-O", w.out, "--state-dir", w.state, ...extraArgs], { env });
  const modules = JSON.parse(await readFile(record, "utf8")) as string[];
  return { code: run.code, modules, out: w.out, stderr: run.stderr };
}

const loads = (modules: string[], pkg: string): boolean => modules.some((m) => m.includes(`/node_modules/${pkg}/`));

describe("start-up loads only what the run uses", () => {
  test("a direct download (no cluster) loads neither gRPC nor the progress bar", async () => {
    const run = await runRecorded([]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readFile(run.out), ONE_BYTE);
    assert.ok(loads(run.modules, "undici"), "the recorder saw the origin client (undici)");
    assert.equal(loads(run.modules, "@grpc/grpc-js"), false, "grpc-js not loaded");
    assert.equal(loads(run.modules, "cli-progress"), false, "cli-progress not loaded on a pipe");
  });

  test("with a scheduler configured gRPC is loaded (the recorder sees it)", async () => {
    const run = await runRecorded(["--scheduler", "127.0.0.1:1", "--connect-timeout", "2s"]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readFile(run.out), ONE_BYTE);
    assert.ok(loads(run.modules, "@grpc/grpc-js"), "grpc-js loaded for a cluster run");
  });
});
