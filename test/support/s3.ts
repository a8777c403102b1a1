// A strict in-process S3-compatible server for tests, path-style (http://127.0.0.1:PORT/BUCKET/KEY).
//
// How it starts: `const s3 = await startS3({ credentials: { AKID: "SECRET" } })` listens on
// 127.0.0.1 with an ephemeral port; `s3.endpoint` is the --storage-endpoint value;
// `s3.put(bucket, key, bytes)` stores objects; `await s3.close()` stops it.
//
// Why not s3rver: it serves objects and listings well but never checks a signature (a
// wrong secret is accepted), so an auth test would prove nothing. This server recomputes
// every request's AWS SigV4 signature with the same AWS SDK signer the product uses
// (@smithy/signature-v4, through src/transport/s3-signing.ts) over the headers the request
// says it signed, and answers 403 SignatureDoesNotMatch (or InvalidAccessKeyId,
// AccessDenied for unsigned requests) as S3 does, with an XML error body.
//
// Served: HEAD and GET of objects (ETag, Accept-Ranges, single Range → 206/416,
// If-Match → 412 PreconditionFailed) and ListObjectsV2 (list-type=2, prefix,
// continuation-token, max-keys ≤ 1000, IsTruncated/NextContinuationToken, encoding-type=url;
// without it control characters in keys are numeric references, as S3 sends them). Requests are
// recorded (method, raw path, query, range, outcome) for assertions.
// Faults: `afterGets(n, fn)` runs fn after the n-th object GET (e.g. change the object);
// `fault({ match, times, answer })` answers the next `times` matching requests (after the
// signature check) with a status and body of our choice (503 SlowDown, an HTML error page),
// or drops the connection ("reset") — throttling and broken proxies in front of a store.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseAmzDate, parseAuthorization, signRequest } from "../../src/transport/s3-signing.js";

export interface S3Options {
  /** accessKeyId → secret. */
  credentials: Record<string, string>;
  region?: string;
  /** Answer unsigned requests (public buckets). Default false: 403 AccessDenied. */
  allowAnonymous?: boolean;
}

export interface S3Record {
  method: string;
  path: string;
  query: Record<string, string>;
  range?: string;
  ifMatch?: string;
  accessKeyId?: string;
  securityToken?: string;
  status: number;
  errorCode?: string;
}

interface StoredObject {
  body: Buffer;
  etag: string;
}

/** What a faulty answer is: a status with an S3 error code (XML body) or a raw body, or a dropped connection. */
export type S3FaultAnswer = { status: number; code?: string; body?: string; headers?: Record<string, string> } | "reset";

export interface S3Fault {
  /** Which requests (bucket, decoded key, "" for the bucket; query as parsed). */
  match(request: { method: string; bucket: string; key: string; query: Record<string, string> }): boolean;
  /** How many matching requests get the fault; then normal service. */
  times: number;
  answer: S3FaultAnswer;
}

export interface S3Server {
  endpoint: string;
  region: string;
  requests: S3Record[];
  put(bucket: string, key: string, body: Buffer | string): void;
  remove(bucket: string, key: string): void;
  afterGets(count: number, action: () => void): void;
  fault(fault: S3Fault): void;
  close(): Promise<void>;
}

const MAX_KEYS = 1000;

