// Many small files: N files of 64 KiB from one local origin (nginx when installed), fetched
// by `dfget -i LIST -O DIR/` (one process), a shell loop of one dfget per file,
// `aria2c -i LIST -j 4`, and `xargs -P4 curl`. Wall time per contender, one run each after
// a warm-up of the origin. Run from the repository root:
//
//     npm run -s build && node --import tsx bench/batch-files.ts        # BATCH_FILES=1000
//
// Every download is checked (file count and total bytes) before its time is reported.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseEnv, DFGET_BIN } from "../test/support/cli.js";
import { findTool } from "./measure.js";
import { startBenchOrigin } from "./origin.js";

const FILES = Number(process.env.BATCH_FILES ?? 1000);
/** The shell loop starts one node per file; on a loaded machine time a subset and scale. */
const LOOP_FILES = Math.min(FILES, Number(process.env.BATCH_LOOP_FILES ?? FILES));
const SIZE = 64 * 1024;
const TIMEOUT_MS = 30 * 60_000;

interface Contender {
  label: string;
  script: string;
  /** Files this contender fetches (the loop may do a subset); its time is scaled to FILES. */
  files: number;
}

function run(script: string, cwd: string): Promise<{ ms: number; code: number | null; stderr: string }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(baseEnv())) if (v !== undefined) env[k] = v;
    const child = spawn("bash", ["-c", script], { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, code, stderr });
    });
  });
}

async function bytesIn(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const name of await readdir(dir)) {
    if (name.startsWith(".")) continue;
    files++;
    bytes += (await stat(join(dir, name))).size;
  }
  return { files, bytes };
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "dfget-bench-batch-"));
  try {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < FILES; i++) files[`/f${String(i).padStart(5, "0")}.bin`] = randomBytes(SIZE);
    const origin = await startBenchOrigin(work, files, (m) => process.stderr.write(`bench: ${m}\n`));
    try {
      const list = join(work, "list.txt");
      const urls = Object.keys(files).map((p) => origin.url(p));
      await writeFile(list, urls.join("\n") + "\n");
      const loopList = join(work, "loop-list.txt");
      await writeFile(loopList, urls.slice(0, LOOP_FILES).join("\n") + "\n");
      const node = process.execPath;
      const dfget = `${node} ${DFGET_BIN}`;
      const state = join(work, "state");
      const contenders: Contender[] = [
        { label: "dfget -i (one process, 4 at a time)", script: `${dfget} -i ${list} -O ./ -q --state-dir ${state}`, files: FILES },
        { label: "shell loop of dfget (one process per file)", script: `while read -r u; do ${dfget} "$u" -O ./ -q --state-dir ${state} || exit 1; done < ${loopList}`, files: LOOP_FILES },
      ];
      if (findTool("aria2c")) {
        contenders.push({ label: "aria2c -i -j4", script: `aria2c -q -i ${list} -d . -j 4 --allow-overwrite=false --auto-file-renaming=false --file-allocation=none`, files: FILES });
      }
      if (findTool("curl")) contenders.push({ label: "xargs -P4 curl", script: `xargs -P4 -n1 curl -sSf -O < ${list}`, files: FILES });
      // Warm the origin (page cache, nginx workers) once.
      await run(`xargs -P4 -n1 curl -sSf -o /dev/null < ${list}`, work);
      process.stdout.write(`${FILES} files × 64 KiB from ${origin.description}, ${new Date().toISOString()}\n\n| contender | wall time | files/s |\n|---|---:|---:|\n`);
      for (const contender of contenders) {
        const dir = join(work, `out-${contenders.indexOf(contender)}`);
        await mkdir(dir);
        const result = await run(contender.script, dir);
        const got = await bytesIn(dir);
        if (result.code !== 0 || got.files !== contender.files || got.bytes !== contender.files * SIZE) {
          process.stdout.write(`| ${contender.label} | failed (exit ${result.code}, ${got.files} files) | |\n`);
          process.stderr.write(result.stderr);
          continue;
        }
        const scaled = (result.ms * FILES) / contender.files;
        const note = contender.files === FILES ? "" : ` (${contender.files} files timed, scaled ×${(FILES / contender.files).toFixed(1)})`;
        process.stdout.write(`| ${contender.label}${note} | ${(scaled / 1000).toFixed(2)} s | ${Math.round(contender.files / (result.ms / 1000))} |\n`);
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      await origin.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
