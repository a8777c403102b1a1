// Batch logic without the network: the -i list, naming and conflicts, -I globs, and the
// runner's concurrency, "every file attempted" and exit-code rules (fake runs released
// by hand, no timers).
import { strict as assert } from "node:assert";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { includeFilter } from "../../src/cli/batch-glob.js";
import { parseInputList, readInputList } from "../../src/cli/batch-input.js";
import { pathUnder, planBatch, type BatchEntry } from "../../src/cli/batch-plan.js";
import { prefixOf } from "../../src/cli/batch-recursive.js";
import { batchSummary, runBatch, type FileOutcome } from "../../src/cli/batch.js";
import { exitCodeOf, InterruptedError } from "../../src/errors.js";

/** A read of stdin that does not settle fails the test instead of hanging the file. */
async function guarded<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the stdin read never settled")), 5_000)));
  try {
    return await Promise.race([work, guard]);
  } finally {
    clearTimeout(timer);
  }
}

describe("-i list", () => {
  it("skips blank lines and # comments, keeps line numbers and an optional path with spaces", () => {
    const text = "# artifacts\n\nhttps://o/a.bin\n  https://o/b.bin   sub/b copy.bin  \r\n#https://o/skipped\nhttps://o/c.bin#frag\n";
    assert.deepEqual(parseInputList(text), [
      { line: 3, url: "https://o/a.bin" },
      { line: 4, url: "https://o/b.bin", path: "sub/b copy.bin" },
      { line: 6, url: "https://o/c.bin#frag" },
    ]);
  });

  it("reads stdin for -", async () => {
    const stdin = new PassThrough();
    stdin.end("https://o/x\nhttps://o/y\n");
    assert.equal(await guarded(readInputList("-", undefined, stdin)), "https://o/x\nhttps://o/y\n");
  });

  it("Ctrl-C while stdin is still open (a producer that never closes it) ends the read with the interrupt", async () => {
    const stdin = new PassThrough();
    stdin.write("https://o/x\n");
    const controller = new AbortController();
    const reading = readInputList("-", controller.signal, stdin);
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new InterruptedError("SIGINT"));
    await assert.rejects(guarded(reading), (err) => err instanceof InterruptedError && exitCodeOf(err) === 130);
    stdin.destroy();
  });

  it("an unreadable list is a usage error (2)", async () => {
    await assert.rejects(readInputList("/nonexistent/dfget-list.txt"), (err) => exitCodeOf(err) === 2);
  });
});

describe("batch plan", () => {
  it("names files after the URL's last segment, decoded, query dropped", () => {
    const plan = planBatch([{ label: "argument 1", url: "https://o/dir/a%20b.bin?sig=1" }], "/out");
    assert.equal(plan[0]!.output, "/out/a b.bin");
    assert.equal(plan[0]!.failure, undefined);
  });

  it("the later of two same outputs, or of the same URL twice, fails with 73 naming the first", () => {
    const plan = planBatch(
      [
        { label: "line 1", url: "https://o/x/a.bin" },
        { label: "line 2", url: "https://p/y/a.bin" },
        { label: "line 3", url: "https://o/x/a.bin", relative: "other.bin" },
        { label: "line 4", url: "https://o/z/c.bin", relative: "a.bin" },
      ],
      "/out",
    );
    assert.equal(plan[0]!.failure, undefined);
    assert.equal(exitCodeOf(plan[1]!.failure), 73);
    assert.match(plan[1]!.failure!.message, /same output as line 1/);
    assert.equal(exitCodeOf(plan[2]!.failure), 73);
    assert.match(plan[2]!.failure!.message, /same URL as line 1/);
    assert.match(plan[3]!.failure!.message, /same output as line 1/);
  });

  it("a list path ending in / is a directory: the URL's name inside it (as -O DIR/); it still may not leave DIR", () => {
    const plan = planBatch(
      [
        { label: "line 1", url: "https://o/x/a.bin?sig=1", relative: "sub/" },
        { label: "line 2", url: "https://o/y/b%20c.bin", relative: "./" },
        { label: "line 3", url: "https://o/z/d.bin", relative: "../" },
        { label: "line 4", url: "https://o/dir/", relative: "sub/" },
      ],
      "/out",
    );
    assert.equal(plan[0]!.output, "/out/sub/a.bin");
    assert.equal(plan[1]!.output, "/out/b c.bin");
    assert.equal(exitCodeOf(plan[2]!.failure), 1);
    assert.equal(exitCodeOf(plan[3]!.failure), 2);
  });

  it("a path that leaves DIR fails that entry with exit 1; the others stay", () => {
    const plan = planBatch(
      [
        { label: "key p/../../etc/x", url: "s3://b/p/../../etc/x", relative: "../../etc/x" },
        { label: "key p//abs", url: "s3://b/p//abs", relative: "/abs" },
        { label: "key p/ok/fine.txt", url: "s3://b/p/ok/fine.txt", relative: "ok/fine.txt" },
      ],
      "/out",
    );
    assert.equal(exitCodeOf(plan[0]!.failure), 1);
    assert.equal(exitCodeOf(plan[1]!.failure), 1);
    assert.equal(plan[2]!.output, "/out/ok/fine.txt");
    assert.throws(() => pathUnder("/out", "a/../b"), /outside/);
  });

  it("-r adds the trailing / to a prefix, as upstream dfget does", () => {
    assert.deepEqual(prefixOf("s3://bkt/data"), { bucket: "bkt", prefix: "data/" });
    assert.deepEqual(prefixOf("s3://bkt/data/"), { bucket: "bkt", prefix: "data/" });
    assert.deepEqual(prefixOf("s3://bkt"), { bucket: "bkt", prefix: "" });
  });
});

