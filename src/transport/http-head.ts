// The two HTTP/1.1 texts the lean range reader needs: a GET request head it writes, and
// the response head it parses. Everything else about HTTP (bodies of unknown length,
// chunked coding, redirects, 1xx) is left to undici: the reader declines such answers.
import { DfgetError, ExitCode } from "../errors.js";

/** Largest response head accepted (undici's default is 16 KiB; S3 heads are ~1 KiB). */
export const MAX_HEAD_BYTES = 64 * 1024;

export interface ResponseHead {
  status: number;
  /** HTTP/1.0 connections are never reused. */
  minorVersion: number;
  /** Lower-case names; repeated fields joined with ", " (RFC 9110 §5.3). */
  headers: Record<string, string>;
}

/** The bytes on the connection are not an HTTP/1.x response (exit 1, as undici's parser errors). */
export class HttpHeadError extends DfgetError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "ERR_ORIGIN_PROTOCOL", ExitCode.other, options);
    this.name = "HttpHeadError";
  }
}

const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/;
/** Field values we send: visible ASCII, spaces and tabs (no CR/LF, no NUL). */
const SENDABLE_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Index just past the blank line that ends a head, or -1. `from` skips bytes already searched. */
export function findHeadEnd(bytes: Buffer, from = 0): number {
  const at = bytes.indexOf(CRLFCRLF, Math.max(0, from - 3));
  return at < 0 ? -1 : at + 4;
}

/** Parses a response head (status line + fields, the final CRLFCRLF included or not). */
export function parseResponseHead(head: Buffer): ResponseHead {
  const lines = head.toString("latin1").split("\r\n");
  const match = STATUS_LINE.exec(lines[0] ?? "");
  if (!match) throw new HttpHeadError(`origin sent no HTTP/1.x status line (${JSON.stringify((lines[0] ?? "").slice(0, 40))})`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) throw new HttpHeadError(`origin sent a malformed header line (${JSON.stringify(line.slice(0, 40))})`);
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  return { status: Number(match[2]), minorVersion: Number(match[1]), headers };
}

/**
 * `GET` head for `url` with `headers` (flat name, value pairs, already filtered by the
 * origin client). undefined when a field cannot be sent as is — the caller then leaves
 * the request to undici, which reports it the way it always has.
 */
export function buildGetRequest(url: URL, headers: readonly string[]): Buffer | undefined {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`];
  let hasHost = false;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (!TOKEN.test(name) || !SENDABLE_VALUE.test(value)) return undefined;
    if (name.toLowerCase() === "host") hasHost = true;
    if (name.toLowerCase() === "connection") continue;
    lines.push(`${name}: ${value}`);
  }
  if (!hasHost) lines.splice(1, 0, `host: ${url.host}`);
  lines.push("connection: keep-alive", "", "");
  return Buffer.from(lines.join("\r\n"), "latin1");
}

/** A decimal Content-Length, or undefined when absent or not a plain number. */
export function contentLengthOf(head: ResponseHead): number | undefined {
  const raw = head.headers["content-length"];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** May the connection carry another request after this answer's body? */
export function keepsAlive(head: ResponseHead): boolean {
  const connection = (head.headers["connection"] ?? "").toLowerCase();
  if (/\bclose\b/.test(connection)) return false;
  return head.minorVersion >= 1;
}
