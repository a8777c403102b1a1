// The cooldown ledger on a fake clock, its file in a temp state dir, and 50 dfget-like
// processes writing it at once.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { CooldownLedger, cooldownFilePath, type CooldownFile } from "../../src/switching/cooldown.js";
import { fakeClock } from "../support/fake-clock.js";

const T0 = Date.UTC(2025, 0, 1);
const MINUTE = 60_000;
const A = "10.0.0.1:8002";
const B = "10.0.0.2:8002";

let root: string;
let dirCount = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "dfget-cooldown-test-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshDir = (): string => join(root, `state-${++dirCount}`);

async function readLedgerFile(stateDir: string): Promise<CooldownFile> {
  return JSON.parse(await readFile(cooldownFilePath(stateDir), "utf8")) as CooldownFile;
}

function collectWarnings(): { warn: (m: string) => void; warnings: string[] } {
  const warnings: string[] = [];
  return { warn: (m) => warnings.push(m), warnings };
}

describe("cooling arithmetic (in memory, fake clock)", () => {
  test("cooling at +59.999 s, restored at +60 s", async () => {
    const clock = fakeClock(T0);
    const ledger = CooldownLedger.inMemory(clock);
    assert.equal(ledger.isCooling(A, MINUTE), false);
    await ledger.markFailed(A, "refused");
    assert.deepEqual(ledger.record(A), { failures: 1, lastFailureAt: T0, lastOutcome: "refused" });
    assert.equal(ledger.coolingUntil(A, MINUTE), T0 + MINUTE);
    clock.advance(MINUTE - 1);
    assert.equal(ledger.isCooling(A, MINUTE), true);
    clock.advance(1);
    assert.equal(ledger.isCooling(A, MINUTE), false);
    assert.equal(ledger.coolingUntil(A, MINUTE), null);
    assert.equal(ledger.isCooling(B, MINUTE), false, "other schedulers are unaffected");
  });

  test("re-armed by a second failure", async () => {
    const clock = fakeClock(T0);
    const ledger = CooldownLedger.inMemory(clock);
    await ledger.markFailed(A, "refused");
    clock.advance(50_000);
    await ledger.markFailed(A, "health-timeout");
    assert.deepEqual(ledger.record(A), { failures: 2, lastFailureAt: T0 + 50_000, lastOutcome: "health-timeout" });
    clock.advance(MINUTE - 1); // T0 + 109.999 s: past the first arming, inside the second
    assert.equal(ledger.coolingUntil(A, MINUTE), T0 + 50_000 + MINUTE);
    clock.advance(1);
    assert.equal(ledger.isCooling(A, MINUTE), false);
  });

  test("a shorter interval in force this run un-cools a record made under a longer one", async () => {
    const clock = fakeClock(T0);
    const ledger = CooldownLedger.inMemory(clock);
    await ledger.markFailed(A, "refused");
    clock.advance(61_000);
    assert.equal(ledger.isCooling(A, 10 * MINUTE), true);
    assert.equal(ledger.isCooling(A, MINUTE), false);
  });

  test("success deletes the record", async () => {
    const clock = fakeClock(T0);
    const ledger = CooldownLedger.inMemory(clock);
    await ledger.markFailed(A, "refused");
    await ledger.clear(A);
    assert.equal(ledger.record(A), undefined);
    assert.equal(ledger.isCooling(A, MINUTE), false);
    await ledger.markFailed(A, "refused");
    assert.equal(ledger.record(A)?.failures, 1, "counting starts over after a success");
  });

  test("a failure stamped in the future cools for at most one interval from now", () => {
    const clock = fakeClock(T0);
    const ledger = CooldownLedger.inMemory(clock, [[A, { failures: 1, lastFailureAt: T0 + 3_600_000, lastOutcome: "refused" }]]);
    assert.equal(ledger.coolingUntil(A, MINUTE), T0 + MINUTE);
  });
});

