// `npm run soak`: issue 11's randomized soak. Many runs of the BUILT dfget against the
// fake cluster of test/support, each with zero to two faults drawn by a seeded PRNG (the
// same seed replays the same runs). Every run must end with a documented exit code, the
// exact bytes of a valid version on exit 0, nothing at -O otherwise, no hang, nothing left
// in its TMPDIR, hidden partials only where cli.md keeps them, and exit 0 whenever every
// fault drawn is one a retry or another source survives. Never part of `npm test`.
//   npm run soak -- [--seed N] [--runs N] [--hang-guard SECONDS]
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../test/support/cli.js";
import { drawFaults, seededRandom } from "./soak-faults.js";
import { soakRun } from "./soak-run.js";

const DEFAULT_SEED = 11;
const DEFAULT_RUNS = 40;
const MiB = 1024 * 1024;

function numberFlag(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new RangeError(`--${name} wants a whole number, got ${value}`);
  return parsed;
}

/** Seeded bytes, so a seed's files are the same on every machine. */
function seededBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let offset = 0; offset + 4 <= length; offset += 4) bytes.writeUInt32LE(Math.floor(random() * 2 ** 32), offset);
  for (let offset = length - (length % 4); offset < length; offset += 1) bytes[offset] = Math.floor(random() * 256);
  return bytes;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { seed: { type: "string" }, runs: { type: "string" }, "hang-guard": { type: "string" } } });
  const seed = numberFlag(values.seed, DEFAULT_SEED, "seed");
  const runs = numberFlag(values.runs, DEFAULT_RUNS, "runs");
  const hangGuardMs = numberFlag(values["hang-guard"], 60, "hang-guard") * 1000;
  if (!existsSync(join(REPO_ROOT, "dist", "cli", "main.js"))) {
    process.stderr.write("soak: dist/ is missing: run `npm run build` first (npm run soak builds)\n");
    return 2;
  }
  const random = seededRandom(seed);
  // 10 MiB + an odd tail: three 4 MiB pieces, the last one short.
  const content = seededBytes(random, 10 * MiB + 12_345);
  const replacement = seededBytes(random, content.length);
  const growth = seededBytes(random, 4_321);
  process.stdout.write(`soak: seed ${seed}, ${runs} runs, hang guard ${hangGuardMs / 1000} s\n`);
  const tally = { ok: 0, wrong: 0, exits: new Map<string, number>() };
  for (let index = 0; index < runs; index += 1) {
    const withParent = random() < 0.5;
    const faults = drawFaults(random, withParent);
    const result = await soakRun({ content, replacement, growth, withParent, faults, hangGuardMs });
    const exitKey = String(result.exit);
    tally.exits.set(exitKey, (tally.exits.get(exitKey) ?? 0) + 1);
    const verdict = result.problems.length === 0 ? "ok" : `WRONG: ${result.problems.join("; ")}`;
    if (result.problems.length === 0) tally.ok += 1;
    else tally.wrong += 1;
    const faultText = faults.length === 0 ? "none" : faults.map((fault) => fault.name).join("+");
    process.stdout.write(
      `run ${String(index + 1).padStart(3)} seed ${seed} ${withParent ? "parent" : "no-parent"} faults ${faultText} exit ${exitKey} ${result.ms} ms ${verdict}\n`,
    );
    if (result.problems.length > 0) process.stdout.write(`    stderr: ${result.stderrTail}\n`);
  }
  const exits = [...tally.exits.entries()].sort().map(([code, n]) => `${code}×${n}`).join(" ");
  process.stdout.write(`soak: seed ${seed}: ${tally.ok}/${runs} ok, ${tally.wrong} wrong; exits ${exits}\n`);
  return tally.wrong === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