export async function startS3(options: S3Options): Promise<S3Server> {
  const region = options.region ?? "us-east-1";
  const buckets = new Map<string, Map<string, StoredObject>>();
  const requests: S3Record[] = [];
  let objectGets = 0;
  const triggers: Array<{ at: number; action: () => void }> = [];
  const faults: S3Fault[] = [];

  const server: Server = createServer((req, res) => {
    const record: S3Record = { method: req.method ?? "", path: "", query: {}, status: 0 };
    requests.push(record);
    handle(req, res, record).catch((err: unknown) => reply(res, record, 500, "InternalError", String(err)));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, record: S3Record): Promise<void> {
    const raw = req.url ?? "/";
    const queryAt = raw.indexOf("?");
    const path = queryAt < 0 ? raw : raw.slice(0, queryAt);
    const query = Object.fromEntries(new URLSearchParams(queryAt < 0 ? "" : raw.slice(queryAt + 1)));
    Object.assign(record, { path, query, range: header(req, "range"), ifMatch: header(req, "if-match") });
    const denied = await verify(req, path, query, record);
    if (denied) return reply(res, record, 403, denied.code, denied.message);
    const slash = path.indexOf("/", 1);
    const bucketName = decodeURIComponent(slash < 0 ? path.slice(1) : path.slice(1, slash));
    const key = slash < 0 ? "" : decodeURIComponent(path.slice(slash + 1));
    const fault = faults.find((f) => f.times > 0 && f.match({ method: req.method ?? "", bucket: bucketName, key, query }));
    if (fault !== undefined) {
      fault.times--;
      return answerFault(res, record, fault.answer);
    }
    const bucket = buckets.get(bucketName);
    if (bucket === undefined) return reply(res, record, 404, "NoSuchBucket", "The specified bucket does not exist");
    if (key === "" && req.method === "GET" && query["list-type"] === "2") return list(res, record, bucketName, bucket, query);
    if (req.method !== "GET" && req.method !== "HEAD") return reply(res, record, 405, "MethodNotAllowed", "method not allowed");
    const object = bucket.get(key);
    if (object === undefined) return reply(res, record, 404, "NoSuchKey", "The specified key does not exist.", req.method === "HEAD");
    if (req.method === "HEAD") {
      record.status = 200;
      res.writeHead(200, { "content-length": object.body.length, etag: object.etag, "accept-ranges": "bytes" });
      res.end();
      return;
    }
    serveObject(req, res, record, object);
    objectGets++;
    for (const trigger of triggers.filter((t) => t.at === objectGets)) trigger.action();
  }

  function serveObject(req: IncomingMessage, res: ServerResponse, record: S3Record, object: StoredObject): void {
    const ifMatch = header(req, "if-match");
    if (ifMatch !== undefined && ifMatch !== object.etag) return reply(res, record, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
    const range = header(req, "range");
    if (range === undefined) {
      record.status = 200;
      res.writeHead(200, { "content-length": object.body.length, etag: object.etag, "accept-ranges": "bytes" });
      res.end(object.body);
      return;
    }
    const match = /^bytes=(\d+)-(\d*)$/.exec(range);
    const size = object.body.length;
    const start = match ? Number(match[1]) : Number.NaN;
    const end = match && match[2] !== "" ? Math.min(Number(match[2]), size - 1) : size - 1;
    if (!match || start >= size || end < start) return reply(res, record, 416, "InvalidRange", "The requested range is not satisfiable");
    record.status = 206;
    res.writeHead(206, { "content-length": end - start + 1, "content-range": `bytes ${start}-${end}/${size}`, etag: object.etag, "accept-ranges": "bytes" });
    res.end(object.body.subarray(start, end + 1));
  }

  function list(res: ServerResponse, record: S3Record, name: string, bucket: Map<string, StoredObject>, query: Record<string, string>): void {
    const prefix = query.prefix ?? "";
    const maxKeys = Math.min(MAX_KEYS, query["max-keys"] === undefined ? MAX_KEYS : Number(query["max-keys"]));
    const after = query["continuation-token"] !== undefined ? Buffer.from(query["continuation-token"], "base64url").toString("utf8") : (query["start-after"] ?? "");
    const keys = [...bucket.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
    const page = keys.slice(0, maxKeys);
    const truncated = keys.length > page.length;
    // encoding-type=url: keys and prefix form-encoded (space → "+"), as S3 does; otherwise as
    // XML text, control characters as numeric references (S3 sends "&#13;" for a CR).
    const urlEncoded = query["encoding-type"] === "url";
    const keyText = (k: string): string => (urlEncoded ? formEncode(k) : xml(k));
    const contents = page
      .map((k) => `<Contents><Key>${keyText(k)}</Key><Size>${bucket.get(k)!.body.length}</Size><ETag>${xml(bucket.get(k)!.etag)}</ETag><StorageClass>STANDARD</StorageClass></Contents>`)
      .join("");
    const next = truncated ? `<NextContinuationToken>${Buffer.from(page[page.length - 1]!, "utf8").toString("base64url")}</NextContinuationToken>` : "";
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xml(name)}</Name><Prefix>${keyText(prefix)}</Prefix>${urlEncoded ? "<EncodingType>url</EncodingType>" : ""}<KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents}${next}</ListBucketResult>`;
    record.status = 200;
    res.writeHead(200, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  /** undefined = the signature checks out (or anonymous access is allowed). */
  async function verify(req: IncomingMessage, path: string, query: Record<string, string>, record: S3Record): Promise<{ code: string; message: string } | undefined> {
    const authorization = header(req, "authorization");
    if (authorization === undefined) return options.allowAnonymous ? undefined : { code: "AccessDenied", message: "Access Denied" };
    const auth = parseAuthorization(authorization);
    if (auth === undefined || auth.service !== "s3") return { code: "AuthorizationHeaderMalformed", message: "The authorization header is malformed" };
    record.accessKeyId = auth.accessKeyId;
    record.securityToken = header(req, "x-amz-security-token");
    const secret = options.credentials[auth.accessKeyId];
    if (secret === undefined) return { code: "InvalidAccessKeyId", message: "The AWS Access Key Id you provided does not exist in our records." };
    const date = parseAmzDate(header(req, "x-amz-date") ?? "");
    const required = ["host", "x-amz-date", "x-amz-content-sha256"];
    const unsignedAmz = Object.keys(req.headers).filter((name) => name.startsWith("x-amz-") && !auth.signedHeaders.includes(name));
    if (date === undefined || auth.region !== region || required.some((name) => !auth.signedHeaders.includes(name)) || unsignedAmz.length > 0) {
      return { code: "AuthorizationHeaderMalformed", message: `signed headers must include ${required.join(", ")} and every x-amz-* header; region must be ${region}` };
    }
    const signed: Record<string, string> = {};
    for (const name of auth.signedHeaders) {
      if (name === "host" || name === "x-amz-date" || name === "x-amz-security-token") continue;
      const value = header(req, name);
      if (value === undefined) return { code: "AccessDenied", message: `signed header ${name} is missing` };
      signed[name] = value;
    }
    const [hostname, port] = (header(req, "host") ?? "").split(":");
    const expected = await signRequest(
      { method: req.method as "GET" | "HEAD", target: { origin: "", host: header(req, "host") ?? "", hostname: hostname ?? "", port: port ? Number(port) : undefined, protocol: "http:", path }, headers: signed, query },
      region,
      { accessKeyId: auth.accessKeyId, secretAccessKey: secret, sessionToken: record.securityToken },
      date,
    );
    if (expected.authorization !== authorization) {
      return { code: "SignatureDoesNotMatch", message: "The request signature we calculated does not match the signature you provided. Check your key and signing method." };
    }
    return undefined;
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    requests,
    put(bucket, key, body) {
      const bytes = typeof body === "string" ? Buffer.from(body) : body;
      if (!buckets.has(bucket)) buckets.set(bucket, new Map());
      buckets.get(bucket)!.set(key, { body: bytes, etag: `"${createHash("md5").update(bytes).digest("hex")}"` });
    },
    remove(bucket, key) {
      buckets.get(bucket)?.delete(key);
    },
    afterGets(count, action) {
      triggers.push({ at: count, action });
    },
    fault(fault) {
      faults.push(fault);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

function reply(res: ServerResponse, record: S3Record, status: number, code: string, message: string, headOnly = false): void {
  record.status = status;
  record.errorCode = code;
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message></Error>`;
  res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
  res.end(headOnly ? undefined : body);
}

function answerFault(res: ServerResponse, record: S3Record, answer: S3FaultAnswer): void {
  if (answer === "reset") {
    record.status = 0;
    record.errorCode = "reset";
    res.socket?.destroy();
    return;
  }
  if (answer.body === undefined) return reply(res, record, answer.status, answer.code ?? "InternalError", "injected fault");
  record.status = answer.status;
  record.errorCode = answer.code;
  res.writeHead(answer.status, { "content-length": Buffer.byteLength(answer.body), ...answer.headers });
  res.end(answer.body);
}

function xml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;")
    .replace(/[\x00-\x1f]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** application/x-www-form-urlencoded, S3's encoding-type=url: "+" for a space, "%2B" for "+". */
function formEncode(text: string): string {
  return encodeURIComponent(text).replace(/%20/g, "+");
}
