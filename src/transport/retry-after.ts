// Retry-After (RFC 9110 §10.2.3) on the origin's 429 and 503: read here, where an answer's
// status becomes an OriginHttpError, and carried on that error to the retry policy, which
// turns it into a wait (retry-policy.ts: serverWaitMs). curl --retry reads it the same way
// (delta-seconds, else an HTTP-date); the other statuses' Retry-After is not read.
import type { RetryAfter } from "../errors.js";

/** Header values by lower-case name (undici, node:http and the lean reader all give this shape). */
type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** The statuses whose Retry-After says when to come back (RFC 9110 §10.2.3, RFC 6585 §4). */
const READ_ON = new Set([429, 503]);
/** IMF-fixdate, RFC 850 and asctime all begin with the day's name. */
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /i;

function first(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value)?.trim();
}

function httpDate(value: string | undefined): number | undefined {
  if (value === undefined || !HTTP_DATE.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at;
}

/** The answer's Retry-After when `status` is 429 or 503 and the value parses; else undefined. */
export function retryAfterOf(status: number, headers: Headers): RetryAfter | undefined {
  if (!READ_ON.has(status)) return undefined;
  const value = first(headers, "retry-after");
  if (value === undefined || value === "") return undefined;
  if (/^\d+$/.test(value)) return { seconds: Math.min(Number(value), Number.MAX_SAFE_INTEGER / 1000) };
  const at = httpDate(value);
  if (at === undefined) return undefined;
  const date = httpDate(first(headers, "date"));
  return date === undefined ? { at } : { at, date };
}

/** How long the server asked to wait, in ms, from `nowMs` (epoch) when it gave no Date; never negative. */
export function serverWaitMs(retryAfter: RetryAfter, nowMs: number): number {
  const ms = "seconds" in retryAfter ? retryAfter.seconds * 1000 : retryAfter.at - (retryAfter.date ?? nowMs);
  return Math.max(0, Math.ceil(ms));
}
