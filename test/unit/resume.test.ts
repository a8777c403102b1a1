import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import lockfile from "proper-lockfile";
import { PieceLedger, type PieceWriter } from "../../src/engine/piece-ledger.js";
import { OutputLock } from "../../src/storage/output-lock.js";
import { existsSync } from "node:fs";
import { PieceFile } from "../../src/storage/piece-file.js";
import { ResumablePartial } from "../../src/storage/resumable.js";
import {
  OutputBusyError,
  discardResume,
  keepAfter,
  mismatchOf,
  readRecord,
  resumePathsFor,
  urlFingerprint,
  verifiedPieces,
  writeRecord,
  RecordWriter,
  type ResumeRecord,
} from "../../src/storage/resume.js";
import { updateJsonFile, writeJsonAtomic } from "../../src/state/json-store.js";
import {
  DfgetError,
  DigestMismatchError,
  InterruptedError,
  OriginHttpError,
  OriginUnreachableError,
  PartialTransferError,
  TimeoutError,
  WriteError,
} from "../../src/errors.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dfget-resume-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const identity = {
  url: "http://o/f?X-Amz-Signature=REDACTED",
  urlSha256: urlFingerprint("http://o/f?X-Amz-Signature=s3cr3t"),
  taskId: "t1",
  pieceLength: 4,
  contentLength: 10,
  validator: { etag: '"v1"' },
};

/** Three pieces of a 10-byte object: "abcd", "efgh", "ij". */
const plan = [
  { number: 0, offset: 0, length: 4 },
  { number: 1, offset: 4, length: 4 },
  { number: 2, offset: 8, length: 2 },
];

