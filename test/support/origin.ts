// A fake HTTP origin (node:http on 127.0.0.1:0) for every end-to-end test that downloads
// back-to-source. Files are Buffers served by slicing (subarray, no copies), so a 64 MiB
// file costs 64 MiB once. Per-path fault switches reproduce origins as they are in the
// wild (no ranges, no length, HEAD refused) and broken ones (errors, stalls, cut bodies).
//
// Normal behaviour: HEAD → 200 with Content-Length and Accept-Ranges: bytes; GET with
// `Range: bytes=a-b` (also `a-` and `-n`) → 206 with Content-Range; an unsatisfiable
// range → 416 with `Content-Range: bytes */size`; an unparsable or multi-part Range is
// ignored (200, full body, as RFC 9110 allows); unknown path → 404. Paths are matched
// without their query string, so presigned-looking URLs work. Every answer carries a
// strong ETag and a Last-Modified of the content's version (setValidators changes that),
// and If-Range is honoured: a stale validator gets 200 with the whole current object.
// Hostile faults: the object replaced or grown mid-download, Range ignored, 206 bodies
// past the asked end, drips, and any fault on only the first N GETs ("times"), e.g. a
// 429/503 with Retry-After (a "status" fault with headers) before normal service.
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";

export type OriginFault =
  /** Every method on the path gets this status and a short text body, with `headers`
   *  (e.g. retry-after, or a fixed date) besides content-type and content-length. */
  | { kind: "status"; status: number; headers?: Record<string, string> }
  /** afterBytes undefined: never answer at all (no headers). afterBytes = n: send the
   *  headers and the first n body bytes of a GET, then nothing: ended only by close(), or,
   *  with `until`, the rest of the body is sent once that settles (a test's own gate). */
  | { kind: "stall"; afterBytes?: number; until?: Promise<void> }
  /** Send the headers and the first afterBytes body bytes of a GET, then drop the socket. */
  | { kind: "close-mid-body"; afterBytes: number }
  /** Ignore Range and answer 200 with the full body; no Accept-Ranges. */
  | { kind: "no-range" }
  /** Chunked GET without Content-Length, Range ignored; HEAD has no Content-Length either. */
  | { kind: "no-length" }
  /** HEAD → 405 (Allow: GET); GET behaves normally. */
  | { kind: "head-405" }
  /** HEAD → this status (503, 404…); GET behaves normally, or with ignoreRange answers
   *  every GET 200 with the whole object. An origin whose HEAD is broken. */
  | { kind: "head-status"; status: number; ignoreRange?: boolean }
  /** 302 to `to` (a path or an absolute URL) for every method. */
  | { kind: "redirect"; to: string }
  /** GET body trickles out at about this rate (in 50 ms ticks, or one byte a tick below 20 B/s). */
  | { kind: "slow"; bytesPerSecond: number }
  /** HEAD advertises ranges, but every GET answers 200 with the whole (same) object. */
  | { kind: "ignore-range" }
  /** A 206 whose range (Content-Range and body) runs `extra` bytes past the asked end. */
  | { kind: "over-send"; extra: number }
  /** After `afterGets` GETs the object is replaced by `content` (new ETag and Last-Modified).
   *  ignoreIfRange: the origin then answers ranges of the new object anyway (a broken cache). */
  | { kind: "replace"; afterGets: number; content: Buffer; ignoreIfRange?: boolean }
  /** After `afterGets` GETs `extra` is appended; the ETag stays (an appended log), If-Range matches. */
  | { kind: "grow"; afterGets: number; extra: Buffer }
  /** Every answer's head carries an `x-padding` field of `bytes` bytes (big cookies, CSP, metadata). */
  | { kind: "big-header"; bytes: number }
  /** The inner fault on the first `count` GETs of the path (HEAD excluded), then normal
   *  service — or `after` on every other request (HEAD included). */
  | { kind: "times"; count: number; fault: OriginFault; after?: OriginFault }
  /** The inner fault on GETs whose Range starts at or after `from` (a download that stops there). */
  | { kind: "from-offset"; from: number; fault: OriginFault };

/** Which validators the origin sends (and honours in If-Range). Default "both", as nginx. */
export type OriginValidators = "both" | "etag" | "last-modified" | "weak-etag" | "none";

export interface RecordedRequest {
  method: string;
  /** As sent, query string included. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  range?: string;
  /** Status answered; 0 while no headers have been sent (e.g. a stall). */
  status: number;
  /** When the request arrived (performance.now(), ms): gaps between requests are lower bounds only. */
  at: number;
  /** Content bytes this answer handed to the kernel: what one request cost, whatever else
   *  the origin served meanwhile (bytesServedFor counts every request to the path). */
  bytesSent: number;
}

export interface FakeOrigin {
  readonly port: number;
  url(path: string): string;
  setFile(path: string, content: Buffer): void;
  /** File content bytes handed to the kernel (write callbacks without error), all requests. */
  bytesServed(): number;
  readonly requests: RecordedRequest[];
  setFault(path: string, fault: OriginFault | undefined): void;
  setValidators(path: string, validators: OriginValidators): void;
  /** Content bytes served per path (the resume test counts what a rerun fetched). */
  bytesServedFor(path: string): number;
  /** Destroys every socket (ending stalls and trickles), then stops listening. */
  close(): Promise<void>;
}

