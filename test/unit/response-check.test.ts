import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  BadRangeAnswerError,
  ExactBytes,
  ObjectChangedError,
  checkRangeAnswer,
  describeVersion,
  ifRangeHeader,
  parseContentRange,
  pinVersion,
  versionDiffers,
  type RangeRequest,
} from "../../src/transport/response-check.js";
import { DfgetError, OriginHttpError, PartialTransferError } from "../../src/errors.js";

const want = (over: Partial<RangeRequest> = {}): RangeRequest => ({
  offset: 100,
  length: 50,
  total: 1000,
  pin: { etag: '"v1"' },
  where: "range 100-149 of http://o/f",
  ...over,
});

describe("pinVersion", () => {
  test("a strong ETag wins", () => {
    assert.deepEqual(pinVersion({ etag: '"abc"', "last-modified": "Tue, 01 Dec 2026 10:00:00 GMT", date: "Tue, 01 Dec 2026 11:00:00 GMT" }), { etag: '"abc"' });
  });
  test("a weak ETag is never pinned; Last-Modified a second older than Date is", () => {
    assert.deepEqual(pinVersion({ etag: 'W/"abc"', "last-modified": "Tue, 01 Dec 2026 10:00:00 GMT", date: "Tue, 01 Dec 2026 10:00:01 GMT" }), {
      lastModified: "Tue, 01 Dec 2026 10:00:00 GMT",
    });
  });
  test("Last-Modified equal to Date, or without Date, is weak: nothing pinned", () => {
    assert.deepEqual(pinVersion({ "last-modified": "Tue, 01 Dec 2026 10:00:00 GMT", date: "Tue, 01 Dec 2026 10:00:00 GMT" }), {});
    assert.deepEqual(pinVersion({ "last-modified": "Tue, 01 Dec 2026 10:00:00 GMT" }), {});
    assert.deepEqual(pinVersion({}), {});
  });
  test("If-Range carries the pinned value verbatim", () => {
    assert.equal(ifRangeHeader({ etag: '"abc"' }), '"abc"');
    assert.equal(ifRangeHeader({ lastModified: "Tue, 01 Dec 2026 10:00:00 GMT" }), "Tue, 01 Dec 2026 10:00:00 GMT");
    assert.equal(ifRangeHeader({}), undefined);
  });
});

describe("versionDiffers", () => {
  test("only a validator the answer sends can contradict", () => {
    assert.equal(versionDiffers({ etag: '"v1"' }, { etag: '"v2"' }), true);
    assert.equal(versionDiffers({ etag: '"v1"' }, { etag: '"v1"' }), false);
    assert.equal(versionDiffers({ etag: '"v1"' }, {}), false);
    assert.equal(versionDiffers({ lastModified: "Tue, 01 Dec 2026 10:00:00 GMT" }, { "last-modified": "Tue, 01 Dec 2026 10:00:05 GMT" }), true);
    assert.equal(versionDiffers({}, { etag: '"v2"' }), false);
  });
});

describe("parseContentRange", () => {
  test("start, end and total", () => {
    assert.deepEqual(parseContentRange("bytes 0-499/1234"), { start: 0, end: 499, total: 1234 });
    assert.deepEqual(parseContentRange("bytes 5-9/*"), { start: 5, end: 9, total: undefined });
  });
  test("malformed or impossible ranges are refused", () => {
    for (const bad of [undefined, "", "bytes */100", "bytes 9-5/100", "bytes 0-100/100", "items 0-1/2", "bytes 0-1"]) {
      assert.equal(parseContentRange(bad), undefined, String(bad));
    }
  });
});

describe("checkRangeAnswer", () => {
  test("a 206 with the planned range is accepted", () => {
    const verdict = checkRangeAnswer(206, { "content-range": "bytes 100-149/1000", etag: '"v1"' }, want());
    assert.deepEqual(verdict, { kind: "range", contentRange: { start: 100, end: 149, total: 1000 } });
  });
  test("a 206 reaching past the planned end is accepted (the extra bytes are dropped by ExactBytes)", () => {
    assert.equal(checkRangeAnswer(206, { "content-range": "bytes 100-999/1000" }, want()).kind, "range");
  });
  test("a 206 starting elsewhere or ending early is a bad, retryable answer", () => {
    assert.throws(() => checkRangeAnswer(206, { "content-range": "bytes 0-149/1000" }, want()), BadRangeAnswerError);
    assert.throws(() => checkRangeAnswer(206, { "content-range": "bytes 100-120/1000" }, want()), BadRangeAnswerError);
    assert.throws(() => checkRangeAnswer(206, {}, want()), BadRangeAnswerError);
  });
  test("a 206 with another total means the object changed (exit 18) and names both sizes", () => {
    assert.throws(
      () => checkRangeAnswer(206, { "content-range": "bytes 100-149/2000" }, want()),
      (err: unknown) => err instanceof ObjectChangedError && err.exitCode === 18 && /1000 bytes/.test(err.message) && /2000 bytes/.test(err.message),
    );
  });
  test("a 206 with another ETag (If-Range ignored) means the object changed", () => {
    assert.throws(() => checkRangeAnswer(206, { "content-range": "bytes 100-149/1000", etag: '"v2"' }, want()), ObjectChangedError);
  });
  test("a 200 with another ETag means the object changed and names both versions", () => {
    assert.throws(
      () => checkRangeAnswer(200, { etag: '"v2"', "content-length": "1000" }, want()),
      (err: unknown) => err instanceof ObjectChangedError && err.message.includes('ETag "v1"') && err.message.includes('ETag "v2"'),
    );
  });
  test("a 200 with the same or no validator and the same size: the origin does no ranges", () => {
    assert.deepEqual(checkRangeAnswer(200, { etag: '"v1"', "content-length": "1000" }, want()), { kind: "whole" });
    assert.deepEqual(checkRangeAnswer(200, {}, want({ pin: {} })), { kind: "whole" });
  });
  test("a 200 of another size means the object changed", () => {
    assert.throws(() => checkRangeAnswer(200, { "content-length": "1001" }, want({ pin: {} })), ObjectChangedError);
  });
  test("error statuses keep their exit codes", () => {
    assert.throws(() => checkRangeAnswer(503, {}, want()), (err: unknown) => err instanceof OriginHttpError && err.status === 503 && err.exitCode === 22);
    assert.throws(() => checkRangeAnswer(304, {}, want()), (err: unknown) => err instanceof DfgetError && err.exitCode === 1);
  });
});

describe("ExactBytes", () => {
  test("keeps exactly what was asked, drops an over-send", () => {
    const counter = new ExactBytes(5, "x");
    assert.deepEqual(counter.take(Buffer.from("abc")), Buffer.from("abc"));
    assert.deepEqual(counter.take(Buffer.from("defgh")), Buffer.from("de"));
    assert.equal(counter.done, true);
    assert.equal(counter.take(Buffer.from("z")).length, 0);
    counter.finish();
  });
  test("fewer bytes than asked is a partial transfer (18)", () => {
    const counter = new ExactBytes(5, "range 0-4 of http://o/f");
    counter.take(Buffer.from("ab"));
    assert.throws(() => counter.finish(), (err: unknown) => err instanceof PartialTransferError && /2 of 5 bytes/.test(err.message));
  });
});

test("describeVersion", () => {
  assert.equal(describeVersion({ etag: '"a"' }, 10), 'ETag "a", 10 bytes');
  assert.equal(describeVersion({}, 10), "10 bytes");
  assert.equal(describeVersion({}), "no validator");
});
