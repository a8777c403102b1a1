// OriginClient against hostile origins: version pinning (If-Range, ETag, Content-Range
// total), Range ignored, over-sending 206s, drips, 1-byte cuts.
import { describe, test, after, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { PartialTransferError, TimeoutError } from "../../src/errors.js";
import { OriginClient, RangeNotSupportedError } from "../../src/transport/origin.js";
import { ObjectChangedError } from "../../src/transport/response-check.js";
import { startOrigin, type FakeOrigin } from "../support/origin.js";

const V1 = randomBytes(50_000);
const V2 = randomBytes(50_000);

async function withClient<T>(fn: (c: OriginClient) => Promise<T>, readTimeoutMs = 2000): Promise<T> {
  const c = new OriginClient({ headers: [], connectTimeoutMs: 2000, readTimeoutMs, userAgent: "dfget/test" });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

describe("OriginClient pins the object version", () => {
  let origin: FakeOrigin;
  before(async () => {
    origin = await startOrigin();
  });
  after(async () => {
    await origin.close();
  });

  test("every ranged GET carries If-Range with the HEAD's strong ETag", async () => {
    origin.setFile("/plain", V1);
    await withClient(async (c) => {
      const info = await c.head(origin.url("/plain"));
      assert.match(info.pin.etag ?? "", /^"v1-/);
      assert.deepEqual(await c.getRange(origin.url("/plain"), 10, 20), V1.subarray(10, 30));
      assert.equal(origin.requests.at(-1)?.headers["if-range"], info.pin.etag);
    });
  });

  test("a replaced object answers 200 to If-Range: exit 18 naming both versions", async () => {
    origin.setFile("/replaced", V1);
    origin.setFault("/replaced", { kind: "replace", afterGets: 1, content: V2 });
    await withClient(async (c) => {
      await c.head(origin.url("/replaced"));
      assert.deepEqual(await c.getRange(origin.url("/replaced"), 0, 100), V1.subarray(0, 100));
      const err = await c.getRange(origin.url("/replaced"), 100, 100).catch((e: unknown) => e);
      assert.ok(err instanceof ObjectChangedError, String(err));
      assert.equal(err.exitCode, 18);
      assert.match(err.message, /was ETag "v\d+-c350", 50000 bytes, now ETag "v\d+-c350"/);
      assert.notEqual(err.before, err.after);
    });
  });

  test("an origin ignoring If-Range and serving the new version's ranges is caught by its ETag", async () => {
    origin.setFile("/broken-cache", V1);
    origin.setFault("/broken-cache", { kind: "replace", afterGets: 0, content: V2, ignoreIfRange: true });
    await withClient(async (c) => {
      await c.head(origin.url("/broken-cache"));
      const err = await c.getRange(origin.url("/broken-cache"), 0, 100).catch((e: unknown) => e);
      assert.ok(err instanceof ObjectChangedError, String(err));
    });
  });

  test("an object that grew after HEAD is caught by the Content-Range total", async () => {
    origin.setFile("/grows", V1);
    origin.setFault("/grows", { kind: "grow", afterGets: 0, extra: Buffer.from("more") });
    await withClient(async (c) => {
      await c.head(origin.url("/grows"));
      const err = await c.getRange(origin.url("/grows"), 0, 100).catch((e: unknown) => e);
      assert.ok(err instanceof ObjectChangedError, String(err));
      assert.match(err.message, /50000 bytes.*50004 bytes/);
    });
  });

  test("a 200 with the same version is handed on and streamed without asking again", async () => {
    origin.setFile("/ignores", V1);
    origin.setFault("/ignores", { kind: "ignore-range" });
    await withClient(async (c) => {
      const info = await c.head(origin.url("/ignores"));
      assert.equal(info.acceptsRanges, true);
      const err = await c.getRange(origin.url("/ignores"), 0, 100).catch((e: unknown) => e);
      assert.ok(err instanceof RangeNotSupportedError, String(err));
      const before = origin.requests.length;
      const chunks: Buffer[] = [];
      const result = await c.streamWhole(origin.url("/ignores"), (chunk) => void chunks.push(chunk), undefined, err);
      assert.equal(origin.requests.length, before, "no second GET");
      assert.deepEqual(Buffer.concat(chunks), V1);
      assert.equal(result.bytes, V1.length);
    });
  });

  test("a 206 running past the asked end gives exactly the asked bytes", async () => {
    origin.setFile("/over", V1);
    origin.setFault("/over", { kind: "over-send", extra: 5000 });
    await withClient(async (c) => {
      await c.head(origin.url("/over"));
      assert.deepEqual(await c.getRange(origin.url("/over"), 1000, 100), V1.subarray(1000, 1100));
      assert.deepEqual(await c.getRange(origin.url("/over"), 49_950, 50), V1.subarray(49_950));
    });
  });

  test("no usable validator (weak ETag only): no If-Range, ranges still checked by total", async () => {
    origin.setFile("/weak", V1);
    origin.setValidators("/weak", "weak-etag");
    await withClient(async (c) => {
      const info = await c.head(origin.url("/weak"));
      assert.deepEqual(info.pin, {});
      assert.deepEqual(await c.getRange(origin.url("/weak"), 0, 10), V1.subarray(0, 10));
      assert.equal(origin.requests.at(-1)?.headers["if-range"], undefined);
    });
  });

  test("a drip below 1 KiB/s is dropped within the window (low-speed, exit 28, retryable)", async () => {
    origin.setFile("/drip", V1);
    origin.setFault("/drip", { kind: "slow", bytesPerSecond: 40 });
    const err = await withClient(async (c) => {
      await c.head(origin.url("/drip"));
      return c.getRange(origin.url("/drip"), 0, 10_000).catch((e: unknown) => e);
    }, 400);
    assert.ok(err instanceof TimeoutError, String(err));
    assert.equal(err.phase, "low-speed");
  });

  test("a 1-byte body whose connection is cut is a partial transfer (18), not unreachable", async () => {
    origin.setFile("/one", Buffer.from("x"));
    origin.setFault("/one", { kind: "close-mid-body", afterBytes: 0 });
    await withClient(async (c) => {
      await c.head(origin.url("/one"));
      const ranged = await c.getRange(origin.url("/one"), 0, 1).catch((e: unknown) => e);
      assert.ok(ranged instanceof PartialTransferError, String(ranged));
      const whole = await c.streamWhole(origin.url("/one"), () => undefined).catch((e: unknown) => e);
      assert.ok(whole instanceof PartialTransferError, String(whole));
    });
  });
});
