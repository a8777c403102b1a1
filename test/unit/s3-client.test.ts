// The S3 transport against the strict in-process S3 server (test/support/s3.ts), which
// recomputes every signature: signed HEAD + ranged GETs, If-Match pinning, auth errors,
// paginated ListObjectsV2, keys that a URL parser would fold.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { exitCodeOf } from "../../src/errors.js";
import { S3Client } from "../../src/transport/s3.js";
import { listAllObjects } from "../../src/transport/s3-listing.js";
import { RetryPolicy } from "../../src/transport/retry-policy.js";
import { listPageOf } from "../../src/transport/s3-xml.js";
import { resolveS3Settings, type StorageOptions } from "../../src/transport/s3-location.js";
import { startS3, type S3Server } from "../support/s3.js";

const KEY_ID = "AKIDEXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const BODY = Buffer.from("0123456789abcdefghijklmnopqrstuvwxyz");

function client(s3: S3Server, overrides: Partial<StorageOptions> = {}): S3Client {
  const settings = resolveS3Settings({ endpoint: s3.endpoint, accessKeyId: KEY_ID, accessKeySecret: SECRET, insecureSkipVerify: false, ...overrides }, {});
  return new S3Client(settings, { connectTimeoutMs: 2000, readTimeoutMs: 5000 });
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected a failure");
}

