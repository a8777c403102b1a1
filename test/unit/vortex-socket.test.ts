import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { ReusedBufferSource, RECEIVE_BUFFER_BYTES } from "../../src/transport/vortex-socket.js";
import { deferred } from "../support/wait.js";

/** Fixed bytes that never repeat at buffer-sized strides: xorshift32 from seed 1. */
function streamBytes(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function listen(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on("error", () => {}); // a client that destroys its end may reset ours
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Several turns of the event loop: time for any read the socket would still do. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("ReusedBufferSource", () => {
  test("yields the whole stream in order, then done", async () => {
    const sent = streamBytes(3 * RECEIVE_BUFFER_BYTES + 12_345);
    const { server, port } = await listen((socket) => socket.end(sent));
    const source = new ReusedBufferSource({ host: "127.0.0.1", port });
    try {
      const parts: Buffer[] = [];
      for (let r = await source.next(); !r.done; r = await source.next()) {
        assert.ok(r.value.length <= RECEIVE_BUFFER_BYTES);
        parts.push(Buffer.from(r.value));
      }
      assert.deepEqual(Buffer.concat(parts), sent);
      assert.deepEqual(await source.next(), { value: undefined, done: true });
    } finally {
      source.close();
      await closeServer(server);
    }
  });

  test("a chunk is not overwritten while held, though more bytes are waiting", async () => {
    const sent = streamBytes(4 * RECEIVE_BUFFER_BYTES);
    const written = deferred<void>();
    const { server, port } = await listen((socket) => socket.end(sent, () => written.resolve()));
    const source = new ReusedBufferSource({ host: "127.0.0.1", port });
    try {
      const first = await source.next();
      assert.equal(first.done, false);
      const held = first.value as Buffer;
      const copy = Buffer.from(held);
      await written.promise;
      await turns(20);
      assert.deepEqual(held, copy, "the held chunk changed under the reader");
      assert.deepEqual(copy, sent.subarray(0, copy.length));
    } finally {
      source.close();
      await closeServer(server);
    }
  });

  test("a read into the buffer while the reader holds it fails the transfer", async () => {
    const sent = streamBytes(4 * RECEIVE_BUFFER_BYTES);
    const { server, port } = await listen((socket) => socket.end(sent));
    const source = new ReusedBufferSource({ host: "127.0.0.1", port });
    try {
      const first = await source.next();
      assert.equal(first.done, false);
      // What Node's TLS sockets do on their own: read on after the pause.
      const readBefore = source.socket.bytesRead;
      source.socket.resume();
      for (let i = 0; i < 1000 && !source.socket.destroyed && source.socket.bytesRead === readBefore; i++) await turns(1);
      assert.ok(source.socket.bytesRead > readBefore, "the socket did not read on");
      await assert.rejects(source.next(), /still in use/);
    } finally {
      source.close();
      await closeServer(server);
    }
  });

  test("destroy(err) rejects the pending read with that error", async () => {
    const { server, port } = await listen(() => {});
    const source = new ReusedBufferSource({ host: "127.0.0.1", port });
    try {
      await new Promise((resolve) => source.socket.once("connect", resolve));
      const pending = source.next();
      const boom = new Error("deadline");
      source.socket.destroy(boom);
      await assert.rejects(pending, (err) => err === boom);
    } finally {
      source.close();
      await closeServer(server);
    }
  });

  test("a refused connection rejects the read with ECONNREFUSED", async () => {
    const { server, port } = await listen(() => {});
    await closeServer(server);
    const source = new ReusedBufferSource({ host: "127.0.0.1", port });
    try {
      await assert.rejects(source.next(), { code: "ECONNREFUSED" });
    } finally {
      source.close();
    }
  });

  test("close() hands the receive buffer to the next connection", async () => {
    const { server, port } = await listen((socket) => socket.end(Buffer.from("abc")));
    try {
      const first = new ReusedBufferSource({ host: "127.0.0.1", port });
      const a = await first.next();
      first.close();
      const second = new ReusedBufferSource({ host: "127.0.0.1", port });
      const b = await second.next();
      second.close();
      assert.equal((a.value as Buffer).buffer, (b.value as Buffer).buffer);
      assert.equal(Buffer.from(b.value as Buffer).toString(), "abc");
    } finally {
      await closeServer(server);
    }
  });
});
