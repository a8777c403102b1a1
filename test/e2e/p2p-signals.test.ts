// SIGINT / SIGTERM in the middle of a P2P download: dfget stops its transfers, leaves
// the scheduler (DeletePeer + DeleteHost) on the signal rather than when the piece timeout
// would end the run, removes its temp file, leaves nothing at -O and exits 130 / 143 —
// with the JSON summary still printed.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { waitFor } from "../support/wait.js";
import { MiB, registrationsAt, startRig, type P2PRig } from "./p2p-harness.js";

const CONTENT = randomBytes(22 * MiB + 5); // 6 pieces
/** The rig's pieceTimeout (20s): the only other way this run could end, so what follows
 *  the signal must come well before it. Slowness alone never gets near it. */
const PIECE_TIMEOUT_MS = 20_000;
const rigs: P2PRig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.stop()));
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  describe(`${signal} mid-download`, () => {
    test(`exit ${code}, the scheduler is left, no file and no temp file`, async () => {
      const r = await startRig({ content: CONTENT, pieceTimeout: "20s" });
      rigs.push(r);
      // The parent has two pieces and never gets more: dfget waits on it, mid-download.
      await r.addParent([0, 1]);
      const scheduler = r.order[0]!;
      let signalledAt = 0;
      const run = await r.run([], {
        onSpawn: (child) => {
          waitFor("two finished pieces", () => scheduler.piecesFinished() >= 2 || child.exitCode !== null).then(
            () => {
              if (child.exitCode !== null) return;
              signalledAt = Date.now();
              child.kill(signal);
            },
            () => child.kill("SIGKILL"),
          );
        },
      });
      assert.ok(signalledAt > 0, "the download reached the parent's pieces");
      assert.equal(run.code, code, run.stderr);
      assert.equal(run.json?.exitCode, code);
      assert.equal(run.json?.ok, false);
      assert.match(run.json?.error ?? "", new RegExp(signal));
      const exitedAfterMs = Date.now() - signalledAt;
      assert.ok(exitedAfterMs < PIECE_TIMEOUT_MS * 0.75, `exited ${exitedAfterMs} ms after the signal: it waited for the piece timeout`);
      assert.equal(existsSync(r.work.out), false, "nothing at -O");
      const leftovers = (await readdir(r.work.dir)).filter((name) => name.includes(".dfget-"));
      assert.deepEqual(leftovers, [], "no temp file left");
      // Left the scheduler: DeletePeer for the registered peer, then DeleteHost, soon after the signal.
      const [peerId] = registrationsAt(scheduler);
      const deletes = scheduler.events.filter((e) => e.rpc === "DeletePeer" || e.rpc === "DeleteHost");
      assert.deepEqual(deletes.map((e) => e.rpc), ["DeletePeer", "DeleteHost"]);
      assert.equal((deletes[0]!.message as { peerId: string }).peerId, peerId);
      for (const e of deletes) {
        const afterMs = e.at - signalledAt;
        assert.ok(afterMs >= 0 && afterMs < PIECE_TIMEOUT_MS * 0.75, `${e.rpc} ${afterMs} ms after the signal`);
      }
    });
  });
}
