// The back-to-source HTTP client: HEAD for the length and the version, ranged GETs per
// piece, or one streamed GET when the origin cannot do ranges or lengths. undici 7 Agent
// (one pool of `connections` sockets per origin); redirects are followed here, not by
// undici, so the header rules below hold on every hop.
//
// Version pinning: the first HEAD's validator (response-check.ts) is kept for the life of
// the client and sent as If-Range on every ranged GET, and every answer is checked
// against it and against the first HEAD's size — so two versions are never spliced.
// Every GET body is watched by curl's low-speed rule (low-speed.ts, origin-body.ts); 206s
// go through the lean reader where it can (lean-range.ts). Error mapping:
// origin-errors.ts.
import { Agent } from "./undici-agent.js";
import { rangeToBuffer } from "./range-buffer.js";
import { redactUrl } from "../net/redact.js";
export { redactUrl };
import { OriginRedirectError, RangeNotSupportedError, describeStatus, translateOriginError, unexpectedStatus } from "./origin-errors.js";
export { OriginRedirectError, RangeNotSupportedError };
import { pumpBody } from "./origin-body.js";
import { readLeanRange } from "./lean-range.js";
import { discard, drop, flattenHeaders, parseLength, parseOriginUrl } from "./origin-http.js";
import { LowSpeedWatchdog } from "./low-speed.js";
import { MAX_HEAD_BYTES } from "./http-head.js";
import { RangeReader, type RangeSink } from "./range-reader.js";
import {
  ExactBytes,
  ObjectChangedError,
  checkRangeAnswer,
  describeVersion,
  ifRangeHeader,
  pinVersion,
  versionDiffers,
  type PinnedVersion,
} from "./response-check.js";

import type { Dispatcher } from "undici";
import { UsageError } from "../errors.js";

export interface OriginInfo {
  /** Final URL after redirects. May carry userinfo: print it only through redactUrl(). */
  url: string;
  /** undefined when the origin sends no length (chunked) or refused the HEAD. */
  contentLength?: number;
  acceptsRanges: boolean;
  status: number;
  headers: Record<string, string>;
  /** The validator this answer offers ({} = none usable); the client pins its first HEAD's. */
  pin: PinnedVersion;
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
  /** curl's --speed-limit in bytes/s over a readTimeoutMs window; default 1024, 0 = silence only. */
  lowSpeedLimit?: number;
  /** 206 bodies through the lean socket reader (default true); false: undici only. */
  leanRanges?: boolean;
  /** Extra CA for the lean reader's TLS (tests); undici uses the default store. */
  ca?: string | Buffer;
}

/** What a GET's answer is checked against: the size and version of the first HEAD. */
interface Pinned {
  size: number;
  pin: PinnedVersion;
}

const DEFAULT_MAX_REDIRECTS = 10;
const DEFAULT_CONNECTIONS = 8;
export const DEFAULT_LOW_SPEED_LIMIT = 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** HEAD refusals that say nothing about GET. 403: S3/GCS presigned URLs are signed for GET only. */
const HEAD_REFUSED_STATUSES = new Set([403, 405, 501]);
/** Sent only to the origin of the first URL this client is asked for (curl does the same). */
const HOME_ONLY_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "host"]);
/** undici rejects these (they belong to the connection, not the request). */
const FORBIDDEN_HEADERS = new Set(["transfer-encoding", "keep-alive", "upgrade", "expect", "content-length"]);
interface Answer {
  response: Dispatcher.ResponseData;
  url: URL;
}

export class OriginClient {
  private readonly agent: Agent;
  /** Reads 206 bodies; undici serves every answer it declines (README: "Why a hand-written range reader"). */
  private readonly lean: RangeReader | undefined;
  private readonly userHeaders: Array<[string, string]>;
  private readonly userAgent: string | undefined;
  private readonly maxRedirects: number;
  private readonly connectTimeoutMs: number;
  private readonly readTimeoutMs: number;
  private readonly lowSpeedLimit: number;
  private pinned: Pinned | undefined;
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
    this.lowSpeedLimit = opts.lowSpeedLimit ?? DEFAULT_LOW_SPEED_LIMIT;
    this.agent = new Agent({
      connections: opts.connections ?? DEFAULT_CONNECTIONS,
      connect: { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.readTimeoutMs,
      bodyTimeout: opts.readTimeoutMs,
      // The lean reader's limit (undici's default is 16 KiB): one head size for every answer.
      maxHeaderSize: MAX_HEAD_BYTES,
    });
    this.lean = opts.leanRanges === false ? undefined : new RangeReader({
      connectTimeoutMs: opts.connectTimeoutMs,
      readTimeoutMs: opts.readTimeoutMs,
      // Silence inside a body is the low-speed watchdog's to report (as on undici's path).
      bodyTimeoutMs: 3 * opts.readTimeoutMs + 1000,
      connections: opts.connections ?? DEFAULT_CONNECTIONS,
      ca: opts.ca,
    });
  }

