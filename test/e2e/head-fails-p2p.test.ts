// The origin's HEAD fails while the cluster holds the task (issue 11 follow-up): a
// transient failure (503 always here) does not end a run that has a scheduler. The size
// comes from the scheduler (StatTask), the pieces from the parent, and the origin sees no
// GET. When the cluster cannot stand in, the run ends with the HEAD's own code (22); a
// 404 ends it at once, without asking the cluster.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { requestsFor } from "../support/cli-e2e.js";
import type { OriginFault } from "../support/origin.js";
import { readFile } from "node:fs/promises";
import { MiB, PIECE_LENGTH, assertDownloaded, sha256, startRig, type P2PRig } from "./p2p-harness.js";

const PATH = "/p2p.bin";
const rigs: P2PRig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

interface Setup {
  content: Buffer;
  fault: OriginFault;
  /** The scheduler knows the task (an earlier peer registered it with its size). */
  known: boolean;
  parent: boolean;
}

async function rigFor(setup: Setup): Promise<P2PRig> {
  const r = await startRig({ content: setup.content });
  rigs.push(r);
  r.cluster.origin!.setFault(PATH, setup.fault);
  if (setup.known) {
    for (const s of r.cluster.schedulers) s.knowTask({ id: r.taskId, url: r.url, contentLength: setup.content.length, pieceLength: PIECE_LENGTH });
  }
  if (setup.parent) await r.addParent("all");
  return r;
}

function originGets(r: P2PRig): number {
  return requestsFor(r.cluster.origin!, PATH).filter((q) => q.method === "GET").length;
}

const HEAD_503: OriginFault = { kind: "head-status", status: 503 };
const ALL_503: OriginFault = { kind: "status", status: 503 };

describe("HEAD fails, the cluster has the task", () => {
  for (const [name, fault] of [["HEAD 503, GET fine", HEAD_503], ["HEAD and GET 503", ALL_503]] as const) {
    test(`${name}, a full seed parent: exit 0, size from the scheduler, no GET at the origin, one notice`, async () => {
      const r = await rigFor({ content: randomBytes(10 * MiB + 3), fault, known: true, parent: true });
      const run = await r.run();
      await assertDownloaded(r, run);
      assert.equal(run.json?.backToSource, false);
      assert.equal(run.json?.pieces.fromParents, r.pieceCount);
      assert.equal(originGets(r), 0, "no GET reached the origin");
      assert.equal(run.stderr.match(/cannot be resumed/g)?.length, 1, run.stderr);
      assert.match(run.stderr, /HEAD failed \(.*503.*\).*10485763 bytes/);
    });
  }

  test("a small file (≤ 4 MiB) goes through the cluster too when the HEAD failed", async () => {
    const r = await rigFor({ content: randomBytes(3 * MiB), fault: ALL_503, known: true, parent: true });
    const run = await r.run();
    await assertDownloaded(r, run);
    assert.equal(run.json?.pieces.fromParents, 1);
    assert.equal(originGets(r), 0);
  });
});

describe("HEAD fails, the parent has part of the task, the origin ignores Range", () => {
  test("the rest comes in one streamed GET: exit 0, the origin's bytes", async () => {
    const content = randomBytes(10 * MiB + 3); // 3 pieces
    const r = await rigFor({ content, fault: { kind: "head-status", status: 503, ignoreRange: true }, known: true, parent: false });
    await r.addParent([0]);
    const run = await r.run();
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(r.work.out)), sha256(content));
    assert.match(run.stderr, /ignores Range requests/);
    assert.equal(run.json?.backToSource, true);
    const gets = requestsFor(r.cluster.origin!, PATH).filter((q) => q.method === "GET");
    assert.equal(gets.filter((q) => q.headers.range === undefined).length, 1, "one streamed GET");
    assert.equal(gets.at(-1)!.headers.range, undefined, "after the ranged GETs that got 200");
  });
});

describe("HEAD fails, the cluster cannot stand in", () => {
  test("the task is known but no parent, and the origin's GETs fail too: exit 22", async () => {
    const r = await rigFor({ content: randomBytes(10 * MiB), fault: ALL_503, known: true, parent: false });
    const run = await r.run(["--retry", "1"]);
    assert.equal(run.code, 22, run.stderr);
    assert.equal(run.json?.exitCode, 22);
    assert.ok(originGets(r) > 0, "the scheduler sent it back to the origin");
  });

  test("the scheduler does not know the task: exit 22 without registering or a GET", async () => {
    const r = await rigFor({ content: randomBytes(10 * MiB), fault: HEAD_503, known: false, parent: true });
    const run = await r.run();
    assert.equal(run.code, 22, run.stderr);
    assert.match(run.stderr, /does not know the task/);
    const scheduler = r.order[0]!;
    assert.equal(scheduler.calls("StatTask").length, 1);
    assert.equal(scheduler.registrations().length, 0, "never registered without a size");
    assert.equal(originGets(r), 0);
  });

  test("HEAD 404: exit 22 at once, the cluster is not asked", async () => {
    const r = await rigFor({ content: randomBytes(10 * MiB), fault: { kind: "head-status", status: 404 }, known: true, parent: true });
    const run = await r.run();
    assert.equal(run.code, 22, run.stderr);
    const scheduler = r.order[0]!;
    assert.equal(scheduler.calls("StatTask").length, 0);
    assert.equal(scheduler.registrations().length, 0);
    assert.equal(originGets(r), 0);
  });
});
