// Value parsers of dfget's options: (text) => value, throwing Error(reason); take() adds
// where the text came from (flag, environment variable) and turns it into a UsageError.
import { MAX_CONCURRENT_FILES, MAX_DURATION_MS, MAX_PIECE_LENGTH, MAX_RETRIES, MIN_PIECE_LENGTH, PRIORITY_RANGE } from "../config/defaults.js";
import { checkDurationRange, parseDuration } from "../config/duration.js";
import { formatSize, parseSize } from "../config/size.js";
import { messageOf, UsageError } from "../errors.js";
import { refuseUnsupportedObjectStorage } from "../transport/s3-location.js";

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Header values are bytes on the wire: tab, visible ASCII, space and obs-text, no CR/LF/NUL.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Runs a value parser, prefixing its error with where the value came from. */
export function take<T>(label: string, raw: string | undefined, parse: (s: string) => T): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return parse(raw);
  } catch (err) {
    throw new UsageError(`${label}: ${messageOf(err)}`, { cause: err });
  }
}

export const durationWithin = (minMs: number) => (s: string): number => checkDurationRange(parseDuration(s), minMs, MAX_DURATION_MS);

export function choice<T extends string>(allowed: readonly T[]): (s: string) => T {
  return (s) => {
    const found = allowed.find((a) => a === s.toLowerCase());
    if (found === undefined) throw new Error(`invalid value ${JSON.stringify(s)} (expected ${allowed.join(", ")})`);
    return found;
  };
}

export function parseEnvBoolean(s: string): boolean {
  const lower = s.toLowerCase();
  if (["true", "1", "yes", "on"].includes(lower)) return true;
  if (["false", "0", "no", "off"].includes(lower)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(s)}`);
}

/** A whole number in min..max, digits only. */
export function integerWithin(min: number, max: number): (s: string) => number {
  return (s) => {
    const n = /^[0-9]{1,9}$/.test(s) ? Number(s) : NaN;
    if (!(n >= min && n <= max)) throw new Error(`invalid number ${JSON.stringify(s)} (expected ${min}..${max})`);
    return n;
  };
}

export const parseRetries = integerWithin(0, MAX_RETRIES);
export const parseConcurrentFiles = integerWithin(1, MAX_CONCURRENT_FILES);

export function parsePriority(s: string): number {
  const n = /^[0-9]$/.test(s) ? Number(s) : NaN;
  if (!(n >= PRIORITY_RANGE.min && n <= PRIORITY_RANGE.max)) throw new Error(`invalid priority ${JSON.stringify(s)} (expected ${PRIORITY_RANGE.min}..${PRIORITY_RANGE.max})`);
  return n;
}

/** Upstream spellings (`4mib`, `64MiB`, `8388608`); the range is Dragonfly's. */
export function parsePieceLength(s: string): number {
  const bytes = parseSize(s);
  if (bytes < MIN_PIECE_LENGTH) {
    throw new Error(`${s} is too small: the piece length must be at least ${formatSize(MIN_PIECE_LENGTH)} (Dragonfly's minimum)`);
  }
  if (bytes > MAX_PIECE_LENGTH) {
    throw new Error(`${s} is too large: at most ${formatSize(MAX_PIECE_LENGTH)}, because a Go scheduler rejects a larger piece_length`);
  }
  return bytes;
}

/** Absolute http(s) URL, WHATWG-normalised (as Dragonfly's url::Url does). */
export function parseHttpUrl(s: string): string {
  return parseSourceUrl(s, ["http:", "https:"]);
}

/** Absolute URL with one of the given schemes, WHATWG-normalised. */
export function parseSourceUrl(s: string, schemes: readonly string[] = ["http:", "https:", "s3:"]): string {
  if (schemes.includes("s3:")) refuseUnsupportedObjectStorage(s);
  let url: URL;
  const expected = schemes.map((p) => `${p}//`).join(", ");
  try {
    url = new URL(s);
  } catch {
    throw new UsageError(`invalid URL ${JSON.stringify(s)} (expected an absolute ${expected} URL)`);
  }
  if (!schemes.includes(url.protocol)) {
    throw new UsageError(`unsupported URL scheme ${JSON.stringify(url.protocol.slice(0, -1))} in ${JSON.stringify(s)} (supported: ${expected})`);
  }
  if (url.protocol === "s3:" && url.hostname === "") throw new UsageError(`invalid URL ${JSON.stringify(s)} (expected s3://BUCKET/KEY)`);
  return url.href;
}

/** "K: V": split at the first colon, both sides trimmed; the name must be an HTTP token. */
export function parseHeader(s: string): [string, string] {
  const colon = s.indexOf(":");
  if (colon < 0) throw new Error(`invalid header ${JSON.stringify(s)} (expected "Name: value")`);
  const name = s.slice(0, colon).trim();
  const value = s.slice(colon + 1).trim();
  if (name === "") throw new Error(`invalid header ${JSON.stringify(s)} (empty name)`);
  if (!HEADER_NAME.test(name)) throw new Error(`invalid header ${JSON.stringify(s)} (bad character in name ${JSON.stringify(name)})`);
  if (!HEADER_VALUE.test(value)) throw new Error(`invalid header ${JSON.stringify(s)} (control character in value)`);
  return [name, value];
}