describe("resume record", () => {
  test("fixed hidden names beside the output", () => {
    assert.deepEqual(resumePathsFor("/data/out.bin"), {
      part: "/data/.out.bin.dfget.part",
      record: "/data/.out.bin.dfget.json",
      lock: "/data/.out.bin.dfget.lock",
    });
  });

  test("sha256 of the full URL (fixed vector)", () => {
    assert.equal(urlFingerprint("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  test("RecordWriter: rewrites in place (same inode, no temp file), each state whole, a shorter record padded", async () => {
    const path = join(dir, "inplace.json");
    const writer = new RecordWriter(path);
    const at = (pieces: Array<[number, string]>): ResumeRecord => ({ version: 1, ...identity, pieces, updatedAt: "2026-12-02T00:00:00.000Z" });
    writer.write(at([[0, "crc32:1"]]));
    const inode = (await stat(path)).ino;
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    writer.write(at([[0, "crc32:1"], [1, "crc32:22"], [2, "crc32:333"]]));
    assert.deepEqual(await readRecord(path), at([[0, "crc32:1"], [1, "crc32:22"], [2, "crc32:333"]]));
    const longest = (await stat(path)).size;
    // A piece dropped (another version): shorter JSON, same file length, still one record.
    writer.write(at([[2, "crc32:333"]]));
    assert.deepEqual(await readRecord(path), at([[2, "crc32:333"]]));
    assert.equal((await stat(path)).size, longest);
    assert.equal((await stat(path)).ino, inode, "rewritten in place, not replaced");
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith("inplace.json")), ["inplace.json"]);
    writer.close();
    writer.close();
  });

  test("round trip; corrupt and missing files are told apart", async () => {
    const path = join(dir, "r.json");
    const record: ResumeRecord = { version: 1, ...identity, pieces: [[0, "crc32:1"]], updatedAt: "2026-12-02T00:00:00.000Z" };
    await writeRecord(path, record);
    assert.deepEqual(await readRecord(path), record);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await writeFile(path, "{not json");
    assert.equal(await readRecord(path), "corrupt");
    await writeFile(path, JSON.stringify({ ...record, version: 2 }));
    assert.equal(await readRecord(path), "corrupt");
    assert.equal(await readRecord(join(dir, "none.json")), undefined);
  });

  test("mismatch names what changed; no validator is never resumed", () => {
    const record: ResumeRecord = { version: 1, ...identity, pieces: [], updatedAt: "" };
    assert.equal(mismatchOf(record, identity), undefined);
    assert.match(mismatchOf(record, { ...identity, urlSha256: "x" }) ?? "", /another URL \(http:\/\/o\/f\?X-Amz-Signature=REDACTED\)/);
    assert.match(mismatchOf(record, { ...identity, contentLength: 11 }) ?? "", /size changed \(10 → 11/);
    assert.match(mismatchOf(record, { ...identity, validator: { etag: '"v2"' } }) ?? "", /version changed \("v1" → "v2"\)/);
    assert.match(mismatchOf({ ...record, validator: {} }, { ...identity, validator: {} }) ?? "", /version/);
  });

  test("only pieces whose bytes still match their crc32 are believed", async () => {
    const part = join(dir, "p.part");
    // "abcd" crc32 = 3984772369, "efgh" crc32 = 137591733 (zlib CRC-32).
    await writeFile(part, "abcdefghij");
    const good = await verifiedPieces(part, plan, [[0, "crc32:3984772369"], [1, "crc32:1"], [2, "crc32:7"], [9, "crc32:0"]]);
    assert.deepEqual([...good.entries()], [[0, { digest: "crc32:3984772369", fromParent: false }]]);
    // Where a piece came from survives the record (a resumed run cross-checks parent pieces).
    const fromParent = await verifiedPieces(part, plan, [[1, "crc32:137591733", "parent"]]);
    assert.deepEqual([...fromParent.entries()], [[1, { digest: "crc32:137591733", fromParent: true }]]);
    assert.deepEqual(await verifiedPieces(join(dir, "missing.part"), plan, [[0, "crc32:3984772369"]]), new Map());
  });

  test("kept after transient failures, discarded after 22, 32, a changed object", () => {
    for (const err of [new OriginUnreachableError("x"), new PartialTransferError("x"), new WriteError("x"), new TimeoutError("run", "x"), new InterruptedError("SIGINT"), new InterruptedError("SIGTERM")]) {
      assert.equal(keepAfter(err), true, err.name);
    }
    for (const err of [new OriginHttpError(404, "x"), new DigestMismatchError("x"), new DfgetError("x", "ERR_OBJECT_CHANGED", 18), new Error("x"), undefined]) {
      assert.equal(keepAfter(err), false, String(err));
    }
  });

  test("discardResume removes both files and never throws", async () => {
    const paths = resumePathsFor(join(dir, "gone.bin"));
    await writeFile(paths.part, "x");
    await writeFile(paths.record, "{}");
    await discardResume(paths);
    await discardResume(paths);
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith(".gone.bin")), []);
  });
});

describe("OutputLock", () => {
  test("a lock held by a live process is refused with 73; once released it can be taken", async () => {
    const path = join(dir, ".a.dfget.lock");
    // The test runner's parent stands in for another dfget that is still running.
    await writeFile(path, `${process.ppid}\n${(await import("node:os")).hostname()}\n`);
    const second = await OutputLock.acquire(path, "a").catch((e: unknown) => e);
    assert.ok(second instanceof OutputBusyError && second.exitCode === 73, String(second));
    assert.match(second.message, new RegExp(`pid ${process.ppid}`));
    await rm(path);
    const mine = await OutputLock.acquire(path, "a");
    await mine.release();
    assert.deepEqual((await readdir(dir)).filter((n) => n === ".a.dfget.lock"), []);
  });

  test("a lock left by a process that is gone (kill -9) is taken over at once", async () => {
    const path = join(dir, ".b.dfget.lock");
    const child = spawn(process.execPath, ["-e", ""]);
    const pid = child.pid!;
    await new Promise((resolve) => child.on("exit", resolve));
    await writeFile(path, `${pid}\n${(await import("node:os")).hostname()}\n`);
    const lock = await OutputLock.acquire(path, "b");
    assert.equal((await readFile(path, "utf8")).split("\n")[0], String(process.pid));
    await lock.release();
  });

  test("release() unlinks before it yields: a second signal's exit right after cannot leave the lock", async () => {
    const path = join(dir, ".c.dfget.lock");
    const lock = await OutputLock.acquire(path, "c");
    const released = lock.release(); // the run's close() has started releasing…
    // …and a second SIGINT exits now: releaseSync() finds nothing held, so the file must be gone already.
    lock.releaseSync();
    assert.equal(existsSync(path), false);
    await released;
  });
});

