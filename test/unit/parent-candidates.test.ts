// Parent candidates we cannot dial (scheduler answers and SyncPieces answers with an empty
// IP, or a port outside 1..65535): skipped with one debug line, never dialled. Before, an
// empty IP made us dial localhost (":9000" to gRPC, "" to net.connect) and a bad port made
// net.connect throw after the receive buffer was taken from the pool.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createServer } from "node:net";
import { ParentFetcher } from "../../src/engine/parents.js";
import type { ParentClients, VortexTransport } from "../../src/engine/parts.js";
import { PieceLedger } from "../../src/engine/piece-ledger.js";
import type { Peer } from "../../src/gen/common/v2/common.js";
import type { SyncPiecesResponse } from "../../src/gen/dfdaemon/v2/dfdaemon.js";
import { fetchPiece, VortexConnectionError, type FetchPieceOptions, type FetchedPiece } from "../../src/transport/vortex-client.js";
import { RetryPolicy } from "../../src/transport/retry-policy.js";
import type { PieceMetadata } from "../../src/transport/vortex-codec.js";
import { fakeTimer, settle } from "../support/fake-timer.js";

const LENGTH = 16;
const GOOD = "crc32:7";

class FakeSyncCall extends EventEmitter {
  cancel(): void {}
}

function peer(id: string, ip: string, port: number): Peer {
  return { id, host: { id: `${id}-host`, ip, port } } as unknown as Peer;
}

/** One piece; `peers` as the scheduler gave them; what was opened, dialled and said. */
function rig(peers: Peer[]) {
  const timer = fakeTimer();
  const ledger = new PieceLedger([{ number: 0, offset: 0, length: LENGTH }], { tempPath: "/nonexistent", writePiece: async () => undefined }, new RetryPolicy({ retries: 2, random: () => 0.5 }));
  const opened: string[] = [];
  const syncs = new Map<string, FakeSyncCall>();
  const dialled: string[] = [];
  const debug: string[] = [];
  const clients: ParentClients = {
    open: (addr) => {
      opened.push(addr);
      const call = new FakeSyncCall();
      syncs.set(addr, call);
      return { syncPieces: () => call, close: () => undefined } as unknown as ReturnType<ParentClients["open"]>;
    },
  };
  const vortex = (async (opts: FetchPieceOptions): Promise<FetchedPiece> => {
    dialled.push(`${opts.host}:${opts.port}`);
    const metadata = { number: opts.pieceNumber, offset: 0, length: LENGTH, digest: GOOD } as PieceMetadata;
    return { metadata, data: Buffer.alloc(0), digest: GOOD };
  }) as VortexTransport;
  const fetcher = new ParentFetcher({
    parents: peers, ledger, vortex, clients, timer,
    deadline: Date.now() + 3_600_000, taskId: "task", hostId: "host", concurrency: 4,
    pieceTimeoutMs: 1000, lowSpeedLimit: 1024, stallTimeoutMs: 3_600_000,
    report: { finished: () => undefined, failed: () => undefined, debug: (m) => debug.push(m) },
  });
  const result = fetcher.run();
  return { opened, syncs, dialled, debug, result, fetcher };
}

const answer = (ip: string, tcpPort: number | undefined): SyncPiecesResponse => ({ number: 0, offset: 0n, length: BigInt(LENGTH), ip, tcpPort });

describe("parent candidates without a usable address", () => {
  test("from the scheduler: an empty IP, port 0, 65536 or -1 — never opened nor dialled, one debug line each; the good one serves", async () => {
    const r = rig([peer("empty-ip", "", 9000), peer("port-0", "10.0.0.2", 0), peer("good", "10.0.0.1", 9001), peer("port-65536", "10.0.0.3", 65536), peer("port-neg", "10.0.0.4", -1)]);
    assert.deepEqual(r.opened, ["10.0.0.1:9001"]);
    assert.deepEqual(r.debug, [
      'parent empty-ip: empty IP ("", port 9000); skipped',
      'parent port-0: port 0 outside 1..65535 ("10.0.0.2", port 0); skipped',
      'parent port-65536: port 65536 outside 1..65535 ("10.0.0.3", port 65536); skipped',
      'parent port-neg: port -1 outside 1..65535 ("10.0.0.4", port -1); skipped',
    ]);
    r.syncs.get("10.0.0.1:9001")!.emit("data", answer("10.0.0.1", 4005));
    assert.equal(await r.result, "complete");
    assert.deepEqual(r.dialled, ["10.0.0.1:4005"]);
  });

  test("only unusable candidates: none dialled, the fetcher gives up at once (exhausted)", async () => {
    const r = rig([peer("empty-ip", "", 9000), peer("port-70000", "10.0.0.2", 70000)]);
    let outcome: string | undefined;
    void r.result.then((x) => (outcome = x));
    await settle();
    assert.equal(outcome, "exhausted", "settled without waiting for anything");
    assert.deepEqual(r.opened, []);
    assert.deepEqual(r.dialled, []);
    assert.equal(r.debug.length, 2);
  });

  test("from SyncPieces: a bad tcp port, or no IP from an answer nor the host, is ignored with one debug line per parent; an empty answer IP falls back to the host's", async () => {
    const r = rig([peer("bad-answers", "10.0.0.1", 9001), peer("falls-back", "10.0.0.2", 9002)]);
    const bad = r.syncs.get("10.0.0.1:9001")!;
    bad.emit("data", answer("10.0.0.1", 0));
    bad.emit("data", answer("10.0.0.1", 65536));
    bad.emit("data", answer("10.0.0.1", -5));
    await settle();
    assert.deepEqual(r.dialled, [], "an answer with a bad port is never dialled");
    assert.deepEqual(r.debug, ['parent bad-answers: piece 0 at "10.0.0.1" port 0: port 0 outside 1..65535; answers like it ignored']);
    // No IP in the answer: the parent's host IP, its tcp port (what a Rust child dials).
    r.syncs.get("10.0.0.2:9002")!.emit("data", answer("", 4005));
    assert.equal(await r.result, "complete");
    assert.deepEqual(r.dialled, ["10.0.0.2:4005"]);
  });
});

describe("fetchPiece refuses an address it cannot dial", () => {
  test("an empty host is not localhost: nothing connects to a server listening there", async () => {
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const err = await fetchPiece({ host: "", port, taskId: "a".repeat(64), pieceNumber: 0, timeoutMs: 3000, maxLength: 64 }).catch((e: unknown) => e);
      assert.ok(err instanceof VortexConnectionError, String(err));
      assert.equal(err.code, "ERR_VORTEX_ADDRESS");
      assert.match(err.message, /empty IP$/);
      assert.equal(connections, 0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  for (const port of [0, 65536, -1]) {
    test(`port ${port}: a typed connection error, not a RangeError from net.connect`, async () => {
      const err = await fetchPiece({ host: "127.0.0.1", port, taskId: "a".repeat(64), pieceNumber: 0, timeoutMs: 3000, maxLength: 64 }).catch((e: unknown) => e);
      assert.ok(err instanceof VortexConnectionError, String(err));
      assert.equal(err.code, "ERR_VORTEX_ADDRESS");
      assert.equal(err.message, `vortex 127.0.0.1:${port} piece 0: port ${port} outside 1..65535`);
    });
  }
});