describe("-I globs (upstream's glob crate: * crosses /)", () => {
  it("matches relative keys; a trailing / selects a subtree; none = all", () => {
    const txt = includeFilter(["*.txt"]);
    assert.equal(txt("a.txt"), true);
    assert.equal(txt("deep/dir/a.txt"), true);
    assert.equal(txt("a.bin"), false);
    const sub = includeFilter(["logs/", "data/??.csv"]);
    assert.equal(sub("logs/2026/x.gz"), true);
    assert.equal(sub("data/01.csv"), true);
    assert.equal(sub("data/001.csv"), false);
    assert.equal(includeFilter([])("anything/at/all"), true);
  });

  it("refuses patterns with .., . or a leading / (exit 2)", () => {
    for (const bad of ["../x", "/abs", "a/./b"]) assert.throws(() => includeFilter([bad]), (err) => exitCodeOf(err) === 2);
  });
});

interface Gate {
  promise: Promise<FileOutcome>;
  release(outcome: FileOutcome): void;
}

function gate(): Gate {
  let release!: (o: FileOutcome) => void;
  const promise = new Promise<FileOutcome>((resolve) => (release = resolve));
  return { promise, release };
}

const entry = (n: number, failure?: BatchEntry["failure"]): BatchEntry => ({ label: `line ${n}`, url: `https://o/${n}`, output: `/out/${n}`, failure });

describe("batch runner", () => {
  it("runs at most N at a time, attempts every file, exit = first failure in list order", async () => {
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    let running = 0;
    let peak = 0;
    const finished: string[] = [];
    const controller = new AbortController();
    const pending = runBatch([entry(0), entry(1), entry(2), entry(3)], {
      maxConcurrent: 2,
      signal: controller.signal,
      run: async (e) => {
        const index = Number(e.url.slice(-1));
        started.push(index);
        running++;
        peak = Math.max(peak, running);
        const outcome = await gates[index]!.promise;
        running--;
        return outcome;
      },
      refused: () => assert.fail("nothing refused"),
      notStarted: () => assert.fail("nothing interrupted"),
      onFinished: (e) => finished.push(e.label),
    });
    await Promise.resolve();
    assert.deepEqual(started, [0, 1]);
    gates[1]!.release({ code: 0, bytesWritten: 10 });
    gates[0]!.release({ code: 7, bytesWritten: 0 });
    gates[3]!.release({ code: 0, bytesWritten: 30 });
    gates[2]!.release({ code: 22, bytesWritten: 0 });
    const outcome = await pending;
    assert.equal(peak, 2);
    assert.deepEqual(started, [0, 1, 2, 3]);
    assert.deepEqual(finished.slice(0, 2), ["line 1", "line 0"]);
    assert.equal(outcome.exitCode, 7);
    assert.equal(outcome.failed, 2);
    assert.equal(outcome.bytesWritten, 40);
    assert.deepEqual(batchSummary(outcome, 12.6), { ok: false, exitCode: 7, files: 4, failed: 2, bytesWritten: 40, durationMs: 13 });
  });

  it("refused entries are reported first and count in list order", async () => {
    const dup = planBatch([{ label: "line 1", url: "https://o/a" }, { label: "line 2", url: "https://o/a" }], "/out")[1]!.failure!;
    const finished: string[] = [];
    const outcome = await runBatch([entry(0), entry(1, dup)], {
      maxConcurrent: 4,
      signal: new AbortController().signal,
      run: async () => ({ code: 0, bytesWritten: 5 }),
      refused: (_e, failure) => ({ code: exitCodeOf(failure), bytesWritten: 0, error: failure }),
      notStarted: () => assert.fail("nothing interrupted"),
      onFinished: (e) => finished.push(e.label),
    });
    assert.deepEqual(finished, ["line 1", "line 0"]);
    assert.equal(outcome.exitCode, 73);
  });

  it("an interrupt stops starting files and exits 130; each file not started is reported as such", async () => {
    const controller = new AbortController();
    const notStarted: string[] = [];
    const finished: string[] = [];
    const outcome = await runBatch([entry(0), entry(1), entry(2)], {
      maxConcurrent: 1,
      signal: controller.signal,
      run: async () => {
        controller.abort(new InterruptedError("SIGINT"));
        return { code: 130, bytesWritten: 0 };
      },
      refused: () => assert.fail("nothing refused"),
      notStarted: (e, reason) => {
        notStarted.push(e.label);
        return { code: exitCodeOf(reason), bytesWritten: 0, error: reason };
      },
      onFinished: (e) => finished.push(e.label),
    });
    assert.equal(outcome.exitCode, 130);
    assert.equal(outcome.failed, 3);
    assert.deepEqual(notStarted, ["line 1", "line 2"]);
    assert.deepEqual(finished, ["line 0", "line 1", "line 2"]);
  });
});
