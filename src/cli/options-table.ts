// The option table of ../shared/design/cli.md and the text of `dfget --help`. Defaults are
// printed from config/defaults.ts so the help cannot drift from what a run uses.
import { DEFAULTS, MAX_PIECE_LENGTH, MIN_PIECE_LENGTH } from "../config/defaults.js";
import { formatDuration } from "../config/duration.js";
import type { ConfigKey } from "../config/file.js";
import { formatSize } from "../config/size.js";

export interface OptionSpec {
  name: string;
  alias?: string;
  /** "list" = repeatable string. */
  kind: "string" | "list" | "boolean";
  group: string;
  /** Value placeholder in help, e.g. PATH; none for booleans. */
  arg?: string;
  /** How --help spells it when not --NAME (e.g. --no-resume for the "resume" boolean). */
  display?: string;
  describe: string;
  /** As shown in --help; the real default is applied in options.ts from DEFAULTS. */
  default: string;
  env?: string;
  /** Parsed only to answer with a pointed message (upstream dfdaemon options). */
  hidden?: boolean;
}

export const OUTPUT = "Output";
export const INTEGRITY = "Origin and integrity";
export const TASK = "Task id";
export const CLUSTER = "Cluster";
export const SWITCHING = "Switching";
export const DISPLAY = "Progress and logging";
export const CONFIG = "Config and general";
export const BATCH = "Several files, object storage";
/** Help sections in order. */
export const GROUPS: readonly string[] = [OUTPUT, INTEGRITY, TASK, CLUSTER, SWITCHING, DISPLAY, CONFIG, BATCH];
const HIDDEN = "hidden";
const d = formatDuration;
/** Short defaults in seconds, as the contract writes them ("60s", not "1m"). */
const secs = (ms: number): string => (ms % 1000 === 0 && ms < 3_600_000 ? `${ms / 1000}s` : formatDuration(ms));
const ownPeer = "this dfget is its own peer and needs no dfdaemon";

export const USAGE = [
  "dfget <URL> -O <PATH|DIR/|-> [options]",
  "dfget <URL>... -O DIR/ [options]        several files",
  "dfget <URL> --dry-run [--json] [options]      plan only: no download",
].join("\n");

