import { test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "node:net";
import { Connection } from "../../src/transport/range-reader.js";

// An unconnected socket: spare() and bufferOf() never touch it.
const connection = (): Connection => new Connection(() => new Socket(), 1024);

test("spare(): a spare the sink gave back is reused; a new one only while every spare is held", () => {
  const conn = connection();
  const busy = new Map<Buffer, number>(conn.buffers.map((b) => [b, 1]));
  const first = conn.spare(busy);
  assert.equal(conn.spare(busy), first, "a spare nobody holds is handed out again");
  busy.set(first, 1);
  const second = conn.spare(busy);
  assert.notEqual(second, first);
  busy.delete(first);
  assert.equal(conn.spare(busy), first, "the first spare, given back, is reused rather than a third allocated");
  assert.ok(!conn.buffers.includes(first) && !conn.buffers.includes(second));
});

test("spare(): views of kept spares map back to them; at most 8 are kept", () => {
  const conn = connection();
  const busy = new Map<Buffer, number>(conn.buffers.map((b) => [b, 1]));
  const spares: Buffer[] = [];
  for (let i = 0; i < 10; i++) {
    const spare = conn.spare(busy);
    busy.set(spare, 1);
    spares.push(spare);
  }
  assert.equal(new Set(spares).size, 10, "all held: each call gives a buffer nobody holds");
  for (const spare of spares.slice(0, 8)) assert.equal(conn.bufferOf(spare.subarray(100)), spare);
  for (const spare of spares.slice(8)) assert.equal(conn.bufferOf(spare.subarray(100)), undefined, "past the cap: not kept");
  assert.equal(conn.bufferOf(conn.buffers[1]!.subarray(5)), conn.buffers[1]);
});
