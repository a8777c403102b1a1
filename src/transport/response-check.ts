// What an origin answer must look like before one byte of it is kept. Transport-neutral:
// plain status + header values in, a verdict or a typed error out, so every reader of
// ranged bodies (undici here, a lean socket reader elsewhere) applies the same rules.
//
//   pinVersion()        the validator kept from the first answer (RFC 9110 §13.1.5: a
//                       strong ETag, else a Last-Modified ≥ 1 s older than Date)
//   ifRangeHeader()     what to send as If-Range on every ranged GET
//   checkRangeAnswer()  206 with the planned start, end ≥ planned end and total → bytes;
//                       200 → the object changed (exit 18) or the origin does no ranges
//   ExactBytes          counts body bytes: never more than asked, never fewer
import { STATUS_CODES } from "node:http";
import { DfgetError, ExitCode, OriginHttpError, PartialTransferError } from "../errors.js";
import { retryAfterOf } from "./retry-after.js";

/** The object version a download is pinned to. Both undefined: nothing to pin (no resume). */
export interface PinnedVersion {
  /** A strong ETag exactly as sent, quotes included. */
  etag?: string;
  /** A Last-Modified that is a strong validator (RFC 9110 §8.8.2.2). */
  lastModified?: string;
}

/** Header values by lower-case name (undici and node:http both give this shape). */
export type HeaderBag = Record<string, string | string[] | undefined>;

/** The origin's object is not the one this download started with (exit 18, never a mix). */
export class ObjectChangedError extends DfgetError {
  readonly before: string;
  readonly after: string;
  constructor(before: string, after: string, where: string) {
    super(`the object changed on the origin during the download (was ${before}, now ${after}) for ${where}; run again to fetch the new version`, "ERR_OBJECT_CHANGED", ExitCode.partial);
    this.name = "ObjectChangedError";
    this.before = before;
    this.after = after;
  }
}

/** A 206 that does not fit the plan and says nothing about a new version (retryable). */
export class BadRangeAnswerError extends DfgetError {
  constructor(message: string) {
    super(message, "ERR_BAD_RANGE_ANSWER", ExitCode.partial);
    this.name = "BadRangeAnswerError";
  }
}

export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(", ") : value;
}

function isStrongEtag(etag: string): boolean {
  return /^"[^"]*"$/.test(etag);
}

/** The validator to pin from an origin answer's headers; {} when it offers none usable. */
export function pinVersion(headers: HeaderBag): PinnedVersion {
  const etag = headerValue(headers, "etag")?.trim();
  if (etag !== undefined && isStrongEtag(etag)) return { etag };
  const lastModified = headerValue(headers, "last-modified")?.trim();
  const date = headerValue(headers, "date");
  if (lastModified === undefined || date === undefined) return {};
  const modifiedAt = Date.parse(lastModified);
  const answeredAt = Date.parse(date);
  if (Number.isNaN(modifiedAt) || Number.isNaN(answeredAt)) return {};
  return answeredAt - modifiedAt >= 1000 ? { lastModified } : {};
}

export function isPinned(pin: PinnedVersion): boolean {
  return pin.etag !== undefined || pin.lastModified !== undefined;
}

/** If-Range value for a ranged GET, or undefined when nothing is pinned. */
export function ifRangeHeader(pin: PinnedVersion): string | undefined {
  return pin.etag ?? pin.lastModified;
}

/** "ETag \"abc\"" / "Last-Modified …" / "no validator": how a version is named in messages. */
export function describeVersion(pin: PinnedVersion, size?: number): string {
  const sized = size === undefined ? "" : `, ${size} bytes`;
  if (pin.etag !== undefined) return `ETag ${pin.etag}${sized}`;
  if (pin.lastModified !== undefined) return `Last-Modified ${pin.lastModified}${sized}`;
  return size === undefined ? "no validator" : `${size} bytes`;
}

/**
 * Does an answer carry a version other than the pinned one? Only a validator the answer
 * actually sends can contradict: an answer without one is "unknown", not "changed".
 */
export function versionDiffers(pin: PinnedVersion, headers: HeaderBag): boolean {
  const etag = headerValue(headers, "etag")?.trim();
  if (pin.etag !== undefined && etag !== undefined) return etag !== pin.etag;
  const lastModified = headerValue(headers, "last-modified")?.trim();
  if (pin.lastModified !== undefined && lastModified !== undefined) return Date.parse(lastModified) !== Date.parse(pin.lastModified);
  return false;
}

