// The lean range reader against a scripted socket server on 127.0.0.1: each connection
// reads request heads and answers them with exactly the bytes, splits and closes the
// test asks for, so chunk boundaries, short and over-long bodies, keep-alive reuse and
// stale connections are all produced on purpose.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { RangeReader, type LeanRangeRequest } from "../../src/transport/range-reader.js";
import { HttpHeadError } from "../../src/transport/http-head.js";
import { OriginHttpError, OriginUnreachableError, PartialTransferError, TimeoutError } from "../../src/errors.js";
import { hasOpenssl, makeTlsFixture } from "../support/mini-servers.js";

/** What the server does for one request: a list of writes (each its own write call), then maybe close. */
interface Answer {
  parts: Buffer[];
  close?: boolean;
  /** Close the connection once this answer is sent and the client is idle (a server-side keep-alive timeout). */
  closeAfter?: boolean;
  /** Never answer. */
  silent?: boolean;
}

/** 2 MiB from a fixed LCG: no short period, so bytes from another position never pass for the right ones. */
const FILE = ((): Buffer => {
  const out = Buffer.alloc(2 * 1024 * 1024);
  let x = 12345;
  for (let i = 0; i < out.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 23;
  }
  return out;
})();

function head206(offset: number, length: number, extra = "", contentLength = length): string {
  return `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${offset}-${offset + length - 1}/${FILE.length}\r\nContent-Length: ${contentLength}\r\n${extra}\r\n`;
}

