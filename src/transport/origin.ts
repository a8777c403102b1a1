// The back-to-source HTTP client: HEAD for the length, ranged GETs per piece, or one
// streamed GET when the origin cannot do ranges or lengths. undici 7 Agent (one pool of
// `connections` sockets per origin); redirects are followed here, not by undici, so the
// header rules below hold on every hop.
//
// Error mapping (cli.md exit codes), decided on error codes, never on message text:
//   ECONNREFUSED, ENOTFOUND, EAI_AGAIN, ECONNRESET/socket closed before a response → 7
//   HTTP status ≥ 400 → 22 (status in the message)
//   body cut short (socket error mid-body, fewer bytes than asked/announced) → 18
//   connect deadline → 28, phase "origin-connect" (as curl --connect-timeout gives 28)
//   no headers / no body bytes within readTimeoutMs → 28, phase "origin"
//   aborted through the caller's signal → the signal's reason, untouched.
import { STATUS_CODES } from "node:http";
import { Agent } from "undici";
import { redactUrl } from "../net/redact.js";

export { redactUrl };
import type { Dispatcher } from "undici";
import {
  DfgetError,
  ExitCode,
  OriginHttpError,
  OriginUnreachableError,
  PartialTransferError,
  TimeoutError,
  UsageError,
  messageOf,
} from "../errors.js";

export interface OriginInfo {
  /** Final URL after redirects. May carry userinfo: print it only through redactUrl(). */
  url: string;
  /** undefined when the origin sends no length (chunked) or refused the HEAD. */
  contentLength?: number;
  acceptsRanges: boolean;
  status: number;
  headers: Record<string, string>;
}

export interface OriginClientOptions {
  /** `-H` headers, sent on every request in this order. */
  headers: Array<[string, string]>;
  connectTimeoutMs: number;
  /** Deadline for the response headers, then for each gap between body chunks. */
  readTimeoutMs: number;
  maxRedirects?: number;
  /** Pool size per origin. */
  connections?: number;
  /** Sent as User-Agent unless `headers` has one, e.g. "dfget/0.1.0". */
  userAgent?: string;
}

/** The origin answered a ranged GET with 200 (or another range): fetch the file in one GET. */
export class RangeNotSupportedError extends DfgetError {
  constructor(message: string) {
    super(message, "ERR_RANGE_NOT_SUPPORTED", ExitCode.other);
    this.name = "RangeNotSupportedError";
  }
}

/** Too many redirects (a loop), or a redirect without a usable Location. curl's 47 has no
 *  row in our table, so this is "other failure" (1). */
export class OriginRedirectError extends DfgetError {
  constructor(message: string) {
    super(message, "ERR_ORIGIN_REDIRECT", ExitCode.other);
    this.name = "OriginRedirectError";
  }
}

const DEFAULT_MAX_REDIRECTS = 10;
const DEFAULT_CONNECTIONS = 8;
const DISCARD_LIMIT_BYTES = 64 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** HEAD refusals that say nothing about GET. 403: S3/GCS presigned URLs are signed for GET only. */
const HEAD_REFUSED_STATUSES = new Set([403, 405, 501]);
/** Sent only to the origin of the first URL this client is asked for (curl does the same). */
const HOME_ONLY_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "host"]);
/** undici rejects these (they belong to the connection, not the request). */
const FORBIDDEN_HEADERS = new Set(["transfer-encoding", "keep-alive", "upgrade", "expect", "content-length"]);
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "ECONNRESET", "ECONNABORTED", "EPIPE",
  "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN", "ETIMEDOUT", "UND_ERR_SOCKET",
]);
const CUT_SHORT_CODES = new Set(["UND_ERR_SOCKET", "ECONNRESET", "ECONNABORTED", "EPIPE", "UND_ERR_RES_CONTENT_LENGTH_MISMATCH"]);


function describeStatus(status: number): string {
  const text = STATUS_CODES[status];
  return text ? `${status} ${text}` : String(status);
}