describe("persisted ledger", () => {
  test("a second instance reads back what the first wrote; file and dir are private", async () => {
    const dir = freshDir();
    const clock = fakeClock(T0);
    const { warn, warnings } = collectWarnings();
    const first = await CooldownLedger.load(dir, clock, warn);
    await first.markFailed(A, "refused");
    clock.advance(1_000);
    await first.markFailed(B, "unavailable");

    const second = await CooldownLedger.load(dir, clock, warn);
    assert.deepEqual(second.record(A), { failures: 1, lastFailureAt: T0, lastOutcome: "refused" });
    assert.deepEqual(second.record(B), { failures: 1, lastFailureAt: T0 + 1_000, lastOutcome: "unavailable" });
    assert.equal(second.isCooling(A, MINUTE), true);
    assert.deepEqual(await readLedgerFile(dir), {
      version: 1,
      schedulers: {
        [A]: { failures: 1, lastFailureAt: T0, lastOutcome: "refused" },
        [B]: { failures: 1, lastFailureAt: T0 + 1_000, lastOutcome: "unavailable" },
      },
    });
    assert.equal((await stat(cooldownFilePath(dir))).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.deepEqual(warnings, []);
  });

  test("success removes the record from the file", async () => {
    const dir = freshDir();
    const clock = fakeClock(T0);
    const ledger = await CooldownLedger.load(dir, clock, assert.fail);
    await ledger.markFailed(A, "refused");
    await ledger.markFailed(B, "refused");
    await ledger.clear(A);
    assert.deepEqual(Object.keys((await readLedgerFile(dir)).schedulers), [B]);
    assert.equal((await CooldownLedger.load(dir, clock, assert.fail)).record(A), undefined);
  });

  test("clear without a record anywhere writes nothing", async () => {
    const dir = freshDir();
    const ledger = await CooldownLedger.load(dir, fakeClock(T0), assert.fail);
    await ledger.clear(A);
    await assert.rejects(stat(cooldownFilePath(dir)), { code: "ENOENT" });
  });

  test("changes merge with what another process wrote meanwhile", async () => {
    const dir = freshDir();
    const clock = fakeClock(T0);
    const stale = await CooldownLedger.load(dir, clock, assert.fail);
    const other = await CooldownLedger.load(dir, clock, assert.fail);
    await other.markFailed(A, "refused");
    await other.markFailed(A, "refused");
    await other.markFailed(B, "refused");

    await stale.markFailed(A, "goaway");
    assert.deepEqual(stale.record(A), { failures: 3, lastFailureAt: T0, lastOutcome: "goaway" }, "counted on top of the file");
    assert.equal(stale.record(B)?.failures, 1, "adopts the other process's records");
    assert.equal((await readLedgerFile(dir)).schedulers[B]?.failures, 1, "does not drop them from the file");

    // A record only on disk (written after this instance loaded) is still cleared.
    const dir2 = freshDir();
    const reader = await CooldownLedger.load(dir2, clock, assert.fail);
    await (await CooldownLedger.load(dir2, clock, assert.fail)).markFailed(A, "refused");
    assert.equal(reader.record(A), undefined);
    await reader.clear(A);
    assert.deepEqual((await readLedgerFile(dir2)).schedulers, {});
  });

  const badFiles = [
    { desc: "corrupt JSON", text: "{\"version\": 1, \"schedulers\": {" },
    { desc: "an array", text: "[1, 2]" },
    { desc: "another version", text: JSON.stringify({ version: 2, schedulers: {} }) },
  ];
  for (const { desc, text } of badFiles) {
    test(`${desc} → one warning and a fresh start, then a valid file`, async () => {
      const dir = freshDir();
      const clock = fakeClock(T0);
      const seed = await CooldownLedger.load(dir, clock, assert.fail);
      await seed.markFailed(B, "refused"); // creates the dir with the right mode
      await writeFile(cooldownFilePath(dir), text);
      const { warn, warnings } = collectWarnings();
      const ledger = await CooldownLedger.load(dir, clock, warn);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] as string, /cooldown\.json/);
      assert.equal(ledger.record(B), undefined);
      await ledger.markFailed(A, "refused");
      assert.equal(warnings.length, 1, `one notice per run, not one per read of the file: ${warnings.join(" | ")}`);
      assert.deepEqual(await readLedgerFile(dir), {
        version: 1,
        schedulers: { [A]: { failures: 1, lastFailureAt: T0, lastOutcome: "refused" } },
      });
    });
  }

  test("a malformed record is dropped alone, with a warning", async () => {
    const dir = freshDir();
    const seed = await CooldownLedger.load(dir, fakeClock(T0), assert.fail);
    await seed.markFailed(A, "refused");
    const file = await readLedgerFile(dir);
    await writeFile(cooldownFilePath(dir), JSON.stringify({ ...file, schedulers: { ...file.schedulers, [B]: { failures: "x" } } }));
    const { warn, warnings } = collectWarnings();
    const ledger = await CooldownLedger.load(dir, fakeClock(T0), warn);
    assert.equal(ledger.record(A)?.failures, 1);
    assert.equal(ledger.record(B), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /10\.0\.0\.2:8002/);
  });

  test("an unwritable state dir is a warning, and the ledger still works in memory", async () => {
    const blocker = join(root, `not-a-dir-${++dirCount}`);
    await writeFile(blocker, "");
    const dir = join(blocker, "state"); // a path under a regular file: ENOTDIR
    const clock = fakeClock(T0);
    const { warn, warnings } = collectWarnings();
    const ledger = await CooldownLedger.load(dir, clock, warn);
    await ledger.markFailed(A, "refused");
    assert.equal(ledger.isCooling(A, MINUTE), true);
    await ledger.clear(A);
    assert.equal(ledger.record(A), undefined);
    assert.equal(warnings.length, 1, `one notice per run: ${warnings.join(" | ")}`);
    assert.match(warnings[0] as string, /cooldown\.json/);
  });

  for (const kind of ["a directory", "a FIFO"] as const) {
    test(`${kind} in place of the file: one notice, no hang, the ledger works in memory`, async () => {
      const dir = freshDir();
      await mkdir(dir, { recursive: true });
      const file = cooldownFilePath(dir);
      if (kind === "a directory") await mkdir(file);
      else execFileSync("mkfifo", [file]);
      const { warn, warnings } = collectWarnings();
      // Hang guard: a read blocked in open(2) on the FIFO holds a thread-pool thread that no
      // test timeout can free (the process could not even exit). After 5 s, every blocked
      // reader is given a writer and EOF, and the test fails instead of hanging.
      let unblocked = false;
      let unblocker: NodeJS.Timeout | undefined;
      const guard = setTimeout(() => {
        unblocker = setInterval(() => {
          try {
            closeSync(openSync(file, constants.O_WRONLY | constants.O_NONBLOCK));
            unblocked = true;
          } catch {
            // no reader waiting (ENXIO), or no FIFO any more
          }
        }, 100);
      }, 5_000);
      try {
        const ledger = await CooldownLedger.load(dir, fakeClock(T0), warn);
        await ledger.markFailed(A, "refused");
        assert.equal(ledger.isCooling(A, MINUTE), true);
        await ledger.clear(A);
        assert.equal(unblocked, false, "blocked opening the FIFO");
        assert.equal(warnings.length, 1, warnings.join(" | "));
        assert.match(warnings[0] as string, /cooldown\.json/);
      } finally {
        clearTimeout(guard);
        clearInterval(unblocker);
      }
    });
  }
});