export interface ContentRange {
  start: number;
  /** Inclusive, as on the wire. */
  end: number;
  /** undefined for `*` (unknown total). */
  total?: number;
}

export function parseContentRange(value: string | undefined): ContentRange | undefined {
  const match = value === undefined ? null : /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === "*" ? undefined : Number(match[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  if (total !== undefined && (!Number.isSafeInteger(total) || end >= total)) return undefined;
  return { start, end, total };
}

export interface RangeRequest {
  offset: number;
  length: number;
  /** The object's size as first answered (HEAD): every Content-Range total must match. */
  total: number;
  pin: PinnedVersion;
  /** For messages (a redacted URL with the range). */
  where: string;
}

export type RangeVerdict =
  /** A 206 that fits: read exactly `length` body bytes, skip none. Extra bytes are dropped. */
  | { kind: "range"; contentRange: ContentRange }
  /** A 200 with the same version (or none to compare): the origin does no ranges; the body is the whole object. */
  | { kind: "whole" };

function describeStatus(status: number): string {
  const text = STATUS_CODES[status];
  return text ? `${status} ${text}` : String(status);
}

/**
 * The verdict on a ranged GET's status and headers. Throws ObjectChangedError (18, not
 * retryable), BadRangeAnswerError (18, retryable), OriginHttpError (22; retryable per
 * status) or DfgetError for other non-2xx statuses.
 */
export function checkRangeAnswer(status: number, headers: HeaderBag, want: RangeRequest): RangeVerdict {
  const { offset, length, total, pin, where } = want;
  if (status === 200) {
    if (versionDiffers(pin, headers)) throw new ObjectChangedError(describeVersion(pin, total), describeVersion(pinVersion(headers)), where);
    const sent = headerValue(headers, "content-length");
    if (sent !== undefined && /^\d+$/.test(sent.trim()) && Number(sent) !== total) {
      throw new ObjectChangedError(describeVersion(pin, total), describeVersion(pinVersion(headers), Number(sent)), where);
    }
    return { kind: "whole" };
  }
  if (status !== 206) {
    const message = `origin answered ${describeStatus(status)} for ${where}`;
    if (status >= 400) throw new OriginHttpError(status, message, { retryAfter: retryAfterOf(status, headers) });
    throw new DfgetError(message, "ERR_ORIGIN_STATUS");
  }
  const raw = headerValue(headers, "content-range");
  const contentRange = parseContentRange(raw);
  if (versionDiffers(pin, headers)) throw new ObjectChangedError(describeVersion(pin, total), describeVersion(pinVersion(headers), contentRange?.total), where);
  if (!contentRange) throw new BadRangeAnswerError(`origin answered 206 with Content-Range ${JSON.stringify(raw ?? null)} for ${where}`);
  if (contentRange.total !== undefined && contentRange.total !== total) {
    throw new ObjectChangedError(describeVersion(pin, total), describeVersion(pinVersion(headers), contentRange.total), where);
  }
  const last = offset + length - 1;
  if (contentRange.start !== offset || contentRange.end < last) {
    throw new BadRangeAnswerError(`origin answered Content-Range ${raw ?? ""} for ${where}`);
  }
  return { kind: "range", contentRange };
}

/**
 * Counts the bytes of one body against what was asked. take() says how much of a chunk
 * belongs to the answer (the rest, an over-send, is dropped: the caller then closes the
 * connection); finish() throws PartialTransferError when fewer arrived.
 */
export class ExactBytes {
  readonly expected: number;
  private received = 0;
  private readonly where: string;

  constructor(expected: number, where: string) {
    this.expected = expected;
    this.where = where;
  }

  get count(): number {
    return this.received;
  }
  get done(): boolean {
    return this.received >= this.expected;
  }

  /** The part of `chunk` still wanted (possibly empty). */
  take(chunk: Buffer): Buffer {
    const room = this.expected - this.received;
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.received += kept.length;
    return kept;
  }

  finish(): void {
    if (this.received < this.expected) throw new PartialTransferError(`origin sent ${this.received} of ${this.expected} bytes of ${this.where}`);
  }
}
