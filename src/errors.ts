// Typed errors that carry their exit code (../shared/design/cli.md, "Exit codes").
// One class per row of the table; cli/ maps any thrown value to an exit code with
// exitCodeOf() and is the only place that exits.

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

export class DfgetError extends Error {
  /** Stable machine-readable code, e.g. ERR_NO_SCHEDULER. Never derived from message text. */
  readonly code: string;
  readonly exitCode: number;
  constructor(message: string, code = "ERR_DFGET", exitCode: number = ExitCode.other, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DfgetError";
    this.code = code;
    this.exitCode = exitCode;
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

/** The origin answered 4xx/5xx; the status is in the message and in `status`. */
export class OriginHttpError extends DfgetError {
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, "ERR_ORIGIN_HTTP", ExitCode.originHttp, options);
    this.name = "OriginHttpError";
    this.status = status;
  }
}

/** The output (or its temp file) cannot be written: permissions, disk full. */
export class WriteError extends DfgetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "ERR_WRITE", ExitCode.write, options);
    this.name = "WriteError";
  }
}

/** A deadline passed: the whole-run --timeout, or an origin read deadline. */
export class TimeoutError extends DfgetError {
  /** Which deadline: run, connect, health, register, schedule, piece, origin. */
  readonly phase: string;
  constructor(phase: string, message: string, options?: { cause?: unknown }) {
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

export function exitCodeOf(err: unknown): number {
  return err instanceof DfgetError ? err.exitCode : ExitCode.other;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
