// A fake HTTP origin (node:http on 127.0.0.1:0) for every end-to-end test that downloads
// back-to-source. Files are Buffers served by slicing (subarray, no copies), so a 64 MiB
// file costs 64 MiB once. Per-path fault switches reproduce origins as they are in the
// wild (no ranges, no length, HEAD refused) and broken ones (errors, stalls, cut bodies).
//
// Normal behaviour: HEAD → 200 with Content-Length and Accept-Ranges: bytes; GET with
// `Range: bytes=a-b` (also `a-` and `-n`) → 206 with Content-Range; an unsatisfiable
// range → 416 with `Content-Range: bytes */size`; an unparsable or multi-part Range is
// ignored (200, full body, as RFC 9110 allows); unknown path → 404. Paths are matched
// without their query string, so presigned-looking URLs work.
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type OriginFault =
  /** Every method on the path gets this status and a short text body. */
  | { kind: "status"; status: number }
  /** afterBytes undefined: never answer at all (no headers). afterBytes = n: send the
   *  headers and the first n body bytes of a GET, then nothing. Ended only by close(). */
  | { kind: "stall"; afterBytes?: number }
  /** Send the headers and the first afterBytes body bytes of a GET, then drop the socket. */
  | { kind: "close-mid-body"; afterBytes: number }
  /** Ignore Range and answer 200 with the full body; no Accept-Ranges. */
  | { kind: "no-range" }
  /** Chunked GET without Content-Length, Range ignored; HEAD has no Content-Length either. */
  | { kind: "no-length" }
  /** HEAD → 405 (Allow: GET); GET behaves normally. */
  | { kind: "head-405" }
  /** 302 to `to` (a path or an absolute URL) for every method. */
  | { kind: "redirect"; to: string }
  /** GET body trickles out at about this rate (in 50 ms ticks). */
  | { kind: "slow"; bytesPerSecond: number };

export interface RecordedRequest {
  method: string;
  /** As sent, query string included. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  range?: string;
  /** Status answered; 0 while no headers have been sent (e.g. a stall). */
  status: number;
}

export interface FakeOrigin {
  readonly port: number;
  url(path: string): string;
  setFile(path: string, content: Buffer): void;
  /** File content bytes handed to the kernel (write callbacks without error), all requests. */
  bytesServed(): number;
  readonly requests: RecordedRequest[];
  setFault(path: string, fault: OriginFault | undefined): void;
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

export async function startOrigin(opts: { files?: Record<string, Buffer> } = {}): Promise<FakeOrigin> {
  const files = new Map<string, Buffer>(Object.entries(opts.files ?? {}));
  const faults = new Map<string, OriginFault>();
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
  const writeCounted = (res: http.ServerResponse, chunk: Buffer): Promise<boolean> =>
    new Promise((resolve) => {
      if (res.destroyed) return resolve(false);
      const onClose = (): void => resolve(false);
      res.once("close", onClose);
      res.write(chunk, (err) => {
        res.off("close", onClose);
        if (!err) served += chunk.length;
        resolve(!err);
      });
    });

  const writeBody = async (res: http.ServerResponse, body: Buffer, fault: OriginFault | undefined): Promise<void> => {
    let limit = body.length;
    if (fault?.kind === "stall" || fault?.kind === "close-mid-body") limit = Math.min(limit, fault.afterBytes ?? 0);
    const step = fault?.kind === "slow" ? Math.max(1, Math.floor((fault.bytesPerSecond * SLOW_TICK_MS) / 1000)) : WRITE_CHUNK_BYTES;
    for (let offset = 0; offset < limit; offset += step) {
      if (!(await writeCounted(res, body.subarray(offset, Math.min(offset + step, limit))))) return;
      if (fault?.kind === "slow" && offset + step < limit) await sleep(SLOW_TICK_MS);
    }
    if (fault?.kind === "stall") return; // hold the socket open until the client or close() ends it
    if (fault?.kind === "close-mid-body") {
      res.socket?.destroy();
      return;
    }
    res.end();
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const pathname = new URL(path, "http://origin.invalid").pathname;
    const range = typeof req.headers.range === "string" ? req.headers.range : undefined;
    const record: RecordedRequest = { method, path, headers: { ...req.headers }, range, status: 0 };
    requests.push(record);
    const answer = (status: number, headers: http.OutgoingHttpHeaders, text?: string): void => {
      record.status = status;
      const body = text === undefined || method === "HEAD" ? undefined : Buffer.from(text);
      res.writeHead(status, { "content-length": String(text === undefined ? 0 : Buffer.byteLength(text)), ...headers });
      res.end(body);
    };

    const fault = faults.get(pathname);
    if (fault?.kind === "status") return answer(fault.status, { "content-type": "text/plain" }, `${http.STATUS_CODES[fault.status] ?? "status"}\n`);
    if (fault?.kind === "redirect") return answer(302, { location: fault.to });
    if (fault?.kind === "stall" && fault.afterBytes === undefined) return; // never answer
    const file = files.get(pathname);
    if (!file) return answer(404, { "content-type": "text/plain" }, "Not Found\n");
    if (method !== "GET" && method !== "HEAD") return answer(405, { allow: "GET, HEAD" });
    if (method === "HEAD" && fault?.kind === "head-405") return answer(405, { allow: "GET" });

    const honoursRange = fault?.kind !== "no-range" && fault?.kind !== "no-length";
    const headers: http.OutgoingHttpHeaders = { "content-type": "application/octet-stream" };
    let status = 200;
    let body = file;
    if (honoursRange) {
      headers["accept-ranges"] = "bytes";
      const parsed = parseRange(range, file.length);
      if (parsed === "unsatisfiable") return answer(416, { "content-range": `bytes */${file.length}` });
      if (parsed) {
        status = 206;
        headers["content-range"] = `bytes ${parsed.start}-${parsed.end - 1}/${file.length}`;
        body = file.subarray(parsed.start, parsed.end);
      }
    }
    if (fault?.kind !== "no-length") headers["content-length"] = String(body.length);
    record.status = status;
    res.writeHead(status, headers);
    if (method === "HEAD") {
      res.end();
      return;
    }
    void writeBody(res, body, fault);
  };

  const server = http.createServer(handle);
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
    url: (path) => `http://127.0.0.1:${port}${path.startsWith("/") ? path : `/${path}`}`,
    setFile: (path, content) => void files.set(path, content),
    bytesServed: () => served,
    requests,
    setFault: (path, fault) => void (fault === undefined ? faults.delete(path) : faults.set(path, fault)),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
