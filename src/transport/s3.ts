// Back-to-source for s3:// URLs: signed HEAD, signed ranged GETs pinned to the HEAD's
// ETag with If-Match, and ListObjectsV2 (see s3-listing.ts). The same surface as the
// HTTP origin client (head / getRangeInto / streamWhole / close), so the engine fetches
// pieces from either without knowing which.
//
// Error mapping (cli.md exit codes):
//   403/401/4xx/5xx → 22 with S3's error code (SignatureDoesNotMatch, AccessDenied,
//   NoSuchKey…) in the message; a HEAD has no error body, so a failed HEAD is asked
//   again as a one-byte GET to learn the code.   412 on a pinned GET → 18 (object changed,
//   ObjectChangedError naming both ETags).
//   Connect refused/DNS → 7; deadlines → 28; body cut short → 18.
// Secrets: nothing here prints a header, and messages name only bucket, key and endpoint.
import { Agent } from "./undici-agent.js";
import { rangeToBuffer } from "./range-buffer.js";
import type { Dispatcher } from "undici";
import {
  DfgetError,
  ExitCode,
  OriginHttpError,
  OriginUnreachableError,
  PartialTransferError,
  TimeoutError,
  messageOf,
} from "../errors.js";
import type { OriginInfo } from "./origin.js";
import { BadRangeAnswerError, ObjectChangedError } from "./response-check.js";
import { parseS3Url, requestTarget, type S3Settings } from "./s3-location.js";
import { queryString, signRequest } from "./s3-signing.js";
import { s3ErrorOf } from "./s3-xml.js";
import { CUT_SHORT_CODES, UNREACHABLE_CODES } from "./origin-errors.js";
import { pinVersion } from "./response-check.js";

export interface S3ClientOptions {
  connectTimeoutMs: number;
  /** Deadline for response headers, then for each gap between body chunks. */
  readTimeoutMs: number;
  connections?: number;
  userAgent?: string;
}

const ERROR_BODY_LIMIT = 64 * 1024;
const CREDENTIAL_HINT = "check --storage-access-key-id/--storage-access-key-secret (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)";

export class S3Client {
  private readonly agent: Agent;
  private readonly settings: S3Settings;
  private readonly opts: S3ClientOptions;
  /** ETag per s3:// URL from its HEAD: every later GET must see the same object. */
  private readonly pinned = new Map<string, string>();

  constructor(settings: S3Settings, opts: S3ClientOptions) {
    this.settings = settings;
    this.opts = opts;
    this.agent = new Agent({
      connections: opts.connections ?? 8,
      connect: { timeout: opts.connectTimeoutMs, rejectUnauthorized: !settings.insecureSkipVerify },
      headersTimeout: opts.readTimeoutMs,
      bodyTimeout: opts.readTimeoutMs,
    });
  }

  async head(url: string, signal?: AbortSignal): Promise<OriginInfo> {
    const { bucket, key } = parseS3Url(url);
    const response = await this.send("HEAD", bucket, key, {}, undefined, signal);
    await response.body.dump().catch(() => undefined);
    if (response.statusCode !== 200) {
      // HEAD answers carry no body; one byte of the object tells us S3's error code.
      const probe = await this.send("GET", bucket, key, { range: "bytes=0-0" }, undefined, signal);
      if (probe.statusCode >= 400) throw await this.failure(probe, bucket, key);
      await probe.body.dump().catch(() => undefined);
      throw new OriginHttpError(response.statusCode, `s3 answered ${response.statusCode} to HEAD ${this.where(bucket, key)}`);
    }
    const headers = flatten(response.headers);
    const etag = headers.etag;
    if (etag !== undefined && etag !== "") this.pinned.set(url, etag);
    const length = /^\d+$/.test(headers["content-length"] ?? "") ? Number(headers["content-length"]) : undefined;
    return { url, contentLength: length, acceptsRanges: true, status: 200, headers: withoutSecrets(headers), pin: pinVersion(headers) };
  }

