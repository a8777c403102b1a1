// End-to-end: the origin's HEAD advertised ranges, parents served the first pieces, and
// then the origin answers 200 (same version, or none) to the first ranged GET: no ranges
// after all, so the rest comes in one streamed GET (issue 11 item 4). With -O - the pieces
// that already went to stdout must not go there twice.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { MiB, sha256, startRig, type P2PRig } from "./p2p-harness.js";

/** A fixed byte stream: a linear congruential generator. */
function content(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = 7;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const FILE = content(22 * MiB + 321); // 6 pieces of 4 MiB
const FILE_SHA256 = "5a10bbfbba1a7c58aeec89c1fe3527c4370b6520bcd3cd8279cda119973a2fdc";

const rigs: P2PRig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

describe("the origin ignores Range once parents served the first pieces", () => {
  test("sanity: the fixed content", () => {
    assert.equal(sha256(FILE), FILE_SHA256);
  });

  test("-O -, the parents held another version of the same size: exit 18, never two versions on stdout with 0", async () => {
    const r = await startRig({ content: FILE, pieceTimeout: "2s" });
    rigs.push(r);
    const old = Buffer.from(FILE);
    old[5] = old[5]! ^ 0xff; // piece 0 differs in one byte
    await r.addParent([0, 1, 2], old);
    r.cluster.origin!.setFault("/p2p.bin", { kind: "ignore-range" });
    const run = await r.run([], { jsonFromStderr: true }, "-");
    if (run.code === 0) {
      // Only if no parent piece reached stdout before the origin was asked.
      assert.equal(sha256(run.stdoutBuffer), FILE_SHA256, "exit 0 with bytes that are not the origin's");
    } else {
      assert.equal(run.code, 18, run.stderr);
      assert.match(run.stderr, /differ from the parents' bytes already written to stdout/);
      assert.equal(run.json?.exitCode, 18);
    }
  });

  for (const output of ["file", "-"] as const) {
    test(`-O ${output}: exit 0 with the file's bytes exactly once`, async () => {
      const r = await startRig({ content: FILE, pieceTimeout: "2s" });
      rigs.push(r);
      await r.addParent([0, 1, 2]);
      r.cluster.origin!.setFault("/p2p.bin", { kind: "ignore-range" });
      const run = output === "-" ? await r.run([], { jsonFromStderr: true }, "-") : await r.run();
      assert.equal(run.code, 0, run.stderr);
      const bytes = output === "-" ? run.stdoutBuffer : await readFile(r.work.out);
      assert.equal(bytes.length, FILE.length);
      assert.equal(sha256(bytes), FILE_SHA256);
    });
  }
});