describe("S3 client against a verifying S3 server", () => {
  let s3: S3Server;
  before(async () => {
    s3 = await startS3({ credentials: { [KEY_ID]: SECRET, TOKENKEY: "token-secret" } });
    s3.put("bkt", "dir/object.bin", BODY);
    s3.put("bkt", "odd name/ünï côdé+(1)*.txt", "odd");
    s3.put("bkt", "a/../escape.txt", "dots");
  });
  after(async () => {
    await s3.close();
  });

  it("HEADs and fetches ranges, signed, pinned with If-Match on the ETag", async () => {
    const c = client(s3);
    try {
      const info = await c.head("s3://bkt/dir/object.bin");
      assert.equal(info.contentLength, BODY.length);
      assert.equal(info.acceptsRanges, true);
      const piece = await c.getRange(info.url, 10, 6);
      assert.equal(piece.toString(), "abcdef");
      const get = s3.requests.find((r) => r.method === "GET" && r.range === "bytes=10-15");
      assert.ok(get);
      assert.equal(get.status, 206);
      assert.equal(get.ifMatch, `"${createHash("md5").update(BODY).digest("hex")}"`);
      assert.equal(get.accessKeyId, KEY_ID);
    } finally {
      await c.close();
    }
  });

  it("sends the session token signed as x-amz-security-token", async () => {
    const c = client(s3, { accessKeyId: "TOKENKEY", accessKeySecret: "token-secret", sessionToken: "the-session" });
    try {
      await c.head("s3://bkt/dir/object.bin");
      const last = s3.requests[s3.requests.length - 1]!;
      assert.equal(last.status, 200);
      assert.equal(last.securityToken, "the-session");
    } finally {
      await c.close();
    }
  });

  it("a wrong secret is a clear auth error with exit code 22, naming S3's error code", async () => {
    const c = client(s3, { accessKeySecret: "not-the-secret" });
    try {
      const err = await failureOf(c.head("s3://bkt/dir/object.bin"));
      assert.equal(exitCodeOf(err), 22);
      assert.match(String((err as Error).message), /403 SignatureDoesNotMatch/);
      assert.match(String((err as Error).message), /--storage-access-key-secret/);
      assert.doesNotMatch(String((err as Error).message), /not-the-secret/);
    } finally {
      await c.close();
    }
  });

  it("an unknown key id and unsigned requests are refused (InvalidAccessKeyId, AccessDenied)", async () => {
    const unknown = client(s3, { accessKeyId: "NOBODY" });
    const anonymous = new S3Client(resolveS3Settings({ endpoint: s3.endpoint, insecureSkipVerify: false }, {}), { connectTimeoutMs: 2000, readTimeoutMs: 5000 });
    try {
      assert.match(String((await failureOf(unknown.head("s3://bkt/dir/object.bin")) as Error).message), /InvalidAccessKeyId/);
      assert.match(String((await failureOf(anonymous.head("s3://bkt/dir/object.bin")) as Error).message), /AccessDenied/);
    } finally {
      await unknown.close();
      await anonymous.close();
    }
  });

  it("a missing key is 404 NoSuchKey (exit 22)", async () => {
    const c = client(s3);
    try {
      const err = await failureOf(c.head("s3://bkt/no/such.bin"));
      assert.equal(exitCodeOf(err), 22);
      assert.match(String((err as Error).message), /404 NoSuchKey/);
    } finally {
      await c.close();
    }
  });

  it("an object replaced after the HEAD fails the next GET with 412 → exit 18", async () => {
    s3.put("bkt", "changing.bin", "version one, long enough");
    const c = client(s3);
    try {
      const info = await c.head("s3://bkt/changing.bin");
      s3.put("bkt", "changing.bin", "version two, also long!!");
      const err = await failureOf(c.getRange(info.url, 0, 4));
      assert.equal(exitCodeOf(err), 18);
      assert.match(String((err as Error).message), /object changed .*was ETag "[0-9a-f]{32}", now ETag "[0-9a-f]{32}"/);
    } finally {
      await c.close();
    }
  });

  it("keys with spaces, unicode, reserved characters and '..' segments reach the right object", async () => {
    const c = client(s3);
    try {
      const odd = await c.head("s3://bkt/odd%20name/%C3%BCn%C3%AF%20c%C3%B4d%C3%A9+(1)*.txt");
      assert.equal((await c.getRange(odd.url, 0, 3)).toString(), "odd");
      const dots = await c.head("s3://bkt/a/%2E%2E/escape.txt");
      assert.equal(dots.contentLength, 4);
    } finally {
      await c.close();
    }
  });

  it("a listing page answered 503 SlowDown, 500 or a reset is asked again; 403 is not", async () => {
    for (let i = 0; i < 1001; i++) s3.put("slow", `p/${String(i).padStart(4, "0")}.txt`, "x");
    const c = client(s3);
    const noWait = (retries: number): RetryPolicy => new RetryPolicy({ retries, baseDelayMs: 0, maxDelayMs: 0 });
    try {
      s3.fault({ match: (r) => r.bucket === "slow" && r.query["continuation-token"] !== undefined, times: 1, answer: { status: 503, code: "SlowDown" } });
      s3.fault({ match: (r) => r.bucket === "slow" && r.query["continuation-token"] !== undefined, times: 1, answer: "reset" });
      s3.fault({ match: (r) => r.bucket === "slow" && r.query["list-type"] === "2", times: 1, answer: { status: 500, code: "InternalError" } });
      const objects = await listAllObjects(c, "slow", "p/", { retry: noWait(2) });
      assert.equal(objects.length, 1001);
      s3.fault({ match: (r) => r.bucket === "slow", times: 3, answer: { status: 503, code: "SlowDown" } });
      const exhausted = await failureOf(listAllObjects(c, "slow", "p/", { retry: noWait(2) }));
      assert.equal(exitCodeOf(exhausted), 22);
      assert.match(String((exhausted as Error).message), /503 SlowDown/);
      s3.fault({ match: (r) => r.bucket === "slow", times: 1, answer: { status: 403, code: "AccessDenied" } });
      const before = s3.requests.length;
      const denied = await failureOf(listAllObjects(c, "slow", "p/", { retry: noWait(2) }));
      assert.equal(exitCodeOf(denied), 22);
      assert.equal(s3.requests.length - before, 1);
    } finally {
      await c.close();
    }
  });

  it("keys with a CR/LF, '+', spaces, '&' and unicode come back from the listing exactly as stored", async () => {
    const keys = ["odd/line\r\nbreak.txt", "odd/a+b c.txt", "odd/x&y<z>.txt", "odd/ünï%41.txt", "odd/tab\there "];
    for (const key of keys) s3.put("oddkeys", key, "o");
    const c = client(s3);
    try {
      const objects = await listAllObjects(c, "oddkeys", "odd/");
      assert.deepEqual(objects.map((o) => o.key).sort(), [...keys].sort());
    } finally {
      await c.close();
    }
  });

  it("lists every page of a prefix (1,200 keys = 2 pages of ≤ 1,000)", async () => {
    for (let i = 0; i < 1200; i++) s3.put("many", `p/${String(i).padStart(4, "0")}.txt`, `n${i}`);
    s3.put("many", "other/x.txt", "x");
    const c = client(s3);
    try {
      const before = s3.requests.length;
      const objects = await listAllObjects(c, "many", "p/");
      assert.equal(objects.length, 1200);
      assert.equal(objects[0]!.key, "p/0000.txt");
      assert.equal(objects[1199]!.key, "p/1199.txt");
      const pages = s3.requests.slice(before).filter((r) => r.query["list-type"] === "2");
      assert.equal(pages.length, 2);
      assert.ok(pages.every((r) => r.status === 200));
      assert.ok(pages[1]!.query["continuation-token"]);
    } finally {
      await c.close();
    }
  });
});

describe("ListObjectsV2 pages", () => {
  const page = (extra: string, key: string): string =>
    `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>false</IsTruncated>${extra}<Contents><Key>${key}</Key><Size>1</Size></Contents></ListBucketResult>`;

  it("decodes url-encoded keys ('+' is a space, %2B a plus) only when the page says EncodingType url", () => {
    assert.deepEqual(listPageOf(page("<EncodingType>url</EncodingType>", "p/a%2Bb+c%0D.txt")).objects[0]!.key, "p/a+b c\r.txt");
    assert.deepEqual(listPageOf(page("", "p/a+b%2B.txt")).objects[0]!.key, "p/a+b%2B.txt");
    assert.throws(() => listPageOf(page("<EncodingType>url</EncodingType>", "p/%zz")), /not valid URL encoding/);
  });
});
