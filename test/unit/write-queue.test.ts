import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { WriteQueue, type PositionedWrite, type PositionedWriteV } from "../../src/storage/write-queue.js";
import { DfgetError, ExitCode, WriteError } from "../../src/errors.js";

/** A fake file: every write waits until the test releases it, so order and overlap are visible. */
function fakeFile(opts: { shortBy?: number; failAt?: number; error?: NodeJS.ErrnoException } = {}) {
  const calls: Array<{ position: number; bytes: string }> = [];
  const gates: Array<() => void> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const writeAt: PositionedWrite = async (data, offset, length, position) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise<void>((resolve) => gates.push(resolve));
    inFlight--;
    if (opts.failAt !== undefined && position === opts.failAt) throw opts.error;
    const n = Math.max(1, length - (opts.shortBy ?? 0));
    calls.push({ position, bytes: data.subarray(offset, offset + n).toString() });
    return n;
  };
  const release = async (): Promise<void> => {
    // Let queued microtasks start the next write before releasing it.
    for (let i = 0; i < 5 && gates.length === 0; i++) await Promise.resolve();
    gates.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { writeAt, calls, release, get maxInFlight() { return maxInFlight; }, get pending() { return gates.length; } };
}

describe("WriteQueue", () => {
  test("writes in the order asked, one at a time", async () => {
    const file = fakeFile();
    const queue = new WriteQueue(file.writeAt, "f", 100);
    const done: number[] = [];
    const writes = [[10, "bb"], [0, "aa"], [20, "cc"]] as const;
    const all = writes.map(([pos, text]) => queue.write(pos, Buffer.from(text)).then(() => done.push(pos)));
    for (let i = 0; i < 3; i++) await file.release();
    await Promise.all(all);
    assert.deepEqual(file.calls, [{ position: 10, bytes: "bb" }, { position: 0, bytes: "aa" }, { position: 20, bytes: "cc" }]);
    assert.deepEqual(done, [10, 0, 20]);
    assert.equal(file.maxInFlight, 1);
  });

  test("short writes are continued at the right position", async () => {
    const file = fakeFile({ shortBy: 2 });
    const queue = new WriteQueue(file.writeAt, "f", 100);
    const done = queue.write(100, Buffer.from("abcde"));
    for (let i = 0; i < 3; i++) await file.release();
    await done;
    assert.deepEqual(file.calls, [{ position: 100, bytes: "abc" }, { position: 103, bytes: "d" }, { position: 104, bytes: "e" }]);
  });

  test("accepts no more than maxQueuedBytes; a write larger than the bound goes alone", async () => {
    const file = fakeFile();
    const queue = new WriteQueue(file.writeAt, "f", 10);
    const a = queue.write(0, Buffer.alloc(6, "a"));
    const b = queue.write(6, Buffer.alloc(6, "b"));
    const c = queue.write(12, Buffer.alloc(25, "c"));
    assert.equal(queue.queuedBytes, 6, "b waits: 6 + 6 > 10");
    await file.release();
    await a;
    assert.equal(queue.queuedBytes, 6, "b accepted, c (25 > 10) waits for an empty queue");
    await file.release();
    await b;
    assert.equal(queue.queuedBytes, 25);
    await file.release();
    await c;
    assert.equal(queue.queuedBytes, 0);
    assert.deepEqual(file.calls.map((call) => call.position), [0, 6, 12]);
  });

  test("the first failure rejects that write, those behind it and every later one, as WriteError (23)", async () => {
    const enospc = Object.assign(new Error("no space"), { code: "ENOSPC" });
    const file = fakeFile({ failAt: 4, error: enospc });
    const queue = new WriteQueue(file.writeAt, "/tmp/x.part", 100);
    const first = queue.write(0, Buffer.from("1234"));
    // Settled as soon as they reject, so no rejection is ever unhandled.
    const failing = queue.write(4, Buffer.from("5678")).then(() => undefined, (err: unknown) => err);
    const behind = queue.write(8, Buffer.from("9abc")).then(() => undefined, (err: unknown) => err);
    await file.release();
    await first;
    await file.release();
    const isWriteError = (err: unknown): boolean => {
      assert.ok(err instanceof WriteError);
      assert.ok(err instanceof DfgetError && err.exitCode === ExitCode.write);
      assert.match(err.message, /cannot write \/tmp\/x\.part: ENOSPC/);
      return true;
    };
    assert.ok(isWriteError(await failing));
    assert.ok(isWriteError(await behind));
    await assert.rejects(queue.write(12, Buffer.from("z")), isWriteError);
    assert.equal(file.pending, 0, "nothing written after the failure");
    await queue.drained();
  });

  test("drained() waits for the write in flight", async () => {
    const file = fakeFile();
    const queue = new WriteQueue(file.writeAt, "f", 100);
    void queue.write(0, Buffer.from("x"));
    let drained = false;
    const waiting = queue.drained().then(() => (drained = true));
    await Promise.resolve();
    assert.equal(drained, false);
    await file.release();
    await waiting;
    assert.equal(drained, true);
  });

  describe("gathering into writev", () => {
    /** writev through the same gate as write; `shortBy` shortens the first writev only. */
    function gathered(shortBy = 0) {
      const file = fakeFile();
      const vcalls: Array<{ position: number; parts: string[] }> = [];
      let shorten = shortBy;
      const writeVAt: PositionedWriteV = async (buffers, position) => {
        const total = buffers.reduce((sum, b) => sum + b.length, 0);
        // Through the fake's gate, so a writev is one write in flight like any other.
        await file.writeAt(Buffer.alloc(0), 0, 0, -1).catch(() => 0);
        file.calls.pop();
        vcalls.push({ position, parts: buffers.map((b) => b.toString()) });
        const n = total - shorten;
        shorten = 0;
        return n;
      };
      return { file, vcalls, writeVAt };
    }

    test("writes that continue the one starting are gathered, in file order, wherever they sit in the queue", async () => {
      const { file, vcalls, writeVAt } = gathered();
      const queue = new WriteQueue(file.writeAt, "f", 100, writeVAt);
      const done: number[] = [];
      // 0 goes alone (nothing queued behind it yet); then 2, 9, 4, 6 are queued while it is in flight.
      const all = [[0, "aa"], [2, "bb"], [9, "zz"], [4, "cc"], [6, "dd"]].map(([pos, text]) =>
        queue.write(Number(pos), Buffer.from(String(text))).then(() => done.push(Number(pos))));
      for (let i = 0; i < 3; i++) await file.release();
      await Promise.all(all);
      assert.deepEqual(file.calls, [{ position: 0, bytes: "aa" }, { position: 9, bytes: "zz" }]);
      assert.deepEqual(vcalls, [{ position: 2, parts: ["bb", "cc", "dd"] }]);
      assert.deepEqual(done.sort((a, b) => a - b), [0, 2, 4, 6, 9]);
      assert.equal(file.maxInFlight, 1);
      assert.equal(queue.queuedBytes, 0);
    });

    test("a newer write is never gathered ahead of an older one to the same bytes", async () => {
      const { file, writeVAt } = gathered();
      // Every write and writev in the order they reach the file (one gate for both).
      const log: Array<{ position: number; bytes: string }> = [];
      const writeAt: PositionedWrite = async (data, offset, length, position) => {
        const n = await file.writeAt(data, offset, length, position);
        log.push({ position, bytes: data.subarray(offset, offset + n).toString() });
        return n;
      };
      const writeV: PositionedWriteV = async (buffers, position) => {
        const n = await writeVAt(buffers, position);
        log.push({ position, bytes: Buffer.concat(buffers).toString() });
        return n;
      };
      const queue = new WriteQueue(writeAt, "f", 100, writeV);
      // In flight: "Z" at 10 (another piece). Queued: "A" at 0, an older try's "xxx" at 2,
      // then a newer try's "bb" at 1 and "NNN" at 3. Gathering A+bb+NNN would let "xxx" land last.
      const all = [[10, "Z"], [0, "A"], [2, "xxx"], [1, "bb"], [3, "NNN"]].map(([pos, text]) => queue.write(Number(pos), Buffer.from(String(text))));
      for (let i = 0; i < 5; i++) await file.release();
      await Promise.all(all);
      const image = Buffer.alloc(11, ".");
      for (const step of log) image.write(step.bytes, step.position);
      assert.equal(image.toString(), "AbbNNN....Z", `writes in order: ${JSON.stringify(log)}`);
    });

    test("a short writev is finished buffer by buffer from where it stopped", async () => {
      const { file, vcalls, writeVAt } = gathered(3);
      const queue = new WriteQueue(file.writeAt, "f", 100, writeVAt);
      const all = [[0, "aa"], [2, "bbb"], [5, "ccc"]].map(([pos, text]) => queue.write(Number(pos), Buffer.from(String(text))));
      for (let i = 0; i < 3; i++) await file.release();
      await Promise.all(all);
      // writev of "bbb"+"ccc" at 2 wrote 3 bytes: "ccc" follows alone at 5.
      assert.deepEqual(vcalls, [{ position: 2, parts: ["bbb", "ccc"] }]);
      assert.deepEqual(file.calls, [{ position: 0, bytes: "aa" }, { position: 5, bytes: "ccc" }]);
    });
  });
});
