// `-O -`: pieces reach the reader in order, read back from the temp file, and progress
// counts what the reader has taken — not what reached the temp file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { PieceLedger } from "../../src/engine/piece-ledger.js";
import { StdoutPump } from "../../src/engine/stdout-pump.js";

const PLAN = [0, 1, 2].map((n) => ({ number: n, offset: n * 4, length: n === 2 ? 2 : 4 }));
const BYTES = "abcdefghij";

const finished = (n: number) => ({ number: n, digest: "crc32:1", source: "origin" as const, costMs: 1, createdAt: new Date(0) });

test("pieces go out in order once the prefix is complete; delivered counts the reader's bytes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dfget-pump-"));
  try {
    const tempPath = join(dir, "part");
    await writeFile(tempPath, BYTES);
    const ledger = new PieceLedger(PLAN, { tempPath, writePiece: async () => undefined });
    const out = new PassThrough();
    let text = "";
    out.on("data", (b: Buffer) => (text += b.toString()));
    const seen: number[] = [];
    const pump = new StdoutPump(ledger, out, tempPath, () => seen.push(pump.delivered));
    ledger.markFinished(finished(1));
    assert.equal(pump.delivered, 0, "piece 1 waits for piece 0");
    ledger.markFinished(finished(0));
    ledger.markFinished(finished(2));
    await pump.finish();
    assert.equal(text, BYTES);
    assert.equal(pump.delivered, BYTES.length);
    assert.deepEqual(seen, [4, 8, 10], "one progress call per chunk handed to the reader");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