function unexpectedStatus(status: number, url: URL): DfgetError {
  const message = `origin answered ${describeStatus(status)} for ${redactUrl(url)}`;
  return status >= 400 ? new OriginHttpError(status, message) : new DfgetError(message, "ERR_ORIGIN_STATUS");
}

function flattenHeaders(headers: Dispatcher.ResponseData["headers"]): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

function parseLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  const length = Number(value);
  return Number.isSafeInteger(length) ? length : undefined;
}

/** An errno/undici code; Node's happy-eyeballs connect may throw an AggregateError. */
function errorCode(err: unknown): string | undefined {
  if (err instanceof AggregateError && err.errors.length > 0 && !("code" in err)) return errorCode(err.errors[0]);
  const code = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
  return typeof code === "string" ? code : undefined;
}

function parseOriginUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new UsageError(`not a valid URL: ${redactUrl(input)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`only http and https origins are supported, not ${url.protocol} (${redactUrl(url)})`);
  }
  return url;
}

async function discard(body: Dispatcher.ResponseData["body"]): Promise<void> {
  // A failure while throwing away an error page must not hide the status we report.
  await body.dump({ limit: DISCARD_LIMIT_BYTES }).catch(() => undefined);
}

interface Answer {
  response: Dispatcher.ResponseData;
  url: URL;
}

export class OriginClient {
  private readonly agent: Agent;
  private readonly userHeaders: Array<[string, string]>;
  private readonly userAgent: string | undefined;
  private readonly maxRedirects: number;
  private readonly connectTimeoutMs: number;
  private readonly readTimeoutMs: number;
  /** Origin of the first URL asked for: the user's. Credential headers go nowhere else,
   *  so a final URL handed back after a cross-origin redirect stays credential-free. */
  private homeOrigin: string | undefined;

  constructor(opts: OriginClientOptions) {
    for (const [name] of opts.headers) {
      if (FORBIDDEN_HEADERS.has(name.toLowerCase())) throw new UsageError(`header ${name} cannot be set on origin requests`);
    }
    this.userHeaders = opts.headers.map(([name, value]): [string, string] => [name, value]);
    const hasUserAgent = opts.headers.some(([name]) => name.toLowerCase() === "user-agent");
    this.userAgent = hasUserAgent ? undefined : (opts.userAgent ?? "dfget");
    this.maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    this.connectTimeoutMs = opts.connectTimeoutMs;
    this.readTimeoutMs = opts.readTimeoutMs;
    this.agent = new Agent({
      connections: opts.connections ?? DEFAULT_CONNECTIONS,
      connect: { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.readTimeoutMs,
      bodyTimeout: opts.readTimeoutMs,
    });
  }

  /** Length and range support. A refused HEAD (403/405/501) is not an error: the info
   *  then has no contentLength and acceptsRanges false, and the caller streams one GET. */
  async head(url: string, signal?: AbortSignal): Promise<OriginInfo> {
    const { response, url: final } = await this.send("HEAD", url, [], signal);
    await discard(response.body);
    const status = response.statusCode;
    const headers = flattenHeaders(response.headers);
    if (status >= 200 && status < 300) {
      const acceptsRanges = /\bbytes\b/i.test(headers["accept-ranges"] ?? "");
      return { url: final.href, contentLength: parseLength(headers["content-length"]), acceptsRanges, status, headers };
    }
    if (HEAD_REFUSED_STATUSES.has(status)) return { url: final.href, acceptsRanges: false, status, headers };
    throw unexpectedStatus(status, final);
  }

  /** Exactly `length` bytes from `offset`. A 200 (range ignored) or a different range →
   *  RangeNotSupportedError; fewer bytes → PartialTransferError; 416 → OriginHttpError. */
  async getRange(url: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const piece = Buffer.allocUnsafe(length);
    await this.getRangeInto(url, offset, length, (chunk, position) => void chunk.copy(piece, position - offset), signal);
    return piece;
  }

  /**
   * One ranged GET whose body goes to `sink` chunk by chunk, each awaited (backpressure),
   * with `position` the chunk's offset in the file — so a piece never has to sit in
   * memory whole. Exactly `length` bytes arrive, or an error is thrown.
   */
  async getRangeInto(
    url: string,
    offset: number,
    length: number,
    sink: (chunk: Buffer, position: number) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<void> {
    if (length === 0) return;
    const last = offset + length - 1;
    const { response, url: final } = await this.send("GET", url, [["range", `bytes=${offset}-${last}`]], signal);
    const status = response.statusCode;
    const where = `range ${offset}-${last} of ${redactUrl(final)}`;
    if (status === 200) {
      response.body.destroy(); // do not pull the whole file over this socket
      throw new RangeNotSupportedError(`origin ignored the Range header (200 instead of 206) for ${where}`);
    }
    if (status !== 206) {
      await discard(response.body);
      throw unexpectedStatus(status, final);
    }
    const contentRange = /^bytes (\d+)-\d+\//i.exec(String(response.headers["content-range"] ?? ""));
    if (contentRange && Number(contentRange[1]) !== offset) {
      response.body.destroy();
      throw new RangeNotSupportedError(`origin answered ${String(response.headers["content-range"])} for ${where}`);
    }
    let received = 0;
    await this.pump(response, final, signal, () => `${received} of ${length} bytes of ${where}`, (chunk) => {
      if (received + chunk.length > length) throw new RangeNotSupportedError(`origin sent more than ${length} bytes for ${where}`);
      const position = offset + received;
      received += chunk.length;
      return sink(chunk, position);
    });
    if (received < length) throw new PartialTransferError(`origin sent ${received} of ${length} bytes of ${where}`);
  }

  /** The whole file in one GET, each chunk awaited (backpressure). Errors thrown by
   *  onChunk propagate unchanged. Fewer bytes than Content-Length → PartialTransferError. */
  async streamWhole(
    url: string,
    onChunk: (chunk: Buffer) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<{ bytes: number; contentLength?: number }> {
    const { response, url: final } = await this.send("GET", url, [], signal);
    const status = response.statusCode;
    if (status < 200 || status >= 300) {
      await discard(response.body);
      throw unexpectedStatus(status, final);
    }
    const contentLength = parseLength(flattenHeaders(response.headers)["content-length"]);
    const expected = contentLength === undefined ? "" : ` of ${contentLength}`;
    let bytes = 0;
    await this.pump(response, final, signal, () => `${bytes}${expected} bytes of ${redactUrl(final)}`, async (chunk) => {
      bytes += chunk.length;
      await onChunk(chunk);
    });
    if (contentLength !== undefined && bytes < contentLength) {
      throw new PartialTransferError(`origin sent ${bytes} of ${contentLength} bytes of ${redactUrl(final)}`);
    }
    return { bytes, contentLength };
  }

  /** Fails requests still in flight; idle sockets are closed. */
  async close(): Promise<void> {
    await this.agent.destroy();
  }

  /** One request, redirects followed (at most maxRedirects hops). */
  private async send(method: "HEAD" | "GET", input: string, extra: Array<[string, string]>, signal?: AbortSignal): Promise<Answer> {
    let url = parseOriginUrl(input);
    this.homeOrigin ??= url.origin;
    for (let hops = 0; ; hops++) {
      const response = await this.dispatch(method, url, extra, signal);
      if (!REDIRECT_STATUSES.has(response.statusCode)) return { response, url };
      await discard(response.body);
      const location = response.headers.location;
      if (typeof location !== "string" || location === "") {
        throw new OriginRedirectError(`origin answered ${describeStatus(response.statusCode)} without a Location for ${redactUrl(url)}`);
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new OriginRedirectError(`origin redirected to an invalid URL from ${redactUrl(url)}`);
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new OriginRedirectError(`origin redirected to a ${next.protocol} URL from ${redactUrl(url)}`);
      }
      if (hops >= this.maxRedirects) {
        throw new OriginRedirectError(
          `origin redirected more than ${this.maxRedirects} times (last: ${redactUrl(url)} → ${redactUrl(next)}); a redirect loop?`,
        );
      }
      url = next;
    }
  }

  private async dispatch(method: "HEAD" | "GET", url: URL, extra: Array<[string, string]>, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
    try {
      return await this.agent.request({ origin: url.origin, path: url.pathname + url.search, method, headers: this.headersFor(url, extra), signal });
    } catch (err) {
      throw this.translate(err, "request", url, signal, "");
    }
  }

  /** -H headers on every hop, minus credentials off the home origin; `extra` (Range) wins. */
  private headersFor(url: URL, extra: Array<[string, string]>): string[] {
    const home = url.origin === this.homeOrigin;
    const replaced = new Set(extra.map(([name]) => name.toLowerCase()));
    const flat: string[] = [];
    for (const [name, value] of this.userHeaders) {
      const lower = name.toLowerCase();
      if (replaced.has(lower) || (!home && HOME_ONLY_HEADERS.has(lower))) continue;
      flat.push(name, value);
    }
    for (const [name, value] of extra) flat.push(name, value);
    if (this.userAgent !== undefined) flat.push("user-agent", this.userAgent);
    const hasAuthorization = flat.some((value, index) => index % 2 === 0 && value.toLowerCase() === "authorization");
    if (!hasAuthorization && (url.username !== "" || url.password !== "")) {
      const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      flat.push("authorization", `Basic ${Buffer.from(pair).toString("base64")}`);
    }
    return flat;
  }

  /** Reads the body chunk by chunk. Transport errors are translated (progress() names how
   *  far we got); errors thrown by onChunk are passed on as they are. */
  private async pump(
    response: Dispatcher.ResponseData,
    url: URL,
    signal: AbortSignal | undefined,
    progress: () => string,
    onChunk: (chunk: Buffer) => Promise<void> | void,
  ): Promise<void> {
    const chunks = response.body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = (await chunks.next()) as IteratorResult<Buffer>;
      } catch (err) {
        throw this.translate(err, "body", url, signal, progress());
      }
      if (next.done) return;
      try {
        await onChunk(next.value);
      } catch (err) {
        response.body.destroy();
        throw err;
      }
    }
  }

  private translate(err: unknown, stage: "request" | "body", url: URL, signal: AbortSignal | undefined, progress: string): unknown {
    if (signal?.aborted) return signal.reason;
    if (err instanceof DfgetError) return err;
    const code = errorCode(err);
    const where = redactUrl(url);
    const options = { cause: err };
    if (code === "UND_ERR_CONNECT_TIMEOUT") {
      return new TimeoutError("origin-connect", `origin ${url.host}: no connection within ${this.connectTimeoutMs} ms for ${where}`, options);
    }
    if (code === "UND_ERR_HEADERS_TIMEOUT") {
      return new TimeoutError("origin", `origin sent no response within ${this.readTimeoutMs} ms for ${where}`, options);
    }
    if (code === "UND_ERR_BODY_TIMEOUT") {
      return new TimeoutError("origin", `origin sent no data for ${this.readTimeoutMs} ms after ${progress}`, options);
    }
    if (code !== undefined && stage === "request" && UNREACHABLE_CODES.has(code)) {
      return new OriginUnreachableError(`origin ${url.host} unreachable (${code}) for ${where}`, options);
    }
    if (code !== undefined && stage === "body" && CUT_SHORT_CODES.has(code)) {
      return new PartialTransferError(`origin connection ended (${code}) after ${progress}`, options);
    }
    return new DfgetError(`origin request failed for ${where}: ${code ?? messageOf(err)}`, "ERR_ORIGIN", ExitCode.other, options);
  }
}