  /** Length and range support. A refused HEAD (403/405/501) is not an error: the info
   *  then has no contentLength and acceptsRanges false, and the caller streams one GET. */
  async head(url: string, signal?: AbortSignal): Promise<OriginInfo> {
    const { response, url: final } = await this.send("HEAD", url, [], signal);
    await discard(response.body);
    const status = response.statusCode;
    const headers = flattenHeaders(response.headers);
    if (status === 200 || status === 204) {
      const acceptsRanges = /\bbytes\b/i.test(headers["accept-ranges"] ?? "");
      const contentLength = parseLength(headers["content-length"]);
      const pin = pinVersion(headers);
      if (contentLength !== undefined) this.pinned ??= { size: contentLength, pin };
      return { url: final.href, contentLength, acceptsRanges, status, headers, pin };
    }
    if (HEAD_REFUSED_STATUSES.has(status)) return { url: final.href, acceptsRanges: false, status, headers, pin: {} };
    throw unexpectedStatus(status, final, response.headers);
  }

  /** Exactly `length` bytes from `offset`. A 200 (range ignored) or a different range →
   *  RangeNotSupportedError; fewer bytes → PartialTransferError; 416 → OriginHttpError. */
  async getRange(url: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    return rangeToBuffer(this, url, offset, length, signal);
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
    const extra: Array<[string, string]> = [["range", `bytes=${offset}-${last}`]];
    const ifRange = this.pinned && ifRangeHeader(this.pinned.pin);
    if (ifRange !== undefined) extra.push(["if-range", ifRange]);
    if (this.lean && (await this.leanRange(url, { offset, length }, extra, sink, signal))) return;
    const { response, url: final } = await this.send("GET", url, extra, signal);
    const where = `range ${offset}-${last} of ${redactUrl(final)}`;
    this.checkRange(response, final, { offset, length, where });
    // Watched from the headers on: a request queued for a pooled socket is not slow.
    const watchdog = this.watch(where, signal);
    try {
      const exact = new ExactBytes(length, where);
      await pumpBody({
        response,
        watchdog,
        progress: () => `${exact.count} of ${length} bytes of ${where}`,
        onChunk: (chunk) => {
          const position = offset + exact.count;
          const kept = exact.take(chunk);
          return kept.length > 0 ? sink(kept, position) : undefined;
        },
        enough: () => exact.done,
        translate: (err, progress) => this.translate(err, "body", final, watchdog.signal, progress),
      });
      exact.finish();
    } finally {
      watchdog.stop();
    }
  }

  /** The version this client is pinned to (after a HEAD with a length), for resume records. */
  get pinnedVersion(): { size: number; pin: PinnedVersion } | undefined {
    return this.pinned;
  }

  private checkRange(response: Dispatcher.ResponseData, url: URL, at: { offset: number; length: number; where: string }): void {
    const status = response.statusCode;
    const total = this.pinned?.size;
    if (total === undefined) {
      // No HEAD length to hold it to (a caller ranging blind): start and status only.
      if (status === 206) return;
      if (status === 200) {
        drop(response.body);
        throw new RangeNotSupportedError(`origin ignored the Range header (200 instead of 206) for ${at.where}`);
      }
      void discard(response.body);
      throw unexpectedStatus(status, url, response.headers);
    }
    try {
      const verdict = checkRangeAnswer(status, response.headers, { ...at, total, pin: this.pinned?.pin ?? {} });
      if (verdict.kind === "whole") {
        throw new RangeNotSupportedError(`origin ignored the Range header (200 instead of 206) for ${at.where}`, { response, url });
      }
    } catch (err) {
      if (!(err instanceof RangeNotSupportedError)) {
        if (status >= 400) void discard(response.body);
        else drop(response.body);
      }
      throw err;
    }
  }

