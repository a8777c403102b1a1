// The resume record against a process that dies at any moment (issue 11 item 5, a second
// Ctrl-C): every piece whose bytes were written is in the record on disk by the time
// finished() returns — a signal handler that exits right after (releaseSync + exit) loses
// none — and a piece whose write has not returned is never in it.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PieceLedger, type PieceWriter } from "../../src/engine/piece-ledger.js";
import { ResumablePartial } from "../../src/storage/resumable.js";
import { resumePathsFor, urlFingerprint } from "../../src/storage/resume.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dfget-record-order-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const identity = {
  url: "http://o/f",
  urlSha256: urlFingerprint("http://o/f"),
  taskId: "t1",
  pieceLength: 4,
  contentLength: 10,
  validator: { etag: '"v1"' },
};
const plan = [
  { number: 0, offset: 0, length: 4 },
  { number: 1, offset: 4, length: 4 },
  { number: 2, offset: 8, length: 2 },
];
const opts = { overwrite: false, resume: true, notice: () => undefined };

/** What is on disk right now, read synchronously (as after a process exit). */
function recordedPieces(output: string): Array<[number, string]> {
  return (JSON.parse(readFileSync(resumePathsFor(output).record, "utf8")) as { pieces: Array<[number, string]> }).pieces;
}

describe("resume record order", () => {
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