const WRITE_CHUNK_BYTES = 256 * 1024;
const SLOW_TICK_MS = 50;

type ByteRange = { start: number; end: number } | "unsatisfiable" | undefined;

/** `end` is exclusive. undefined = ignore the header and serve the whole file. */
function parseRange(header: string | undefined, size: number): ByteRange {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(match[1]);
  const last = match[2] === "" ? size - 1 : Number(match[2]);
  if (last < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(last, size - 1) + 1 };
}

/** A fixed Last-Modified per content version: a day before "now" plus the version number. */
function lastModifiedOf(version: number): string {
  return new Date(Date.UTC(2026, 0, 1, 0, 0, version)).toUTCString();
}

/** The fault in force for this request: `times` applies to the first GETs only. */
function faultFor(fault: OriginFault | undefined, method: string, getsSoFar: number, range: string | undefined): OriginFault | undefined {
  if (fault?.kind === "from-offset") {
    const start = /^bytes=(\d+)-/.exec(range ?? "");
    return method === "GET" && start && Number(start[1]) >= fault.from ? fault.fault : undefined;
  }
  if (fault?.kind !== "times") return fault;
  if (method !== "GET") return fault.after;
  return getsSoFar <= fault.count ? fault.fault : fault.after;
}

/** `tls`: serve HTTPS with this key and certificate (PEM) instead of plain HTTP. */
export async function startOrigin(opts: { files?: Record<string, Buffer>; tls?: { key: Buffer; cert: Buffer } } = {}): Promise<FakeOrigin> {
  const files = new Map<string, { content: Buffer; version: number }>(Object.entries(opts.files ?? {}).map(([k, v]) => [k, { content: v, version: 1 }]));
  const faults = new Map<string, OriginFault>();
  const validators = new Map<string, OriginValidators>();
  const gets = new Map<string, number>();
  const servedByPath = new Map<string, number>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const requests: RecordedRequest[] = [];
  let served = 0;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  /** Resolves true once the chunk reached the kernel, false if the socket died first. */
  const writeCounted = (res: http.ServerResponse, chunk: Buffer, record: RecordedRequest, pathname: string): Promise<boolean> =>
    new Promise((resolve) => {
      if (res.destroyed) return resolve(false);
      const onClose = (): void => resolve(false);
      res.once("close", onClose);
      res.write(chunk, (err) => {
        res.off("close", onClose);
        if (!err) {
          served += chunk.length;
          servedByPath.set(pathname, (servedByPath.get(pathname) ?? 0) + chunk.length);
          record.bytesSent += chunk.length;
        }
        resolve(!err);
      });
    });

  const writeBody = async (res: http.ServerResponse, body: Buffer, fault: OriginFault | undefined, record: RecordedRequest, pathname: string): Promise<void> => {
    let limit = body.length;
    if (fault?.kind === "stall" || fault?.kind === "close-mid-body") limit = Math.min(limit, fault.afterBytes ?? 0);
    res.flushHeaders(); // the headers go out even when no body byte will
    let step = WRITE_CHUNK_BYTES;
    let tick = SLOW_TICK_MS;
    if (fault?.kind === "slow") {
      step = Math.max(1, Math.floor((fault.bytesPerSecond * SLOW_TICK_MS) / 1000));
      if (fault.bytesPerSecond * SLOW_TICK_MS < 1000) tick = Math.ceil(1000 / Math.max(fault.bytesPerSecond, 0.001));
    }
    for (let offset = 0; offset < limit; offset += step) {
      if (!(await writeCounted(res, body.subarray(offset, Math.min(offset + step, limit)), record, pathname))) return;
      if (fault?.kind === "slow" && offset + step < limit) await sleep(tick);
    }
    if (fault?.kind === "stall") {
      // Hold the socket open until the client or close() ends it, or the gate opens.
      if (fault.until === undefined || fault.afterBytes === undefined) return;
      await fault.until;
      for (let offset = limit; offset < body.length; offset += WRITE_CHUNK_BYTES) {
        if (!(await writeCounted(res, body.subarray(offset, Math.min(offset + WRITE_CHUNK_BYTES, body.length)), record, pathname))) return;
      }
    }
    if (fault?.kind === "close-mid-body") {
      res.socket?.destroy();
      return;
    }
    res.end();
  };

  /** The object as this GET sees it: `replace` and `grow` take effect after their count. */
  const currentFile = (pathname: string, fault: OriginFault | undefined, getsSoFar: number): { content: Buffer; version: number; etagSize?: number } | undefined => {
    const file = files.get(pathname);
    if (!file) return undefined;
    if (fault?.kind === "replace" && getsSoFar > fault.afterGets) return { content: fault.content, version: file.version + 1 };
    if (fault?.kind === "grow" && getsSoFar > fault.afterGets) {
      return { content: Buffer.concat([file.content, fault.extra]), version: file.version, etagSize: file.content.length };
    }
    return file;
  };

  const validatorHeaders = (pathname: string, version: number, size: number): http.OutgoingHttpHeaders => {
    const mode = validators.get(pathname) ?? "both";
    const etag = `"v${version}-${size.toString(16)}"`;
    const headers: http.OutgoingHttpHeaders = {};
    if (mode === "both" || mode === "etag") headers.etag = etag;
    if (mode === "weak-etag") headers.etag = `W/${etag}`;
    if (mode === "both" || mode === "last-modified") headers["last-modified"] = lastModifiedOf(version);
    return headers;
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const pathname = new URL(path, "http://origin.invalid").pathname;
    const range = typeof req.headers.range === "string" ? req.headers.range : undefined;
    const record: RecordedRequest = { method, path, headers: { ...req.headers }, range, status: 0, at: performance.now(), bytesSent: 0 };
    requests.push(record);
    const answer = (status: number, headers: http.OutgoingHttpHeaders, text?: string): void => {
      record.status = status;
      const body = text === undefined || method === "HEAD" ? undefined : Buffer.from(text);
      res.writeHead(status, { "content-length": String(text === undefined ? 0 : Buffer.byteLength(text)), ...headers });
      res.end(body);
    };

    const getsSoFar = method === "GET" ? (gets.get(pathname) ?? 0) + 1 : (gets.get(pathname) ?? 0);
    if (method === "GET") gets.set(pathname, getsSoFar);
    const configured = faults.get(pathname);
    const fault = faultFor(configured, method, getsSoFar, range);
    if (fault?.kind === "status") return answer(fault.status, { "content-type": "text/plain", ...fault.headers }, `${http.STATUS_CODES[fault.status] ?? "status"}\n`);
    if (fault?.kind === "head-status" && method === "HEAD") return answer(fault.status, { "content-type": "text/plain" });
    if (fault?.kind === "redirect") return answer(302, { location: fault.to });
    if (fault?.kind === "stall" && fault.afterBytes === undefined) return; // never answer
    const file = currentFile(pathname, fault, getsSoFar);
    if (!file) return answer(404, { "content-type": "text/plain" }, "Not Found\n");
    if (method !== "GET" && method !== "HEAD") return answer(405, { allow: "GET, HEAD" });
    if (method === "HEAD" && fault?.kind === "head-405") return answer(405, { allow: "GET" });

    const content = file.content;
    const headers: http.OutgoingHttpHeaders = { "content-type": "application/octet-stream", ...validatorHeaders(pathname, file.version, file.etagSize ?? content.length) };
    // If-Range (RFC 9110 §13.1.5): a range only while the validator still matches.
    const ifRange = req.headers["if-range"];
    const ifRangeMatches = ifRange === undefined || ifRange === headers.etag || ifRange === headers["last-modified"] ||
      (fault?.kind === "replace" && fault.ignoreIfRange === true);
    const advertisesRanges = fault?.kind !== "no-range" && fault?.kind !== "no-length";
    const ignoresRange = fault?.kind === "ignore-range" || (fault?.kind === "head-status" && fault.ignoreRange === true);
    const honoursRange = advertisesRanges && !ignoresRange && ifRangeMatches;
    if (advertisesRanges) headers["accept-ranges"] = "bytes";
    if (fault?.kind === "big-header") headers["x-padding"] = "p".repeat(fault.bytes);
    let status = 200;
    let body = content;
    if (honoursRange) {
      const parsed = parseRange(range, content.length);
      if (parsed === "unsatisfiable") return answer(416, { "content-range": `bytes */${content.length}` });
      if (parsed) {
        const end = fault?.kind === "over-send" ? Math.min(content.length, parsed.end + fault.extra) : parsed.end;
        status = 206;
        headers["content-range"] = `bytes ${parsed.start}-${end - 1}/${content.length}`;
        body = content.subarray(parsed.start, end);
      }
    }
    if (fault?.kind !== "no-length") headers["content-length"] = String(body.length);
    record.status = status;
    res.writeHead(status, headers);
    if (method === "HEAD") {
      res.end();
      return;
    }
    void writeBody(res, body, fault, record, pathname);
  };

  const server = opts.tls ? https.createServer(opts.tls, handle) : http.createServer(handle);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: (path) => `${opts.tls ? "https" : "http"}://127.0.0.1:${port}${path.startsWith("/") ? path : `/${path}`}`,
    setFile: (path, content) => void files.set(path, { content, version: (files.get(path)?.version ?? 0) + 1 }),
    bytesServed: () => served,
    bytesServedFor: (path) => servedByPath.get(path) ?? 0,
    setValidators: (path, mode) => void validators.set(path, mode),
    requests,
    setFault: (path, fault) => {
      gets.delete(path); // counts in `times`, `replace` and `grow` start from the fault
      if (fault === undefined) faults.delete(path);
      else faults.set(path, fault);
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