describe("PieceFile for resume and stdout", () => {
  test("a fixed partial is reused with its bytes, and keep() leaves it", async () => {
    const out = join(dir, "k.bin");
    const { part } = resumePathsFor(out);
    const first = await PieceFile.create(out, { overwrite: false, size: 8, partPath: part });
    await first.writePiece(0, Buffer.from("abcd"));
    await first.keep();
    const second = await PieceFile.create(out, { overwrite: false, size: 8, partPath: part, reuse: true });
    await second.writePiece(4, Buffer.from("efgh"));
    await second.commit();
    assert.equal(await readFile(out, "utf8"), "abcdefgh");
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith(".k.bin")), []);
  });

  test("without reuse a fixed partial starts empty", async () => {
    const out = join(dir, "e.bin");
    const { part } = resumePathsFor(out);
    await writeFile(part, "zzzzzzzz");
    const file = await PieceFile.create(out, { overwrite: false, size: 4, partPath: part });
    await file.writePiece(0, Buffer.from("ab"));
    await file.writePiece(2, Buffer.from("cd"));
    await file.commit();
    assert.equal(await readFile(out, "utf8"), "abcd");
  });

  test("--overwrite keeps the replaced file's mode", async () => {
    const out = join(dir, "secret.bin");
    await writeFile(out, "old");
    await chmod(out, 0o600);
    const file = await PieceFile.create(out, { overwrite: true, size: 3 });
    await file.writePiece(0, Buffer.from("new"));
    await file.commit();
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    assert.equal(await readFile(out, "utf8"), "new");
  });

  test("anonymous (-O -): no name in the directory while open, readable through tempPath", async () => {
    const sub = await mkdtemp(join(dir, "anon-"));
    const file = await PieceFile.create(join(sub, "stdout"), { overwrite: true, size: 3, anonymous: true });
    assert.deepEqual(await readdir(sub), []);
    await file.writePiece(0, Buffer.from("xyz"));
    assert.equal(await readFile(file.tempPath, "utf8"), "xyz");
    await file.abort();
    assert.deepEqual(await readdir(sub), []);
  });
});

describe("state files", () => {
  test("a lock held elsewhere is given up on (ELOCKED) instead of waited on for long", async () => {
    const path = join(dir, "held.json");
    await writeFile(path, "{}");
    const release = await lockfile.lock(path, { realpath: false });
    try {
      const err = await updateJsonFile<object>(path, {}, () => ({ a: 1 }), () => undefined).catch((e: unknown) => e);
      assert.equal((err as NodeJS.ErrnoException).code, "ELOCKED");
      // Known to be stuck for this run: the next update fails without waiting again.
      const again = await updateJsonFile<object>(path, {}, () => ({ a: 1 }), () => undefined).catch((e: unknown) => e);
      assert.equal(again, err);
    } finally {
      await release();
    }
  });

  test("a write that fails after its temp file is open (as on a full disk) leaves no temp file", async () => {
    const stateDir = await mkdtemp(join(dir, "state-"));
    // JSON.stringify throws on a BigInt: the same path as ENOSPC from write(2).
    const err = await writeJsonAtomic(join(stateDir, "cooldown.json"), { n: 1n }).catch((e: unknown) => e);
    assert.ok(err instanceof TypeError, String(err));
    assert.deepEqual(await readdir(stateDir), []);
  });

  test("a state dir that cannot exist (a file in its place) fails fast", async () => {
    const blocker = join(dir, "not-a-dir");
    await writeFile(blocker, "x");
    const err = await updateJsonFile(join(blocker, "state.json"), {}, () => ({}), () => undefined).catch((e: unknown) => e);
    assert.ok(["ENOTDIR", "EEXIST"].includes((err as NodeJS.ErrnoException).code ?? ""), String(err));
  });
});