  /**
   * The whole file in one GET, each chunk awaited (backpressure). Errors thrown by onChunk
   * propagate unchanged. `reuse`: the 200 a ranged GET got, read instead of asking again.
   * With a pinned HEAD: another validator or size → ObjectChangedError (18), more bytes
   * than the size → the surplus is dropped; fewer than the length → PartialTransferError.
   */
  async streamWhole(
    url: string,
    onChunk: (chunk: Buffer) => Promise<void> | void,
    signal?: AbortSignal,
    reuse?: RangeNotSupportedError,
  ): Promise<{ bytes: number; contentLength?: number }> {
    const answer = reuse?.answer ?? (await this.send("GET", url, [], signal));
    if (reuse) reuse.answer = undefined;
    const { response, url: final } = answer;
    const status = response.statusCode;
    if (status < 200 || status >= 300) {
      await discard(response.body);
      throw unexpectedStatus(status, final, response.headers);
    }
    const sent = parseLength(flattenHeaders(response.headers)["content-length"]);
    this.checkWhole(response, final, sent);
    const watchdog = this.watch(`the whole of ${redactUrl(final)}`, signal);
    try {
      const contentLength = this.pinned?.size ?? sent;
      const where = redactUrl(final);
      const exact = contentLength === undefined ? undefined : new ExactBytes(contentLength, where);
      let bytes = 0;
      const expected = contentLength === undefined ? "" : ` of ${contentLength}`;
      await pumpBody({
        response,
        watchdog,
        progress: () => `${bytes}${expected} bytes of ${where}`,
        onChunk: async (chunk) => {
          const kept = exact ? exact.take(chunk) : chunk;
          bytes += kept.length;
          if (kept.length > 0) await onChunk(kept);
        },
        enough: () => exact?.done ?? false,
        translate: (err, progress) => this.translate(err, "body", final, watchdog.signal, progress),
      });
      exact?.finish();
      return { bytes, contentLength };
    } finally {
      watchdog.stop();
    }
  }

  /** A whole-object answer must be the pinned version, of the pinned size. */
  private checkWhole(response: Dispatcher.ResponseData, url: URL, sent: number | undefined): void {
    const pinned = this.pinned;
    if (!pinned) return;
    const changed = versionDiffers(pinned.pin, response.headers) || (sent !== undefined && sent !== pinned.size);
    if (!changed) return;
    drop(response.body);
    throw new ObjectChangedError(describeVersion(pinned.pin, pinned.size), describeVersion(pinVersion(response.headers), sent), redactUrl(url));
  }

  /** A low-speed watchdog for one GET, chained to the caller's signal. */
  private watch(what: string, signal: AbortSignal | undefined): LowSpeedWatchdog {
    return new LowSpeedWatchdog({ limitBytesPerSecond: this.lowSpeedLimit, windowMs: this.readTimeoutMs, what, parent: signal });
  }

  /** Fails requests still in flight; idle sockets are closed. */
  async close(): Promise<void> {
    this.lean?.close();
    await this.agent.destroy();
  }

  /** The range through the lean reader (lean-range.ts); false: undici must ask instead. */
  private leanRange(input: string, at: { offset: number; length: number }, extra: Array<[string, string]>, sink: RangeSink, signal?: AbortSignal): Promise<boolean> {
    const url = parseOriginUrl(input);
    this.homeOrigin ??= url.origin;
    const ctx = { reader: this.lean!, pinned: this.pinned, headersFor: (u: URL, e: Array<[string, string]>) => this.headersFor(u, e), watch: (what: string) => this.watch(what, undefined) };
    return readLeanRange(ctx, url, at, extra, sink, signal);
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
    // Range and If-Range are ours alone: a user's would make HEAD lie about the size.
    const replaced = new Set(["range", "if-range", ...extra.map(([name]) => name.toLowerCase())]);
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

  private translate(err: unknown, stage: "request" | "body", url: URL, signal: AbortSignal | undefined, progress: string): unknown {
    return translateOriginError(err, { stage, url, signal, progress, connectTimeoutMs: this.connectTimeoutMs, readTimeoutMs: this.readTimeoutMs });
  }
}
