// Start-up cost (issue 12 item 5): a direct download with no scheduler or manager must not
// load gRPC, the S3 signer, blake3 or undici's index, a run on a pipe must not load the
// progress bar, and --help must not load yargs. A preload (test/support/loaded-modules.mjs) records the modules
// the built CLI loaded: the bundle's chunks (ES modules) and what it require()s. The
// chunks are mapped back to the source modules they hold with the bundle's metafile
// (dist/bundle/meta.json), so the checks name packages, not chunk hashes. A run with a
// (dead) scheduler is the control that shows the recorder does see gRPC when it is loaded.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT, baseEnv, runDfget, workDirs } from "../support/cli.js";
import { startOrigin, type FakeOrigin } from "../support/origin.js";

const ONE_BYTE = Buffer.from("x");
const RECORDER = join(REPO_ROOT, "test", "support", "loaded-modules.mjs");
const BUNDLE_META = join(REPO_ROOT, "dist", "bundle", "meta.json");

let origin: FakeOrigin;
let chunkInputs: Map<string, string[]>;
const dirs = workDirs();

interface Metafile {
  outputs: Record<string, { inputs: Record<string, unknown> }>;
}

before(async () => {
  origin = await startOrigin({ files: { "/one.bin": ONE_BYTE } });
  const meta = JSON.parse(await readFile(BUNDLE_META, "utf8")) as Metafile;
  chunkInputs = new Map(Object.entries(meta.outputs).map(([chunk, out]) => [chunk, Object.keys(out.inputs)]));
});

after(async () => {
  await origin.close();
  await dirs.removeAll();
});

interface Recorded {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Source modules (repo-relative) the run loaded, whether bundled or required. */
  modules: string[];
  /** The bundle chunks the run loaded. */
  chunks: string[];
}

/** Runs dfget with the recorder preloaded; returns what it loaded. */
async function runRecorded(args: string[]): Promise<Recorded> {
  const w = await dirs.make();
  const record = join(w.dir, "modules.json");
  const env = baseEnv({ NODE_OPTIONS: `--import ${RECORDER}`, DFGET_TEST_LOADED_MODULES: record });
  const run = await runDfget(args, { env });
  const required = (JSON.parse(await readFile(record, "utf8")) as string[]).map((p) => relative(REPO_ROOT, p));
  const esm = (await readFile(`${record}.esm`, "utf8")).split("\n").filter((u) => u.startsWith("file:"));
  const chunks = esm.map((u) => relative(REPO_ROOT, fileURLToPath(u))).filter((p) => chunkInputs.has(p));
  const bundled = chunks.flatMap((c) => chunkInputs.get(c) ?? []);
  return { code: run.code, stdout: run.stdout, stderr: run.stderr, modules: [...required, ...bundled], chunks };
}

async function downloadRecorded(extraArgs: string[]): Promise<Recorded & { out: string }> {
  const w = await dirs.make();
  const run = await runRecorded([origin.url("/one.bin"), "-O", w.out, "--state-dir", w.state, ...extraArgs]);
  return { ...run, out: w.out };
}

const loads = (modules: string[], pkg: string): boolean => modules.some((m) => m.startsWith(`node_modules/${pkg}/`) || m.includes(`/node_modules/${pkg}/`));

describe("start-up loads only what the run uses", () => {
  test("a direct download (no cluster) loads neither gRPC, nor the S3 signer, nor the progress bar", async () => {
    const run = await downloadRecorded([]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readFile(run.out), ONE_BYTE);
    assert.ok(run.chunks.includes("dist/bundle/main.js"), `the recorder saw the bundle (chunks: ${run.chunks.join(", ")})`);
    assert.ok(loads(run.modules, "undici"), "the recorder saw the origin client (undici)");
    assert.equal(loads(run.modules, "@grpc/grpc-js"), false, "grpc-js not loaded");
    assert.equal(loads(run.modules, "@bufbuild/protobuf"), false, "protobuf not loaded");
    assert.equal(loads(run.modules, "@smithy/signature-v4"), false, "the S3 signer not loaded for http://");
    assert.equal(loads(run.modules, "fast-xml-parser"), false, "the S3 XML parser not loaded for http://");
    assert.equal(loads(run.modules, "cli-progress"), false, "cli-progress not loaded on a pipe");
    assert.equal(loads(run.modules, "hash-wasm"), false, "hash-wasm (blake3) not loaded without --digest blake3");
    assert.equal(run.modules.includes("node_modules/undici/index.js"), false, "undici's index (fetch, WebSocket…) not loaded");
    assert.ok(run.modules.includes("node_modules/undici/lib/dispatcher/agent.js"), "undici's Agent loaded");
  });

  test("with a scheduler configured gRPC is loaded (the recorder sees it)", async () => {
    const run = await downloadRecorded(["--scheduler", "127.0.0.1:1", "--connect-timeout", "2s"]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readFile(run.out), ONE_BYTE);
    assert.ok(loads(run.modules, "@grpc/grpc-js"), "grpc-js loaded for a cluster run");
  });

  test("--help loads no argument parser (yargs) and no download machinery", async () => {
    const run = await runRecorded(["--help"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Usage:/);
    assert.ok(run.modules.includes("dist/cli/help.js"), "the recorder saw the help text module");
    assert.equal(loads(run.modules, "yargs"), false, "yargs not loaded for --help");
    assert.equal(loads(run.modules, "undici"), false, "undici not loaded for --help");
  });

  test("a download parses its options with yargs (the recorder sees it)", async () => {
    const run = await downloadRecorded([]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(loads(run.modules, "yargs"), "yargs loaded to parse a download's options");
  });
});