describe("ResumablePartial", () => {
  const notices: string[] = [];
  const opts = { overwrite: false, resume: true, notice: (m: string) => void notices.push(m) };

  test("cut short → kept; rerun reuses the verified pieces; success leaves only the output", async () => {
    const sub = await mkdtemp(join(dir, "rp-"));
    const out = join(sub, "f.bin");
    const first = await ResumablePartial.open(out, opts);
    assert.equal((await first.prepare(identity, plan)).size, 0);
    await first.file.writePiece(0, Buffer.from("abcd"));
    first.finished(0, "crc32:3984772369");
    await first.close(new PartialTransferError("cut"));
    assert.deepEqual((await readdir(sub)).sort(), [".f.bin.dfget.json", ".f.bin.dfget.part"]);

    const second = await ResumablePartial.open(out, opts);
    const reused = await second.prepare(identity, plan);
    assert.deepEqual([...reused.entries()], [[0, { digest: "crc32:3984772369", fromParent: false }]]);
    await second.file.writePiece(4, Buffer.from("efghij"));
    await second.commit();
    assert.deepEqual(await readdir(sub), ["f.bin"]);
    assert.equal(await readFile(out, "utf8"), "abcdefghij");
  });

  test("a record for another version is discarded with one notice; 22 removes everything", async () => {
    const sub = await mkdtemp(join(dir, "rp-"));
    const out = join(sub, "g.bin");
    const first = await ResumablePartial.open(out, opts);
    await first.prepare(identity, plan);
    await first.file.writePiece(0, Buffer.from("abcd"));
    first.finished(0, "crc32:3984772369");
    await first.close(new InterruptedError("SIGINT"));
    notices.length = 0;
    const second = await ResumablePartial.open(out, opts);
    assert.equal((await second.prepare({ ...identity, validator: { etag: '"v2"' } }, plan)).size, 0);
    assert.equal(notices.length, 1);
    assert.match(notices[0] ?? "", /version changed/);
    await second.close(new OriginHttpError(404, "gone"));
    assert.deepEqual(await readdir(sub), []);
  });

  test("no validator: nothing kept after a cut, one notice", async () => {
    const sub = await mkdtemp(join(dir, "rp-"));
    notices.length = 0;
    const partial = await ResumablePartial.open(join(sub, "h.bin"), opts);
    await partial.prepare({ ...identity, validator: {} }, plan);
    partial.finished(0, "crc32:1");
    await partial.close(new PartialTransferError("cut"));
    assert.deepEqual(await readdir(sub), []);
    assert.equal(notices.filter((m) => /cannot be resumed/.test(m)).length, 1);
  });

  test("a failure before prepare() (origin unreachable, Ctrl-C during the HEAD) leaves an earlier partial as it was", async () => {
    const sub = await mkdtemp(join(dir, "rp-"));
    const out = join(sub, "e.bin");
    const first = await ResumablePartial.open(out, opts);
    await first.prepare(identity, plan);
    await first.file.writePiece(0, Buffer.from("abcd"));
    first.finished(0, "crc32:3984772369");
    await first.close(new PartialTransferError("cut"));
    const paths = resumePathsFor(out);
    const record = await readFile(paths.record, "utf8");

    const unreachable = await ResumablePartial.open(out, opts);
    await unreachable.close(new OriginUnreachableError("refused"));
    assert.deepEqual((await readdir(sub)).sort(), [".e.bin.dfget.json", ".e.bin.dfget.part"]);
    assert.equal(await readFile(paths.record, "utf8"), record);

    const signalled = await ResumablePartial.open(out, opts);
    signalled.releaseSync(); // a second Ctrl-C during the HEAD: exit at once
    assert.deepEqual((await readdir(sub)).sort(), [".e.bin.dfget.json", ".e.bin.dfget.part"]);

    const rerun = await ResumablePartial.open(out, opts);
    assert.deepEqual([...(await rerun.prepare(identity, plan)).keys()], [0]);
    await rerun.close(new PartialTransferError("cut"));

    // An earlier partial a 404 says is gone goes even unjudged; one made by this run goes too.
    const gone = await ResumablePartial.open(out, opts);
    await gone.close(new OriginHttpError(404, "gone"));
    assert.deepEqual(await readdir(sub), []);
    const again = await ResumablePartial.open(out, opts);
    await again.close(new OriginUnreachableError("refused"));
    assert.deepEqual(await readdir(sub), [], "a partial this run created, never sized, is not left");
  });

  test("an existing output without --overwrite is 73 and the lock is released", async () => {
    const sub = await mkdtemp(join(dir, "rp-"));
    await writeFile(join(sub, "x.bin"), "old");
    const err = await ResumablePartial.open(join(sub, "x.bin"), opts).catch((e: unknown) => e);
    assert.equal((err as DfgetError).exitCode, 73);
    assert.deepEqual(await readdir(sub), ["x.bin"]);
  });
});

