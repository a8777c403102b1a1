// Error messages in the user's words (issue 14): the layers below report what happened
// with the precise code (ENOSPC, ECONNREFUSED, UND_ERR_SOCKET) and the file they touched
// (the hidden `.NAME.dfget-….part` beside the output). The user gave an output path and
// wants to know what to do: "cannot write out.bin: disk full". This is the one place that
// translates; the codes stay in the error's cause for --log-level debug.
import { formatDuration } from "../config/duration.js";

/** errno and undici codes → words. */
const PLAIN_WORDS: Readonly<Record<string, string>> = {
  ENOSPC: "disk full",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "read-only file system",
  ENOENT: "no such file or directory",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  EMFILE: "too many open files",
  ENFILE: "too many open files",
  EFBIG: "file too large",
  EIO: "input/output error",
  EEXIST: "already exists",
  EPIPE: "reader closed the pipe",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ECONNABORTED: "connection aborted",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EAI_AGAIN: "name lookup failed, try again",
  ENOTFOUND: "host not found",
  UND_ERR_SOCKET: "connection closed by the server",
  UND_ERR_CONNECT_TIMEOUT: "connect timeout",
  UND_ERR_HEADERS_TIMEOUT: "no response headers in time",
  UND_ERR_BODY_TIMEOUT: "no data in time",
  UND_ERR_ABORTED: "request aborted",
  UND_ERR_CLOSED: "connection closed",
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: "body shorter than its Content-Length",
};

const CODE = new RegExp(`\\b(${Object.keys(PLAIN_WORDS).join("|")})\\b`, "g");
/** The hidden partial and its resume record beside the output (storage/ naming). */
const HIDDEN_TEMP = /(?:[^\s:'"]*\/)?\.[^\s/:'"]+?\.dfget(?:-[0-9a-z]+)?\.(?:part|json)\b/g;
const MILLIS = /\b(\d+) ?ms\b/g;
/** Node's system-error wording, "ENOSPC: no space left on device, write '/x'": the code says it. */
const NODE_SYSTEM_ERROR = /\b(E[A-Z0-9]+): [a-z][^,]*, [a-z]+(?: '[^']*')?/g;
/** A stream's wording, "write EPIPE" / "read ECONNRESET": the code says it. */
const NODE_STREAM_ERROR = /\b(?:write|read) (E[A-Z0-9]+)\b/g;

/**
 * The message to show for a failure: codes in words, the hidden temp file named as the
 * output path the user gave, millisecond counts as durations (`1000 ms` → `1s`).
 */
export function userMessage(err: unknown, output?: string): string {
  const original = err instanceof Error ? err.message : String(err);
  let message = original;
  message = message.replace(NODE_SYSTEM_ERROR, "$1").replace(NODE_STREAM_ERROR, "$1");
  if (output && output !== "-") message = message.replace(HIDDEN_TEMP, output);
  message = message.replace(CODE, (code: string) => PLAIN_WORDS[code] ?? code);
  message = message.replace(MILLIS, (text: string, digits: string) => {
    const ms = Number(digits);
    return ms >= 1000 && ms % 1000 === 0 ? formatDuration(ms) : text;
  });
  const code = errnoCodeOf(err);
  // A wrapped system error whose message carries no code still deserves its words.
  if (code && PLAIN_WORDS[code] && !original.includes(code) && !message.includes(PLAIN_WORDS[code])) {
    message = `${message}: ${PLAIN_WORDS[code]}`;
  }
  return message;
}

/** The first errno-style code along the cause chain. */
export function errnoCodeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && /^(E[A-Z0-9]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
  }
  return undefined;
}

/** The one prefix every error line carries, usage errors included. */
export const ERROR_PREFIX = "dfget: error:";