const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Transpiles `entry` and every module it imports by relative path into `outDir`, laid
 * out as in the project, so children run on plain `node`. Fifty `node --import tsx`
 * start-ups cost ~0.4 s of CPU each, which made this test take tens of seconds; the
 * code under test is the same either way (the writer also runs with tsx by hand).
 */
async function compileForNode(entry: string, outDir: string): Promise<string> {
  const pending = [resolve(entry)];
  const done = new Set<string>();
  while (pending.length > 0) {
    const source = pending.pop() as string;
    if (done.has(source)) continue;
    done.add(source);
    const text = await readFile(source, "utf8");
    for (const match of text.matchAll(/from\s+"(\.{1,2}\/[^"]+)\.js"/g)) {
      pending.push(resolve(dirname(source), `${match[1]}.ts`));
    }
    const { outputText } = ts.transpileModule(text, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: source,
    });
    const target = join(outDir, relative(PROJECT_ROOT, source)).replace(/\.ts$/, ".js");
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
  await writeFile(join(outDir, "package.json"), JSON.stringify({ type: "module" }));
  await symlink(join(PROJECT_ROOT, "node_modules"), join(outDir, "node_modules"), "dir");
  return join(outDir, relative(PROJECT_ROOT, entry)).replace(/\.ts$/, ".js");
}

describe("50 concurrent processes", () => {
  const SHARED = "10.9.9.9:8002";
  let writer: string;
  before(async () => {
    writer = await compileForNode(join(PROJECT_ROOT, "test/support/cooldown-writer.ts"), join(root, "writer-build"));
  });
  after(async () => {
    // Drop the node_modules link first, so no cleanup can ever reach the project's copy.
    await unlink(join(root, "writer-build", "node_modules")).catch(() => {});
  });

  function runWriter(stateDir: string, addrs: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [writer, stateDir, "refused", ...addrs], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      child.on("error", reject);
      child.on("close", (code) => resolvePromise({ code, stderr }));
    });
  }

  test("each marks its own scheduler, every fifth also a shared one: the file keeps every record", { timeout: 60_000 }, async () => {
    const dir = freshDir();
    const own = Array.from({ length: 50 }, (_, i) => `10.0.0.${i + 1}:8002`);
    const results = await Promise.all(own.map((addr, i) => runWriter(dir, i % 5 === 0 ? [addr, SHARED] : [addr])));
    // Lock waits are bounded (~1 s, issue 11): under load a writer may give up and keep its
    // cooldown in memory — exit 3 with exactly one warning line — but never tears the file
    // or loses another writer's record.
    for (const { code, stderr } of results) {
      assert.ok(code === 0 || (code === 3 && stderr.trim().split("\n").length === 1 && /in memory/.test(stderr)), `${code}: ${stderr}`);
    }

    const file = await readLedgerFile(dir); // throws if the JSON were torn
    assert.equal(file.version, 1);
    const landed = own.filter((_, i) => results[i]?.code === 0);
    assert.ok(landed.length > 0);
    for (const addr of landed) assert.equal(file.schedulers[addr]?.failures, 1, addr);
    const sharedLanded = own.filter((_, i) => i % 5 === 0 && results[i]?.code === 0).length;
    const shared = file.schedulers[SHARED]?.failures ?? 0;
    assert.ok(shared >= sharedLanded && shared <= 10, `shared failures ${shared}`);
    assert.equal((await stat(cooldownFilePath(dir))).mode & 0o777, 0o600);
  });
});
