// Origin transport failures → typed errors with cli.md exit codes, decided on error
// codes, never on message text:
//   ECONNREFUSED, ENOTFOUND, EAI_AGAIN, ECONNRESET/socket closed before a response → 7
//   HTTP status ≥ 400 → 22 (status in the message)
//   body cut short (socket error mid-body, or after the origin had sent bytes) → 18
//   connect deadline → 28, phase "origin-connect" (as curl --connect-timeout gives 28)
//   no headers / no body bytes within readTimeoutMs → 28, phase "origin"
//   aborted through the caller's signal → the signal's reason, untouched.
import { STATUS_CODES } from "node:http";
import {
  DfgetError,
  ExitCode,
  OriginHttpError,
  OriginUnreachableError,
  PartialTransferError,
  TimeoutError,
  messageOf,
} from "../errors.js";
import { redactUrl } from "../net/redact.js";
import type { Dispatcher } from "undici";
import { drop } from "./origin-http.js";
import { HttpHeadError, MAX_HEAD_BYTES } from "./http-head.js";
import { retryAfterOf } from "./retry-after.js";

/** Connect-stage failures that mean "unreachable" (exit 7), on undici's path and the lean reader's. */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "ECONNRESET", "ECONNABORTED", "EPIPE",
  "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN", "ETIMEDOUT", "UND_ERR_SOCKET",
]);
/** Body-stage failures that mean "cut short" (exit 18). */
export const CUT_SHORT_CODES: ReadonlySet<string> = new Set(["UND_ERR_SOCKET", "ECONNRESET", "ECONNABORTED", "EPIPE", "UND_ERR_RES_CONTENT_LENGTH_MISMATCH"]);

export function describeStatus(status: number): string {
  const text = STATUS_CODES[status];
  return text ? `${status} ${text}` : String(status);
}

/** `headers`: the answer's, for its Retry-After (429, 503). */
export function unexpectedStatus(status: number, url: URL, headers: Readonly<Record<string, string | string[] | undefined>> = {}): DfgetError {
  const message = `origin answered ${describeStatus(status)} for ${redactUrl(url)}`;
  return status >= 400 ? new OriginHttpError(status, message, { retryAfter: retryAfterOf(status, headers) }) : new DfgetError(message, "ERR_ORIGIN_STATUS");
}

/** An errno/undici code; Node's happy-eyeballs connect may throw an AggregateError. */
export function errorCode(err: unknown): string | undefined {
  if (err instanceof AggregateError && err.errors.length > 0 && !("code" in err)) return errorCode(err.errors[0]);
  const code = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
  return typeof code === "string" ? code : undefined;
}

/** undici's SocketError says how many bytes the socket had read: > 0 means the origin had answered. */
function originHadAnswered(err: unknown): boolean {
  const socket = typeof err === "object" && err !== null && "socket" in err ? err.socket : undefined;
  const bytesRead = typeof socket === "object" && socket !== null && "bytesRead" in socket ? socket.bytesRead : undefined;
  return typeof bytesRead === "number" && bytesRead > 0;
}

/**
 * The origin's TLS certificate was not accepted (OpenSSL's verify codes, Node's altname
 * check): exit 1 with what failed and what to do about a private CA, not a bare code.
 */
export function certificateFailure(err: unknown, url: URL): DfgetError | undefined {
  const code = errorCode(err);
  if (code === undefined || !(code.startsWith("ERR_TLS_CERT") || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|LEAF_SIGNATURE/.test(code))) return undefined;
  const detail = err instanceof Error && err.message && err.message !== code ? `${code}: ${err.message}` : code;
  return new DfgetError(
    `origin ${url.host}: TLS certificate not accepted (${detail}) for ${redactUrl(url)}; a private CA can be added with NODE_EXTRA_CA_CERTS=FILE`,
    "ERR_ORIGIN_TLS",
    ExitCode.other,
    { cause: err },
  );
}

export interface TranslateContext {
  stage: "request" | "body";
  url: URL;
  signal: AbortSignal | undefined;
  /** How far the body got, for messages ("3000 of 20000 bytes of …"). */
  progress: string;
  connectTimeoutMs: number;
  readTimeoutMs: number;
}

export function translateOriginError(err: unknown, ctx: TranslateContext): unknown {
  if (ctx.signal?.aborted) return ctx.signal.reason;
  if (err instanceof DfgetError) return err;
  const { url, stage, progress } = ctx;
  const code = errorCode(err);
  const where = redactUrl(url);
  const options = { cause: err };
  if (code === "UND_ERR_CONNECT_TIMEOUT") {
    return new TimeoutError("origin-connect", `origin ${url.host}: no connection within ${ctx.connectTimeoutMs} ms for ${where}`, options);
  }
  if (code === "UND_ERR_HEADERS_TIMEOUT") {
    return new TimeoutError("origin", `origin sent no response within ${ctx.readTimeoutMs} ms for ${where}`, options);
  }
  if (code === "UND_ERR_BODY_TIMEOUT") {
    return new TimeoutError("origin", `origin sent no data for ${ctx.readTimeoutMs} ms after ${progress}`, options);
  }
  if (code === "UND_ERR_HEADERS_OVERFLOW") {
    return new HttpHeadError(`origin sent a response head over ${MAX_HEAD_BYTES / 1024} KiB for ${where}`, options);
  }
  const certificate = certificateFailure(err, url);
  if (certificate) return certificate;
  if (code !== undefined && stage === "request" && UNREACHABLE_CODES.has(code) && !originHadAnswered(err)) {
    return new OriginUnreachableError(`origin ${url.host} unreachable (${code}) for ${where}`, options);
  }
  if (code !== undefined && CUT_SHORT_CODES.has(code)) {
    return new PartialTransferError(`origin connection ended (${code}) after ${progress || `the answer began for ${where}`}`, options);
  }
  return new DfgetError(`origin request failed for ${where}: ${code ?? messageOf(err)}`, "ERR_ORIGIN", ExitCode.other, options);
}

/**
 * The origin answered a ranged GET with 200 and the pinned version (or none): it does no
 * ranges; fetch the file in one GET. `answer`, when set, is that 200's unread body — hand
 * the error to streamWhole() to use it instead of asking again.
 */
export class RangeNotSupportedError extends DfgetError {
  answer: { response: Dispatcher.ResponseData; url: URL } | undefined;
  constructor(message: string, answer?: { response: Dispatcher.ResponseData; url: URL }) {
    super(message, "ERR_RANGE_NOT_SUPPORTED", ExitCode.other);
    this.name = "RangeNotSupportedError";
    this.answer = answer;
  }

  /** Drop the unread body (nobody will stream it). */
  release(): void {
    if (this.answer) drop(this.answer.response.body);
    this.answer = undefined;
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