export const OPTIONS: readonly OptionSpec[] = [
  { name: "output", alias: "O", kind: "string", arg: "PATH", group: OUTPUT, default: "required", describe: "file, DIR/ (named after the URL) or - (stdout)" },
  { name: "overwrite", kind: "boolean", group: OUTPUT, default: "false", env: "DFGET_OVERWRITE", describe: "replace an existing file (otherwise exit 73)" },
  { name: "resume", kind: "boolean", display: "no-resume", group: OUTPUT, default: "resume", describe: "start over instead of resuming an unfinished run" },
  { name: "json", kind: "boolean", group: OUTPUT, default: "false", describe: "one JSON summary line at the end" },
  { name: "dry-run", kind: "boolean", group: OUTPUT, default: "false", describe: "show task id, pieces, scheduler order; no download" },

  { name: "digest", kind: "string", arg: "ALG:HEX", group: INTEGRITY, default: "none", describe: "sha256|sha512|crc32|blake3; mismatch exits 32" },
  { name: "header", alias: "H", kind: "list", arg: '"K: V"', group: INTEGRITY, default: "none", describe: "origin request header, repeatable" },
  { name: "retry", kind: "string", arg: "N", group: INTEGRITY, default: String(DEFAULTS.download.retries), env: "DFGET_RETRY", describe: "retries per piece after its first try" },
  { name: "timeout", kind: "string", arg: "DURATION", group: INTEGRITY, default: d(DEFAULTS.timeoutMs), env: "DFGET_TIMEOUT", describe: "whole-run deadline, exit 28" },
  { name: "disable-back-to-source", kind: "boolean", group: INTEGRITY, default: "false", env: "DFGET_DISABLE_BACK_TO_SOURCE", describe: "never fetch from the origin (else exit 69)" },

  { name: "tag", kind: "string", arg: "TEXT", group: TASK, default: '""', env: "DFGET_TAG", describe: "enters the task id as in Dragonfly" },
  { name: "application", kind: "string", arg: "TEXT", group: TASK, default: '""', env: "DFGET_APPLICATION", describe: "enters the task id as in Dragonfly" },
  { name: "priority", alias: "p", kind: "string", arg: "N", group: TASK, default: String(DEFAULTS.priority), env: "DFGET_PRIORITY", describe: "Dragonfly priority 0..6" },
  { name: "piece-length", kind: "string", arg: "SIZE", group: TASK, default: "computed", env: "DFGET_PIECE_LENGTH", describe: `${formatSize(MIN_PIECE_LENGTH).toLowerCase()}..${formatSize(MAX_PIECE_LENGTH).toLowerCase()}; enters the task id` },
  { name: "filtered-query-param", kind: "list", arg: "NAME", group: TASK, default: "Dragonfly's 30", describe: "query key kept out of the task id, repeatable" },
  { name: "content-for-calculating-task-id", kind: "string", arg: "TEXT", group: TASK, default: "none", env: "DFGET_CONTENT_FOR_CALCULATING_TASK_ID", describe: "task id = sha256(TEXT)" },

  { name: "scheduler", kind: "list", arg: "HOST:PORT", group: CLUSTER, default: "none", env: "DFGET_SCHEDULERS", describe: "static schedulers, repeatable or comma-separated" },
  { name: "manager", kind: "list", arg: "HOST:PORT", group: CLUSTER, default: "none", env: "DFGET_MANAGERS", describe: "managers, tried in order" },
  { name: "state-dir", kind: "string", arg: "DIR", group: CLUSTER, default: "~/.local/state/dfget", env: "DFGET_STATE_DIR", describe: "cooldown records between runs" },

  { name: "connect-timeout", kind: "string", arg: "DURATION", group: SWITCHING, default: secs(DEFAULTS.scheduler.connectTimeoutMs), env: "DFGET_CONNECT_TIMEOUT", describe: "dial + health check deadline" },
  { name: "cooldown", kind: "string", arg: "DURATION", group: SWITCHING, default: secs(DEFAULTS.scheduler.cooldownIntervalMs), env: "DFGET_COOLDOWN", describe: "how long a failed scheduler is skipped" },
  { name: "hedge-delay", kind: "string", arg: "DURATION", group: SWITCHING, default: d(DEFAULTS.scheduler.hedgeDelayMs), env: "DFGET_HEDGE_DELAY", describe: "next scheduler probed after this; 0 = in turn" },

  { name: "progress", kind: "string", arg: "MODE", group: DISPLAY, default: DEFAULTS.progress, describe: "auto|bar|line|none" },
  { name: "no-progress", kind: "boolean", group: DISPLAY, default: "false", env: "DFGET_NO_PROGRESS", describe: "= --progress none" },
  { name: "quiet", alias: "q", kind: "boolean", group: DISPLAY, default: "false", describe: "errors only" },
  { name: "verbose", alias: "v", kind: "boolean", group: DISPLAY, default: "false", describe: "= --log-level debug" },
  { name: "log-level", alias: "l", kind: "string", arg: "LEVEL", group: DISPLAY, default: DEFAULTS.logLevel, env: "DFGET_LOG_LEVEL", describe: "trace|debug|info|warn|error" },
  { name: "color", kind: "string", arg: "WHEN", group: DISPLAY, default: DEFAULTS.color, describe: "auto|always|never; honours NO_COLOR" },

  { name: "config", kind: "string", arg: "FILE", group: CONFIG, default: "~/.config/dragonfly/dfget.yaml", env: "DFGET_CONFIG", describe: "YAML config file" },
  { name: "help", alias: "h", kind: "boolean", group: CONFIG, default: "false", describe: "show this help" },
  { name: "version", alias: "V", kind: "boolean", group: CONFIG, default: "false", describe: "print dfget <version>" },

  { name: "input-file", alias: "i", kind: "string", arg: "FILE|-", group: BATCH, default: "none", describe: "URLs, one a line (# comments), - = stdin" },
  { name: "max-concurrent-files", kind: "string", arg: "N", group: BATCH, default: String(DEFAULTS.maxConcurrentFiles), env: "DFGET_MAX_CONCURRENT_FILES", describe: "files downloaded at a time" },
  { name: "recursive", alias: "r", kind: "boolean", group: BATCH, default: "false", describe: "everything under an s3:// prefix" },
  { name: "include-files", alias: "I", kind: "list", arg: "GLOB", group: BATCH, default: "all", describe: "with -r: only keys matching GLOB, repeatable" },
  { name: "storage-endpoint", kind: "string", arg: "URL", group: BATCH, default: "$AWS_ENDPOINT_URL", env: "DFGET_STORAGE_ENDPOINT", describe: "S3-compatible endpoint" },
  { name: "storage-region", kind: "string", arg: "R", group: BATCH, default: "$AWS_REGION", env: "DFGET_STORAGE_REGION", describe: "S3 region" },
  { name: "storage-access-key-id", kind: "string", arg: "ID", group: BATCH, default: "$AWS_ACCESS_KEY_ID", env: "DFGET_STORAGE_ACCESS_KEY_ID", describe: "S3 access key id" },
  { name: "storage-access-key-secret", kind: "string", arg: "S", group: BATCH, default: "$AWS_SECRET_ACCESS_KEY", env: "DFGET_STORAGE_ACCESS_KEY_SECRET", describe: "S3 secret access key" },
  { name: "storage-session-token", kind: "string", arg: "T", group: BATCH, default: "$AWS_SESSION_TOKEN", env: "DFGET_STORAGE_SESSION_TOKEN", describe: "S3 session token" },
  { name: "storage-insecure-skip-verify", kind: "boolean", group: BATCH, default: "false", env: "DFGET_STORAGE_INSECURE_SKIP_VERIFY", describe: "skip TLS verification of the endpoint" },

  { name: "endpoint", alias: "e", kind: "string", group: HIDDEN, default: "", hidden: true, describe: ownPeer },
  { name: "transfer-from-dfdaemon", kind: "boolean", group: HIDDEN, default: "", hidden: true, describe: ownPeer },
];

