// taskSizeFromCluster: which StatTask answers are trusted as the task's size when the
// origin's HEAD failed. Fake scheduler clients answer per address; no network.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { Task } from "../../src/gen/common/v2/common.js";
import type { SchedulerClient } from "../../src/gen/scheduler/v2/scheduler.js";
import { taskSizeFromCluster } from "../../src/engine/cluster-task-size.js";

const TASK_ID = "a".repeat(64);
const MiB = 1024 * 1024;
const FOUR_MIB = (): number => 4 * MiB;

type Answer = { task: Partial<Task> } | { code: grpc.status };

function partsWith(answers: Record<string, Answer>) {
  const asked: string[] = [];
  const dropped: string[] = [];
  const open = (addr: string): SchedulerClient => {
    const statTask = (_req: unknown, _md: unknown, _opts: unknown, cb: (err: grpc.ServiceError | null, task?: Task) => void): void => {
      asked.push(addr);
      const answer = answers[addr]!;
      if ("code" in answer) cb(Object.assign(new Error("fail"), { code: answer.code, details: "x", metadata: new grpc.Metadata() }));
      else cb(null, Task.fromPartial(answer.task));
    };
    return { statTask } as unknown as SchedulerClient;
  };
  const parts = {
    schedulers: {
      resolve: async () => ({ source: "static" as const, addrs: Object.keys(answers), resolved: {}, unresolved: [] }),
      refresh: async () => ({ source: "static" as const, addrs: Object.keys(answers), resolved: {}, unresolved: [] }),
    },
    clients: { open, drop: (addr: string) => void dropped.push(addr) },
    host: { identity: { hostId: "127.0.0.1-me" } },
    clock: { now: () => 0 },
    deadline: 60_000,
    config: { scheduler: { connectTimeoutMs: 2000 } },
  } as unknown as Parameters<typeof taskSizeFromCluster>[0];
  return { parts, asked, dropped };
}

const signal = new AbortController().signal;

describe("taskSizeFromCluster", () => {
  test("a known size whose piece count agrees is the task's size", async () => {
    const { parts } = partsWith({ "127.0.0.1:8002": { task: { contentLength: BigInt(10 * MiB + 3), pieceCount: 3 } } });
    assert.deepEqual(await taskSizeFromCluster(parts, TASK_ID, FOUR_MIB, signal), { size: 10 * MiB + 3, addr: "127.0.0.1:8002" });
  });

  test("0 bytes, unknown (2^64-1) and a piece count that disagrees are not trusted", async () => {
    for (const [task, why] of [
      [{ contentLength: 0n }, /content length 0/],
      [{ contentLength: 2n ** 64n - 1n }, /unknown/],
      [{ contentLength: BigInt(10 * MiB), pieceCount: 2 }, /2 pieces for 10485760 bytes, not 3/],
    ] as const) {
      const { parts } = partsWith({ "127.0.0.1:8002": { task } });
      const answer = await taskSizeFromCluster(parts, TASK_ID, FOUR_MIB, signal);
      assert.ok("why" in answer);
      assert.match(answer.why, why);
    }
  });

  test("NOT_FOUND decides; UNAVAILABLE moves on to the next on the ring (and drops its channel)", async () => {
    const down = partsWith({ "127.0.0.1:8002": { code: grpc.status.UNAVAILABLE }, "127.0.0.2:8002": { code: grpc.status.UNAVAILABLE } });
    const none = await taskSizeFromCluster(down.parts, TASK_ID, FOUR_MIB, signal);
    assert.ok("why" in none && /no scheduler answered StatTask/.test(none.why));
    assert.equal(down.asked.length, 2);
    assert.deepEqual(down.dropped.sort(), ["127.0.0.1:8002", "127.0.0.2:8002"]);

    const unknown = partsWith({ "127.0.0.1:8002": { code: grpc.status.NOT_FOUND }, "127.0.0.2:8002": { code: grpc.status.NOT_FOUND } });
    const answer = await taskSizeFromCluster(unknown.parts, TASK_ID, FOUR_MIB, signal);
    assert.ok("why" in answer && /does not know the task/.test(answer.why));
    assert.equal(unknown.asked.length, 1, "the ring's first answer decides");
  });
});