interface Scripted {
  server: Server;
  port: number;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

async function scriptedServer(answer: (request: string, index: number) => Answer, tls?: { key: Buffer; cert: Buffer }): Promise<Scripted> {
  const state = { connections: 0, requests: [] as string[] };
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket): void => {
    state.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let pending = "";
    socket.on("data", async (data: Buffer) => {
      pending += data.toString("latin1");
      while (pending.includes("\r\n\r\n")) {
        const end = pending.indexOf("\r\n\r\n") + 4;
        const request = pending.slice(0, end);
        pending = pending.slice(end);
        const index = state.requests.push(request) - 1;
        const a = answer(request, index);
        if (a.silent) return;
        for (const part of a.parts) {
          // Separate writes, each flushed before the next: the client sees the split points
          // (or coarser ones, never finer), which is what the reader must cope with.
          await new Promise<void>((resolve) => socket.write(part, () => resolve()));
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (a.close) socket.end();
        if (a.closeAfter) setImmediate(() => socket.destroy());
      }
    });
  };
  const server = tls ? createTlsServer(tls, onConnection) : createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    get connections() {
      return state.connections;
    },
    requests: state.requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Honest 206 answers for `bytes=a-b`, split into `pieces` writes. */
function honest(split = 1): (request: string) => Answer {
  return (request) => {
    const m = /range: bytes=(\d+)-(\d+)/i.exec(request)!;
    const offset = Number(m[1]);
    const length = Number(m[2]) - offset + 1;
    const bytes = Buffer.concat([Buffer.from(head206(offset, length), "latin1"), FILE.subarray(offset, offset + length)]);
    const step = Math.ceil(bytes.length / split);
    const parts: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += step) parts.push(bytes.subarray(at, at + step));
    return { parts };
  };
}

function request(port: number, offset: number, length: number, over: Partial<LeanRangeRequest> = {}, scheme = "http") {
  const got = Buffer.alloc(length);
  let bytes = 0;
  const req: LeanRangeRequest = {
    url: new URL(`${scheme}://127.0.0.1:${port}/file.bin`),
    offset,
    length,
    headers: ["range", `bytes=${offset}-${offset + length - 1}`, "user-agent", "dfget-test"],
    where: `range ${offset}-${offset + length - 1}`,
    check: (status) => {
      if (status >= 400) throw new OriginHttpError(status, `origin answered ${status}`);
      return status === 206;
    },
    sink: (chunk, position) => {
      chunk.copy(got, position - offset);
      bytes += chunk.length;
    },
    ...over,
  };
  return { req, got, received: () => bytes };
}

const reader = (extra: Partial<ConstructorParameters<typeof RangeReader>[0]> = {}): RangeReader =>
  new RangeReader({ connectTimeoutMs: 2000, readTimeoutMs: 2000, ...extra });

describe("RangeReader", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const use = async (s: Promise<Scripted>): Promise<Scripted> => {
    const server = await s;
    cleanups.push(() => server.close());
    return server;
  };

  test("head and body split across many writes, tiny buffers: exact bytes at their positions", async () => {
    const server = await use(scriptedServer(honest(37)));
    const r = reader({ bufferBytes: 1000 });
    const { req, got, received } = request(server.port, 12_345, 100_000);
    assert.deepEqual(await r.read(req), { kind: "done" });
    assert.equal(received(), 100_000);
    assert.ok(got.equals(FILE.subarray(12_345, 112_345)));
    assert.match(server.requests[0]!, /^GET \/file\.bin HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\nrange: bytes=12345-112344\r\nuser-agent: dfget-test\r\nconnection: keep-alive\r\n\r\n$/);
    r.close();
  });

  test("a head that arrives byte by byte is parsed; the body after it is kept", async () => {
    const server = await use(scriptedServer((req) => {
      const { parts } = honest(1)(req);
      const all = parts[0]!;
      const headEnd = all.indexOf("\r\n\r\n") + 4;
      const bytes: Buffer[] = [];
      for (let i = 0; i < headEnd + 3; i++) bytes.push(all.subarray(i, i + 1));
      bytes.push(all.subarray(headEnd + 3));
      return { parts: bytes };
    }));
    const r = reader();
    const { req, got } = request(server.port, 5, 50);
    assert.deepEqual(await r.read(req), { kind: "done" });
    assert.ok(got.equals(FILE.subarray(5, 55)));
    r.close();
  });

  test("keep-alive: the next range reuses the connection", async () => {
    const server = await use(scriptedServer(honest(3)));
    const r = reader();
    for (const offset of [0, 4096, 200_000]) {
      const { req, got } = request(server.port, offset, 4096);
      await r.read(req);
      assert.ok(got.equals(FILE.subarray(offset, offset + 4096)));
    }
    assert.equal(server.connections, 1);
    r.close();
  });

  test("a kept connection the server closed meanwhile is retried once on a fresh one", async () => {
    const server = await use(scriptedServer((req, i) => ({ ...honest(1)(req), closeAfter: true })));
    const r = reader();
    const first = request(server.port, 0, 1000);
    await r.read(first.req);
    const second = request(server.port, 1000, 1000);
    assert.deepEqual(await r.read(second.req), { kind: "done" });
    assert.ok(second.got.equals(FILE.subarray(1000, 2000)));
    assert.equal(server.connections, 2);
    r.close();
  });

  test("a body cut short is PartialTransferError (18) naming how far it got", async () => {
    const server = await use(scriptedServer(() => ({
      parts: [Buffer.from(head206(0, 10_000), "latin1"), FILE.subarray(0, 3000)],
      close: true,
    })));
    const r = reader();
    const { req } = request(server.port, 0, 10_000);
    await assert.rejects(r.read(req), (err: unknown) => {
      assert.ok(err instanceof PartialTransferError, String(err));
      assert.equal(err.exitCode, 18);
      assert.match(err.message, /after 3000 of 10000 bytes of range 0-9999/);
      return true;
    });
    r.close();
  });

  test("an over-long body: exactly the asked bytes go to the sink; the next range still works", async () => {
    const server = await use(scriptedServer((request) => {
      const offset = Number(/bytes=(\d+)/.exec(request)![1]);
      // Claims and sends 500 bytes more than asked (a longer Content-Range end).
      return { parts: [Buffer.from(head206(offset, 1500), "latin1"), FILE.subarray(offset, offset + 1500)] };
    }));
    const r = reader();
    const first = request(server.port, 100, 1000);
    assert.deepEqual(await r.read(first.req), { kind: "done" });
    assert.equal(first.received(), 1000);
    assert.ok(first.got.equals(FILE.subarray(100, 1100)));
    const second = request(server.port, 0, 1000);
    assert.deepEqual(await r.read(second.req), { kind: "done" });
    assert.ok(second.got.equals(FILE.subarray(0, 1000)));
    r.close();
  });

  test("bytes beyond Content-Length are never delivered", async () => {
    const server = await use(scriptedServer(() => ({
      parts: [Buffer.concat([Buffer.from(head206(0, 100), "latin1"), FILE.subarray(0, 100), Buffer.from("HTTP/1.1 200 junk")])],
    })));
    const r = reader();
    const { req, received, got } = request(server.port, 0, 100);
    assert.deepEqual(await r.read(req), { kind: "done" });
    assert.equal(received(), 100);
    assert.ok(got.equals(FILE.subarray(0, 100)));
    r.close();
  });

  test("redirects, chunked bodies and 200s are declined before any byte reaches the sink", async () => {
    const answers = [
      "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/300000\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
      "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/300000\r\n\r\n0123456789",
    ];
    const server = await use(scriptedServer((_, i) => ({ parts: [Buffer.from(answers[i]!, "latin1")] })));
    const r = reader();
    const reasons: string[] = [];
    for (let i = 0; i < answers.length; i++) {
      const { req, received } = request(server.port, 0, 10);
      const result = await r.read(req);
      assert.equal(result.kind, "declined");
      if (result.kind === "declined") reasons.push(result.reason);
      assert.equal(received(), 0);
    }
    assert.deepEqual(reasons, ["redirect 302", "transfer coding", "status 200", "no content length"]);
    r.close();
  });

  test("the caller's check decides error statuses; a malformed or huge head is HttpHeadError", async () => {
    const answers = [
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
      "SSH-2.0-OpenSSH\r\n\r\n",
      `HTTP/1.1 206 Partial Content\r\nX-Pad: ${"a".repeat(70_000)}\r\n\r\n`,
    ];
    const server = await use(scriptedServer((_, i) => ({ parts: [Buffer.from(answers[i]!, "latin1")] })));
    const r = reader();
    await assert.rejects(r.read(request(server.port, 0, 10).req), (err: unknown) => err instanceof OriginHttpError && err.status === 503);
    await assert.rejects(r.read(request(server.port, 0, 10).req), HttpHeadError);
    await assert.rejects(r.read(request(server.port, 0, 10).req), (err: unknown) => err instanceof HttpHeadError && /over 64 KiB/.test(err.message));
    r.close();
  });

  test("a slow sink holds the buffers: the socket pauses, and every byte still lands in order", async () => {
    const server = await use(scriptedServer(honest(20)));
    const r = reader({ bufferBytes: 4096 });
    const { req, got } = request(server.port, 0, 200_000);
    const positions: number[] = [];
    let held = 0;
    let maxHeld = 0;
    req.sink = async (chunk, position) => {
      positions.push(position);
      held++;
      maxHeld = Math.max(maxHeld, held);
      await new Promise((resolve) => setImmediate(resolve));
      chunk.copy(got, position);
      held--;
    };
    assert.deepEqual(await r.read(req), { kind: "done" });
    assert.ok(got.equals(FILE.subarray(0, 200_000)));
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
    // Two receive buffers and the spare the read after a pause goes into (plain TCP stops at once).
    assert.ok(maxHeld <= 3, `at most one chunk per receive buffer is held, saw ${maxHeld}`);
    r.close();
  });

  test("a sink failure fails the range with the sink's error", async () => {
    const server = await use(scriptedServer(honest(4)));
    const r = reader({ bufferBytes: 4096 });
    const disk = new Error("disk full");
    const { req } = request(server.port, 0, 100_000, { sink: async () => Promise.reject(disk) });
    await assert.rejects(r.read(req), (err: unknown) => err === disk);
    r.close();
  });

  test("no answer within the read deadline is TimeoutError (28, phase origin)", async () => {
    const server = await use(scriptedServer(() => ({ parts: [], silent: true })));
    const r = reader({ readTimeoutMs: 100 });
    await assert.rejects(r.read(request(server.port, 0, 10).req), (err: unknown) => err instanceof TimeoutError && err.phase === "origin" && /no response within 100 ms/.test(err.message));
    r.close();
  });

  test("the caller's signal stops a stuck range with the signal's reason", async () => {
    const server = await use(scriptedServer(() => ({ parts: [Buffer.from(head206(0, 1000), "latin1")], silent: false })));
    const r = reader();
    const controller = new AbortController();
    const reason = new Error("interrupted");
    const { req } = request(server.port, 0, 1000, { signal: controller.signal });
    const reading = r.read(req);
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(reason);
    await assert.rejects(reading, (err: unknown) => err === reason);
    r.close();
  });

  test("a refused connection is OriginUnreachableError (7)", async () => {
    const server = await use(scriptedServer(honest()));
    const port = server.port;
    await server.close();
    const r = reader();
    await assert.rejects(r.read(request(port, 0, 10).req), (err: unknown) => err instanceof OriginUnreachableError && err.exitCode === 7);
  });

  test("https: records are gathered into large chunks, bytes exact", { skip: !hasOpenssl() && "no openssl" }, async () => {
    const fixture = makeTlsFixture();
    cleanups.push(() => rmSync(fixture.dir, { recursive: true, force: true }));
    const server = await use(scriptedServer(honest(3), { key: readFileSync(fixture.serverKey), cert: readFileSync(fixture.serverCert) }));
    const r = reader({ ca: readFileSync(fixture.caCert) });
    const { req, got } = request(server.port, 1000, 290_000, {}, "https");
    const sizes: number[] = [];
    const sink = req.sink;
    req.sink = (chunk, position) => {
      sizes.push(chunk.length);
      return sink(chunk, position);
    };
    assert.deepEqual(await r.read(req), { kind: "done" });
    assert.ok(got.equals(FILE.subarray(1000, 291_000)));
    assert.ok(Math.max(...sizes) > 64 * 1024, `chunks of ${Math.max(...sizes)} bytes: 16 KiB records were not gathered`);
    r.close();
  });

  // Node's TLS socket goes on calling onread with records it had already decrypted after the
  // callback returned false (seen on Node 20.20): a paused exchange must never point the next
  // read at a buffer the sink still holds. The sink here copies each chunk only when its
  // write "completes" (a later timer turn), as pwrite reads its buffer later: a receive
  // buffer overwritten meanwhile shows up as wrong bytes.
  test("https with a slow sink: no receive buffer is overwritten while the sink holds it", { skip: !hasOpenssl() && "no openssl" }, async () => {
    const fixture = makeTlsFixture();
    cleanups.push(() => rmSync(fixture.dir, { recursive: true, force: true }));
    const server = await use(scriptedServer(honest(1), { key: readFileSync(fixture.serverKey), cert: readFileSync(fixture.serverCert) }));
    const r = reader({ ca: readFileSync(fixture.caCert), bufferBytes: 128 * 1024 });
    const length = FILE.length - 4096;
    const { req, got } = request(server.port, 4096, length, {}, "https");
    req.sink = (chunk, position) =>
      new Promise<void>((resolve) => {
        setTimeout(() => {
          chunk.copy(got, position - 4096);
          resolve();
        }, 1);
      });
    assert.deepEqual(await r.read(req), { kind: "done" });
    assert.ok(got.equals(FILE.subarray(4096)), "bytes differ: a receive buffer was reused while the sink held it");
    r.close();
  });
});