/** Upstream dfdaemon options: accepted by the parser only to be answered in one line (exit 2). */
export const DFDAEMON_ONLY_MESSAGE = `${ownPeer} (nothing to connect to: drop the option)`;

/** Config-file keys with their defaults as written in YAML; complete by type. */
const CONFIG_DEFAULTS: Record<ConfigKey, string> = {
  "manager.addrs": "[]",
  "manager.caCert": '""',
  "manager.cert": '""',
  "manager.key": '""',
  "scheduler.addrs": "[]",
  "scheduler.cooldownInterval": secs(DEFAULTS.scheduler.cooldownIntervalMs),
  "scheduler.maxAttempts": `${DEFAULTS.scheduler.maxAttempts} (= all)`,
  "scheduler.connectTimeout": secs(DEFAULTS.scheduler.connectTimeoutMs),
  "scheduler.scheduleTimeout": secs(DEFAULTS.scheduler.scheduleTimeoutMs),
  "scheduler.hedgeDelay": d(DEFAULTS.scheduler.hedgeDelayMs),
  "scheduler.caCert": '""',
  "scheduler.cert": '""',
  "scheduler.key": '""',
  "download.concurrentPieceCount": String(DEFAULTS.download.concurrentPieceCount),
  "download.disableBackToSource": String(DEFAULTS.download.disableBackToSource),
  "download.pieceTimeout": secs(DEFAULTS.download.pieceTimeoutMs),
  "download.retries": String(DEFAULTS.download.retries),
  "download.lowSpeedLimit": formatSize(DEFAULTS.download.lowSpeedLimit),
  "host.ip": '"" (first non-internal IPv4)',
  "host.hostname": '""',
  "host.idc": '""',
  "host.location": '""',
  "upload.port": `${DEFAULTS.upload.port} (ephemeral)`,
  "upload.tcpPort": `${DEFAULTS.upload.tcpPort} (ephemeral)`,
  "state.dir": '"" (= --state-dir default)',
};

/** Every config-file key with its default as written in YAML (README, tests). */
export function configKeyDefaults(): ReadonlyArray<[ConfigKey, string]> {
  return Object.entries(CONFIG_DEFAULTS) as Array<[ConfigKey, string]>;
}
