// Every default of a run in one place (../shared/design/cli.md): the flag defaults and
// every dfget.yaml key, empty ones included. cli/ applies them last (flags > env > file >
// defaults); nothing below cli/ applies defaults of its own.
// The one default not here is Dragonfly's filtered-query-param list: it belongs to the
// task id and lives next to it (task/task-id.ts, DEFAULT_FILTERED_QUERY_PARAMS).
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { ColorMode, LogLevel, ProgressMode } from "./types.js";

export const MIB = 1024 * 1024;
/** Dragonfly's MIN_PIECE_LENGTH; --piece-length below it is rejected. */
export const MIN_PIECE_LENGTH = 4 * MIB;
/** Dragonfly's MAX_PIECE_LENGTH (proto validate `lte: 67108864`). */
export const MAX_PIECE_LENGTH = 64 * MIB;
/**
 * Longest duration accepted for any timer: Node's setTimeout fires at once (with a
 * warning) above 2^31-1 ms, about 24.8 days, so a longer --timeout would mean "no time".
 */
export const MAX_DURATION_MS = 596 * 3_600_000;
/** Lowest and highest Dragonfly priority (common.v2.Priority LEVEL0..LEVEL6). */
export const PRIORITY_RANGE = { min: 0, max: 6 } as const;
export const MAX_CONCURRENT_PIECES = 1024;
export const MAX_CONCURRENT_FILES = 256;
export const MAX_RETRIES = 100;
/** Shortest non-zero --hedge-delay: below it, hedging is a stampede, not a hedge. */
export const MIN_HEDGE_DELAY_MS = 10;

/** System-wide config file, searched last; tests pass their own list. */
export const SYSTEM_CONFIG_PATHS: readonly string[] = Object.freeze(["/etc/dragonfly/dfget.yaml"]);

export const DEFAULTS = deepFreeze({
  overwrite: false,
  tag: "",
  application: "",
  priority: 6,
  timeoutMs: 2 * 3_600_000,
  dryRun: false,
  json: false,
  progress: "auto" as ProgressMode,
  color: "auto" as ColorMode,
  logLevel: "info" as LogLevel,
  resume: true,
  maxConcurrentFiles: 4,
  recursive: false,
  manager: {
    addrs: [] as readonly string[],
    caCert: "",
    cert: "",
    key: "",
  },
  scheduler: {
    addrs: [] as readonly string[],
    cooldownIntervalMs: 60_000,
    /** 0 = try all of them. */
    maxAttempts: 0,
    connectTimeoutMs: 2_000,
    scheduleTimeoutMs: 30_000,
    hedgeDelayMs: 300,
    caCert: "",
    cert: "",
    key: "",
  },
  download: {
    // 4, not 8: from a parent, throughput peaks at 4–8 pieces in flight and 4 holds half
    // the sockets and buffers; from the origin, the one writer per file keeps the disk busy
    // with 4 streams (README "Why 4 pieces in flight").
    concurrentPieceCount: 4,
    disableBackToSource: false,
    pieceTimeoutMs: 30_000,
    retries: 5,
    /** 1 KiB/s, curl's --speed-limit spirit. */
    lowSpeedLimit: 1024,
  },
  host: { ip: "", hostname: "", idc: "", location: "" },
  upload: { port: 0, tcpPort: 0 },
  /** "" = defaultStateDir(env). */
  state: { dir: "" },
});

/** $HOME, else the OS's idea of it (HOME can be unset under some service managers). */
export function homeDirOf(env: NodeJS.ProcessEnv): string {
  return env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
}

/**
 * `$XDG_STATE_HOME/dfget`, or `~/.local/state/dfget`. The XDG spec says a relative
 * XDG_* value is invalid and must be ignored.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "dfget");
  return join(homeDirOf(env), ".local", "state", "dfget");
}

/** `$XDG_CONFIG_HOME`, or `~/.config` (XDG default; a relative value is ignored). */
export function configHomeOf(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg && isAbsolute(xdg)) return xdg;
  return join(homeDirOf(env), ".config");
}

/** Freezes an object and everything inside it (a resolved config is read-only). */
export function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === "object") deepFreeze(child as object);
  }
  return Object.freeze(value);
}
