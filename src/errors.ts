// Typed errors with a fixed string code (undici lib/core/errors.js style) and the exit
// code of cli.md's table. One class per row of the table; cli/ maps any thrown value to
// an exit code with exitCodeOf(), which reads `code` — never instanceof, so an error from
// a second copy of this module (or a plain object carrying the brand) maps the same.

export const ExitCode = {
  ok: 0,
  other: 1,
  usage: 2,
  originUnreachable: 7,
  partial: 18,
  originHttp: 22,
  write: 23,
  timeout: 28,
  digest: 32,
  noScheduler: 69,
  outputExists: 73,
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Exit code by error code: the table of cli.md, plus codes other modules throw with a fixed exit. */
export const EXIT_CODE_BY_CODE: Readonly<Record<string, number>> = {
  ERR_USAGE: ExitCode.usage,
  ERR_ORIGIN_UNREACHABLE: ExitCode.originUnreachable,
  ERR_PARTIAL: ExitCode.partial,
  ERR_OBJECT_CHANGED: ExitCode.partial,
  ERR_CLUSTER_VERSION: ExitCode.partial,
  ERR_BAD_RANGE_ANSWER: ExitCode.partial,
  ERR_ORIGIN_HTTP: ExitCode.originHttp,
  ERR_WRITE: ExitCode.write,
  ERR_TIMEOUT: ExitCode.timeout,
  ERR_DIGEST_MISMATCH: ExitCode.digest,
  ERR_NO_SCHEDULER: ExitCode.noScheduler,
  ERR_MANAGER_UNAVAILABLE: ExitCode.noScheduler,
  ERR_OUTPUT_EXISTS: ExitCode.outputExists,
  ERR_OUTPUT_BUSY: ExitCode.outputExists,
};

/** Marks every DfgetError, across copies of this module (Symbol.for is process-wide). */
const DFGET_ERROR = Symbol.for("dfget.error");

export class DfgetError extends Error {
  /** Stable machine-readable code, e.g. ERR_NO_SCHEDULER. Never derived from message text. */
  readonly code: string;
  /** The code's row in EXIT_CODE_BY_CODE when it has one, else what the thrower chose (default 1). */
  readonly exitCode: number;
  readonly [DFGET_ERROR] = true;
  constructor(message: string, code = "ERR_DFGET", exitCode?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DfgetError";
    this.code = code;
    this.exitCode = EXIT_CODE_BY_CODE[code] ?? exitCode ?? ExitCode.other;
  }
}

/** Bad flag, bad option value, bad config file. */
export class UsageError extends DfgetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "ERR_USAGE", ExitCode.usage, options);
    this.name = "UsageError";
  }
}

/** DNS failure or connection refused/reset before any response from the origin. */
export class OriginUnreachableError extends DfgetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "ERR_ORIGIN_UNREACHABLE", ExitCode.originUnreachable, options);
    this.name = "OriginUnreachableError";
  }
}

/** The transfer ended before all announced bytes arrived. */
export class PartialTransferError extends DfgetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "ERR_PARTIAL", ExitCode.partial, options);
    this.name = "PartialTransferError";
  }
}

/**
 * The parents hold another version of the object than the origin (crc32 or content length
 * differ) and the run cannot finish from the origin alone: back-to-source is disabled, or
 * parent pieces already went to stdout. A rerun is clean; nothing is kept for resume.
 */
export class ClusterVersionError extends DfgetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "ERR_CLUSTER_VERSION", ExitCode.partial, options);
    this.name = "ClusterVersionError";
  }
}

/**
 * A server's Retry-After (RFC 9110 §10.2.3), as read off one answer: delta-seconds, or an
 * HTTP-date (epoch ms) with the answer's own Date (epoch ms) when it sent a usable one —
 * the wait is then `at - date`, immune to a skewed local clock; else `at - now`.
 */
export type RetryAfter = { seconds: number } | { at: number; date?: number };

/** The origin answered 4xx/5xx; the status is in the message and in `status`. */
export class OriginHttpError extends DfgetError {
  readonly status: number;
  /** The answer's Retry-After (read on 429 and 503 only), for the retry policy. */
  readonly retryAfter: RetryAfter | undefined;
  constructor(status: number, message: string, options?: { cause?: unknown; retryAfter?: RetryAfter }) {
    super(message, "ERR_ORIGIN_HTTP", ExitCode.originHttp, options);
    this.name = "OriginHttpError";
    this.status = status;
    this.retryAfter = options?.retryAfter;
  }
}

/** The output (or its temp file) cannot be written: permissions, disk full. */
export class WriteError extends DfgetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "ERR_WRITE", ExitCode.write, options);
    this.name = "WriteError";
  }
}

/**
 * Which deadline passed, as thrown: the whole run (--timeout), a vortex connect or piece
 * transfer, the origin's connect / response / body deadlines, the low-speed watchdog.
 * (Scheduler deadlines are not thrown: they are attempt outcomes in switching/.)
 */
export type TimeoutPhase = "run" | "connect" | "piece" | "origin" | "origin-connect" | "low-speed";

/** A deadline passed: the whole-run --timeout, or a transfer deadline (see TimeoutPhase). */
export class TimeoutError extends DfgetError {
  readonly phase: TimeoutPhase;
  constructor(phase: TimeoutPhase, message: string, options?: { cause?: unknown }) {
    super(message, "ERR_TIMEOUT", ExitCode.timeout, options);
    this.name = "TimeoutError";
    this.phase = phase;
  }
}

/** The whole-file digest differs from --digest. */
export class DigestMismatchError extends DfgetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "ERR_DIGEST_MISMATCH", ExitCode.digest, options);
    this.name = "DigestMismatchError";
  }
}

/** No scheduler answered and back-to-source is disabled. */
export class NoSchedulerError extends DfgetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "ERR_NO_SCHEDULER", ExitCode.noScheduler, options);
    this.name = "NoSchedulerError";
  }
}

/** The output path exists and --overwrite was not given. */
export class OutputExistsError extends DfgetError {
  constructor(message: string) {
    super(message, "ERR_OUTPUT_EXISTS", ExitCode.outputExists);
    this.name = "OutputExistsError";
  }
}

/** SIGINT (130) or SIGTERM (143). */
export class InterruptedError extends DfgetError {
  readonly signal: "SIGINT" | "SIGTERM";
  constructor(signal: "SIGINT" | "SIGTERM") {
    super(`interrupted by ${signal}`, "ERR_INTERRUPTED", signal === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm);
    this.name = "InterruptedError";
    this.signal = signal;
  }
}

/** The exit code for anything thrown: read from the error's code; 1 for what is not ours. */
export function exitCodeOf(err: unknown): number {
  if (typeof err !== "object" || err === null || (err as Record<symbol, unknown>)[DFGET_ERROR] !== true) return ExitCode.other;
  const { code, exitCode, signal } = err as { code?: unknown; exitCode?: unknown; signal?: unknown };
  if (code === "ERR_INTERRUPTED") return signal === "SIGTERM" ? ExitCode.sigterm : ExitCode.sigint;
  if (typeof code === "string" && EXIT_CODE_BY_CODE[code] !== undefined) return EXIT_CODE_BY_CODE[code];
  return typeof exitCode === "number" ? exitCode : ExitCode.other;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