/** What is on disk right now, read synchronously (as after a process exit). */
function recordedPieces(output: string): Array<[number, string]> {
  return (JSON.parse(readFileSync(resumePathsFor(output).record, "utf8")) as { pieces: Array<[number, string]> }).pieces;
}

// Against a process that dies at any moment (a second Ctrl-C): every piece whose bytes were
// written is in the record on disk by the time finished() returns — a signal handler that
// exits right after (releaseSync + exit) loses none — and a piece whose write has not
// returned is never in it.
describe("resume record order", () => {
  const opts = { overwrite: false, resume: true, notice: () => undefined };

  test("finished() then an exit at once (second signal): the piece is in the record", async () => {
    const sub = await mkdtemp(join(dir, "a-"));
    const out = join(sub, "f.bin");
    const partial = await ResumablePartial.open(out, opts);
    await partial.prepare(identity, plan);
    await partial.file.writePiece(0, Buffer.from("abcd"));
    await partial.file.writePiece(4, Buffer.from("efgh"));
    partial.finished(0, "crc32:3984772369");
    partial.finished(1, "crc32:2");
    // What abortOnSignals does on the second signal, with no turn of the event loop between.
    partial.releaseSync();
    assert.deepEqual(recordedPieces(out), [[0, "crc32:3984772369"], [1, "crc32:2"]]);
    assert.deepEqual((await readdir(sub)).sort(), [".f.bin.dfget.json", ".f.bin.dfget.part"], "partial and record kept, lock gone");
    await partial.file.keep();
  });

  test("as the run wires it (ledger → record): a piece whose write has not returned is not recorded", async () => {
    const sub = await mkdtemp(join(dir, "b-"));
    const out = join(sub, "g.bin");
    const partial = await ResumablePartial.open(out, opts);
    await partial.prepare(identity, plan);
    // A writer whose second write is held, as a disk that has not taken the bytes yet.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let writes = 0;
    const writer: PieceWriter = {
      tempPath: partial.file.tempPath,
      writePiece: async (offset, data) => {
        if (++writes === 2) await held;
        await partial.file.writePiece(offset, data);
      },
    };
    const ledger = new PieceLedger(plan, writer);
    ledger.on("finished", (piece) => partial.finished(piece.number, piece.digest));
    await ledger.store({ number: 0, digest: "crc32:3984772369", source: "origin", costMs: 0, createdAt: new Date(0) }, Buffer.from("abcd"));
    const second = ledger.store({ number: 1, digest: "crc32:2", source: "parent", costMs: 0, createdAt: new Date(0) }, Buffer.from("efgh"));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(recordedPieces(out).map(([n]) => n), [0], "piece 1's bytes are not written: not recorded");
    release();
    await second;
    assert.deepEqual(recordedPieces(out).map(([n]) => n), [0, 1]);
    await partial.close(new Error("done with the test"));
  });
});
