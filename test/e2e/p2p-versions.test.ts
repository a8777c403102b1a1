// End-to-end: the cluster holds another version of the URL than the origin (issue 11 item
// 2, last part). Dragonfly keys tasks by URL and carries no validator, so a seed parent may
// still hold the old object. A run that mixes parent and origin pieces compares at least
// one crc32 and, on a difference, drops the parents' pieces and finishes from the origin
// (exit 0, the origin's bytes); with -O - whatever already went to stdout cannot be taken
// back (exit 18, never wrong bytes with 0). A parents' task of another size is refused
// before any parent byte; with --disable-back-to-source that is exit 18.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../support/wait.js";
import { exists } from "../support/cli-e2e.js";
import { MiB, PIECE_LENGTH, sha256, startRig, type P2PRig } from "./p2p-harness.js";

/** Fixed versions of one URL: a linear congruential byte stream per seed. */
function version(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const NEW = version(22 * MiB + 321, 2); // the origin's: 6 pieces
const OLD = version(22 * MiB + 321, 1); // the cluster's: same size, other bytes
const SHORT_OLD = version(21 * MiB + 7, 1); // the cluster's, another size
const NEW_SHA256 = "fa6506779d8b6a0790ee1d06fdba912073da29a3c97b0af30975727e3b189c23";
const PIECES = 6;

const rigs: P2PRig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

async function rig(): Promise<P2PRig> {
  const r = await startRig({ content: NEW, pieceTimeout: "2s" });
  rigs.push(r);
  return r;
}

const originGets = (r: P2PRig): number => r.cluster.origin!.requests.filter((q) => q.method === "GET").length;

describe("the cluster holds another version", () => {
  test("sanity: the fixed versions", () => {
    assert.equal(sha256(NEW), NEW_SHA256);
    assert.notEqual(sha256(OLD), NEW_SHA256);
    assert.equal(OLD.length, NEW.length);
  });

  test("old parent serves pieces 0-2 then nothing more: one parent piece checked at the origin, all dropped, exit 0 with the origin's bytes", async () => {
    const r = await rig();
    const parent = await r.addParent([0, 1, 2], OLD);
    const run = await r.run();
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(r.work.out)), NEW_SHA256);
    assert.deepEqual([...parent.piecesServed()].sort(), [0, 1, 2], "the parent served its three pieces");
    // Pieces 3-5 carry no parent crc32, so one parent piece (4 MiB) is fetched to compare,
    // then the three parent pieces again: every byte from the origin, plus that one piece.
    assert.equal(r.cluster.origin!.bytesServed(), NEW.length + PIECE_LENGTH);
    const json = run.json!;
    assert.deepEqual(json.pieces, { total: PIECES, fromParents: 0, fromSource: PIECES, reused: 0 });
    assert.equal(json.backToSource, true);
    assert.match(json.cluster.warning ?? "", /another version of this URL: piece [0-2] is crc32:\d+ at the origin but crc32:\d+ at parent/);
    assert.equal(run.stderr.split("\n").filter((l) => l.includes("another version")).length, 1, `one notice line:\n${run.stderr}`);
  });

  test("-q: the same run says nothing on stderr about it, the summary still does", async () => {
    const r = await rig();
    await r.addParent([0, 1, 2], OLD);
    const run = await r.run(["-q"]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stderr.includes("another version"), run.stderr);
    assert.match(run.json!.cluster.warning ?? "", /another version/);
  });

  test("resumed parent pieces are still cross-checked: old parent's pieces 0-1 recorded, kill -9, parent gone, rerun from the origin drops them, exit 0 with the origin's bytes", async () => {
    const r = await rig();
    const parent = await r.addParent([0, 1], OLD);
    const record = join(r.work.dir, ".out.bin.dfget.json");
    const recorded = (): number => {
      try {
        return (JSON.parse(readFileSync(record, "utf8")) as { pieces: unknown[][] }).pieces.filter((p) => p[2] === "parent").length;
      } catch {
        return 0;
      }
    };
    const killed = await r.run([], {
      onSpawn: (child) => void waitFor("two parent pieces in the resume record", () => recorded() >= 2, 30_000).finally(() => child.kill("SIGKILL")),
    });
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    assert.equal(r.cluster.origin!.bytesServed(), 0, "the first run took nothing from the origin");
    await parent.kill();
    const rerun = await r.run();
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal(sha256(await readFile(r.work.out)), NEW_SHA256);
    // Pieces 2-5, then parent piece 0 or 1 to compare, then both again: every byte plus one piece.
    assert.equal(r.cluster.origin!.bytesServed(), NEW.length + PIECE_LENGTH);
    assert.deepEqual(rerun.json!.pieces, { total: PIECES, fromParents: 0, fromSource: PIECES, reused: 0 });
    assert.match(rerun.json!.cluster.warning ?? "", /another version of this URL: piece [01] is crc32:\d+ at the origin/);
  });

  test("old parent dies in the middle of piece 3 (--retry 0): its header's crc32 is compared when the origin sends piece 3, no extra piece", async () => {
    const r = await rig();
    const parent = await r.addParent("all", OLD);
    parent.dieMidPiece(3);
    const run = await r.run(["--retry", "0"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(r.work.out)), NEW_SHA256);
    assert.ok(parent.piecesServed().length >= 1, "the parent served no whole piece: nothing was mixed");
    // Every piece exactly once from the origin: piece 3, then the dropped parent pieces.
    assert.equal(r.cluster.origin!.bytesServed(), NEW.length);
    assert.deepEqual(run.json!.pieces, { total: PIECES, fromParents: 0, fromSource: PIECES, reused: 0 });
    assert.match(run.json!.cluster.warning ?? "", /piece 3 is crc32:\d+ at the origin but crc32:\d+ at parent/);
  });

  test("-O -: parent pieces already on stdout cannot be taken back: exit 18 (or the right bytes), never wrong bytes with 0", async () => {
    const r = await rig();
    await r.addParent([0, 1, 2], OLD);
    const run = await r.run([], { jsonFromStderr: true }, "-");
    if (run.code === 0) {
      assert.equal(sha256(run.stdoutBuffer), NEW_SHA256, "exit 0 with bytes that are not the origin's");
    } else {
      assert.equal(run.code, 18, run.stderr);
      assert.match(run.stderr, /another version of this URL.*already written to stdout/);
      assert.equal(run.json?.exitCode, 18);
      assert.notEqual(sha256(run.stdoutBuffer), NEW_SHA256);
    }
  });

  test("the parents' task is another size: no parent byte, everything from the origin, exit 0", async () => {
    const r = await rig();
    r.order[0]!.knowTask({ id: r.taskId, url: r.url, contentLength: SHORT_OLD.length, pieceLength: PIECE_LENGTH });
    const parent = await r.addParent("all", SHORT_OLD);
    const run = await r.run();
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(r.work.out)), NEW_SHA256);
    assert.equal(parent.bytesServed(), 0, "a parent of another version was asked for bytes");
    assert.equal(r.cluster.origin!.bytesServed(), NEW.length);
    assert.match(run.json!.cluster.warning ?? "", new RegExp(`origin's object is ${NEW.length} bytes but the parents' task .* is ${SHORT_OLD.length} bytes`));
  });

  test("the same with --disable-back-to-source: exit 18, not one origin GET, no file", async () => {
    const r = await rig();
    r.order[0]!.knowTask({ id: r.taskId, url: r.url, contentLength: SHORT_OLD.length, pieceLength: PIECE_LENGTH });
    const parent = await r.addParent("all", SHORT_OLD);
    const run = await r.run(["--disable-back-to-source"]);
    assert.equal(run.code, 18, run.stderr);
    assert.equal(run.json?.exitCode, 18);
    assert.match(run.stderr, /another version of this URL.*back-to-source is disabled/);
    assert.equal(originGets(r), 0, "the origin was asked for bytes");
    assert.equal(parent.bytesServed(), 0);
    assert.equal(await exists(r.work.out), false, "a file was left at -O");
  });
});