  async getRange(url: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    return rangeToBuffer(this, url, offset, length, signal);
  }

  /** Exactly `length` bytes from `offset`, each chunk handed to `sink` at its file position. */
  async getRangeInto(
    url: string,
    offset: number,
    length: number,
    sink: (chunk: Buffer, position: number) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<void> {
    if (length === 0) return;
    const { bucket, key } = parseS3Url(url);
    const last = offset + length - 1;
    const response = await this.send("GET", bucket, key, { range: `bytes=${offset}-${last}`, ...this.pin(url) }, undefined, signal);
    if (response.statusCode !== 206) throw await this.failure(response, bucket, key);
    const contentRange = /^bytes (\d+)-(\d+)\//.exec(String(response.headers["content-range"] ?? ""));
    if (!contentRange || Number(contentRange[1]) !== offset || Number(contentRange[2]) !== last) {
      response.body.destroy();
      throw new BadRangeAnswerError(`s3 answered ${String(response.headers["content-range"])} for range ${offset}-${last} of ${this.where(bucket, key)}`);
    }
    let received = 0;
    await this.pump(response, signal, () => `${received} of ${length} bytes of range ${offset}-${last} of ${this.where(bucket, key)}`, (chunk) => {
      if (received + chunk.length > length) throw new PartialTransferError(`s3 sent more than ${length} bytes for range ${offset}-${last} of ${this.where(bucket, key)}`);
      const position = offset + received;
      received += chunk.length;
      return sink(chunk, position);
    });
    if (received < length) throw new PartialTransferError(`s3 sent ${received} of ${length} bytes of range ${offset}-${last} of ${this.where(bucket, key)}`);
  }

  /** The whole object in one GET (used for empty objects). */
  async streamWhole(url: string, onChunk: (chunk: Buffer) => Promise<void> | void, signal?: AbortSignal): Promise<{ bytes: number; contentLength?: number }> {
    const { bucket, key } = parseS3Url(url);
    const response = await this.send("GET", bucket, key, this.pin(url), undefined, signal);
    if (response.statusCode !== 200) throw await this.failure(response, bucket, key);
    const announced = Number(response.headers["content-length"] ?? Number.NaN);
    let bytes = 0;
    await this.pump(response, signal, () => `${bytes} bytes of ${this.where(bucket, key)}`, async (chunk) => {
      bytes += chunk.length;
      await onChunk(chunk);
    });
    if (Number.isSafeInteger(announced) && bytes < announced) throw new PartialTransferError(`s3 sent ${bytes} of ${announced} bytes of ${this.where(bucket, key)}`);
    return { bytes, contentLength: Number.isSafeInteger(announced) ? announced : undefined };
  }

  /** One signed request on a bucket (key "" = the bucket, with `query` for listings). */
  async send(method: "GET" | "HEAD", bucket: string, key: string, headers: Record<string, string>, query: Record<string, string> | undefined, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
    const target = requestTarget(this.settings, bucket, key);
    const all = this.settings.credentials
      ? await signRequest({ method, target, headers, query }, this.settings.region, this.settings.credentials)
      : { ...headers };
    delete all.host; // undici sets it from the origin
    if (this.opts.userAgent !== undefined) all["user-agent"] = this.opts.userAgent;
    const search = query === undefined ? "" : `?${queryString(query)}`;
    try {
      return await this.agent.request({ origin: target.origin, path: target.path + search, method, headers: all, signal });
    } catch (err) {
      throw this.translate(err, "request", bucket, key, signal, "");
    }
  }

  /** The error for a non-success answer, with S3's code when the body has one. */
  async failure(response: Dispatcher.ResponseData, bucket: string, key: string): Promise<DfgetError> {
    const status = response.statusCode;
    const text = await response.body.text().then((t) => t.slice(0, ERROR_BODY_LIMIT)).catch(() => "");
    const where = this.where(bucket, key);
    if (status === 412) return new ObjectChangedError(`ETag ${this.pinnedFor(bucket, key) ?? "?"}`, await this.currentVersion(bucket, key), where);
    const parsed = s3ErrorOf(text);
    const code = parsed?.code ?? `HTTP ${status}`;
    const detail = parsed?.message ? `: ${parsed.message}` : "";
    const hint = status === 403 || status === 401 ? ` (${this.settings.credentials ? CREDENTIAL_HINT : "no credentials given: " + CREDENTIAL_HINT})` : "";
    if (status >= 400) return new OriginHttpError(status, `s3 refused ${where}: ${status} ${code}${detail}${hint}`);
    return new DfgetError(`s3 answered ${status} for ${where}`, "ERR_ORIGIN_STATUS");
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private pin(url: string): Record<string, string> {
    const etag = this.pinned.get(url);
    return etag === undefined ? {} : { "if-match": etag };
  }

  /** What the object is now, for the message of a failed If-Match (best effort). */
  private async currentVersion(bucket: string, key: string): Promise<string> {
    try {
      const response = await this.send("HEAD", bucket, key, {}, undefined);
      await response.body.dump().catch(() => undefined);
      const etag = response.headers.etag;
      return response.statusCode === 200 && typeof etag === "string" ? `ETag ${etag}` : `HTTP ${response.statusCode}`;
    } catch {
      return "unknown";
    }
  }

  private pinnedFor(bucket: string, key: string): string | undefined {
    for (const [url, etag] of this.pinned) {
      const object = parseS3Url(url);
      if (object.bucket === bucket && object.key === key) return etag;
    }
    return undefined;
  }

  private where(bucket: string, key: string): string {
    const endpoint = this.settings.endpoint ? ` at ${this.settings.endpoint.host}` : "";
    return `s3://${bucket}/${key}${endpoint}`;
  }

  private async pump(response: Dispatcher.ResponseData, signal: AbortSignal | undefined, progress: () => string, onChunk: (chunk: Buffer) => Promise<void> | void): Promise<void> {
    const chunks = response.body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = (await chunks.next()) as IteratorResult<Buffer>;
      } catch (err) {
        throw this.translate(err, "body", "", "", signal, progress());
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

  private translate(err: unknown, stage: "request" | "body", bucket: string, key: string, signal: AbortSignal | undefined, progress: string): unknown {
    if (signal?.aborted) return signal.reason;
    if (err instanceof DfgetError) return err;
    const code = errorCode(err);
    const where = stage === "request" ? this.where(bucket, key) : progress;
    const options = { cause: err };
    if (code === "UND_ERR_CONNECT_TIMEOUT") return new TimeoutError("origin-connect", `s3: no connection within ${this.opts.connectTimeoutMs} ms for ${where}`, options);
    if (code === "UND_ERR_HEADERS_TIMEOUT") return new TimeoutError("origin", `s3 sent no response within ${this.opts.readTimeoutMs} ms for ${where}`, options);
    if (code === "UND_ERR_BODY_TIMEOUT") return new TimeoutError("origin", `s3 sent no data for ${this.opts.readTimeoutMs} ms after ${where}`, options);
    if (code !== undefined && stage === "request" && UNREACHABLE_CODES.has(code)) return new OriginUnreachableError(`s3 endpoint unreachable (${code}) for ${where}`, options);
    if (code !== undefined && stage === "body" && CUT_SHORT_CODES.has(code)) return new PartialTransferError(`s3 connection ended (${code}) after ${where}`, options);
    return new DfgetError(`s3 request failed for ${where}: ${code ?? messageOf(err)}`, "ERR_ORIGIN", ExitCode.other, options);
  }
}

function flatten(headers: Dispatcher.ResponseData["headers"]): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  return flat;
}

/** Response headers kept for reports, without anything credential-like. */
function withoutSecrets(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!/authorization|token|credential|signature/i.test(name)) kept[name] = value;
  return kept;
}

function errorCode(err: unknown): string | undefined {
  if (err instanceof AggregateError && err.errors.length > 0 && !("code" in err)) return errorCode(err.errors[0]);
  const code = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
  return typeof code === "string" ? code : undefined;
}
