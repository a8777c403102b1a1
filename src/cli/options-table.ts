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
  describe: string;
  /** As shown in --help; the real default is applied in options.ts from DEFAULTS. */
  default: string;
  env?: string;
}

const OUTPUT = "Output:";
const CLUSTER = "Cluster:";
const SWITCHING = "Switching:";
const DOWNLOAD = "Download:";
const DISPLAY = "Display:";
const GENERAL = "General:";
const d = formatDuration;
/** Short defaults in seconds, as the contract writes them ("60s", not "1m"). */
const secs = (ms: number): string => (ms % 1000 === 0 && ms < 3_600_000 ? `${ms / 1000}s` : formatDuration(ms));

export const USAGE = [
  "dfget <URL> -O <PATH|-> [options]",
  "dfget <URL> --dry-run [--json] [options]      plan only: no download",
].join("\n");

export const OPTIONS: readonly OptionSpec[] = [
  { name: "output", alias: "O", kind: "string", group: OUTPUT, default: "required unless --dry-run", describe: "output file PATH; - streams to stdout (progress and logs stay on stderr)" },
  { name: "overwrite", kind: "boolean", group: OUTPUT, default: "false", env: "DFGET_OVERWRITE", describe: "replace an existing output file (otherwise exit 73)" },
  { name: "digest", kind: "string", group: OUTPUT, default: "none", describe: "verify the whole file, ALG:VALUE with sha256, sha512, crc32 (decimal) or blake3; mismatch exits 32" },
  { name: "json", kind: "boolean", group: OUTPUT, default: "false", describe: "one JSON summary object at the end, on stdout (on stderr with -O -)" },
  { name: "dry-run", kind: "boolean", group: OUTPUT, default: "false", describe: "resolve schedulers, compute task id and piece plan, print the ordered scheduler candidates; download nothing" },

  { name: "scheduler", kind: "list", group: CLUSTER, default: "none", env: "DFGET_SCHEDULERS", describe: "static scheduler HOST:PORT, repeatable or comma-separated; the manager is not asked" },
  { name: "manager", kind: "list", group: CLUSTER, default: "none", env: "DFGET_MANAGERS", describe: "manager HOST:PORT, repeatable or comma-separated; several = failover, tried in order" },
  { name: "config", kind: "string", group: CLUSTER, default: "$XDG_CONFIG_HOME/dragonfly/dfget.yaml, then /etc/dragonfly/dfget.yaml", env: "DFGET_CONFIG", describe: "YAML config FILE" },
  { name: "state-dir", kind: "string", group: CLUSTER, default: "$XDG_STATE_HOME/dfget or ~/.local/state/dfget", env: "DFGET_STATE_DIR", describe: "DIR where cooldown records and the last good scheduler list persist between runs" },

  { name: "connect-timeout", kind: "string", group: SWITCHING, default: secs(DEFAULTS.scheduler.connectTimeoutMs), env: "DFGET_CONNECT_TIMEOUT", describe: "DURATION for dialling and health-checking one scheduler or manager (= scheduler.connectTimeout)" },
  { name: "cooldown", kind: "string", group: SWITCHING, default: secs(DEFAULTS.scheduler.cooldownIntervalMs), env: "DFGET_COOLDOWN", describe: "DURATION a failed scheduler is skipped for (= scheduler.cooldownInterval)" },

  { name: "header", alias: "H", kind: "list", group: DOWNLOAD, default: "none", describe: '"Name: value" request header for the origin, repeatable; malformed = usage error' },
  { name: "tag", kind: "string", group: DOWNLOAD, default: '""', env: "DFGET_TAG", describe: "enters the task id exactly as in Dragonfly" },
  { name: "application", kind: "string", group: DOWNLOAD, default: '""', env: "DFGET_APPLICATION", describe: "enters the task id exactly as in Dragonfly" },
  { name: "priority", kind: "string", group: DOWNLOAD, default: String(DEFAULTS.priority), env: "DFGET_PRIORITY", describe: "Dragonfly priority N, 0..6 (LEVEL0..LEVEL6)" },
  { name: "piece-length", kind: "string", group: DOWNLOAD, default: "computed", env: "DFGET_PIECE_LENGTH", describe: `SIZE, ${formatSize(MIN_PIECE_LENGTH)}..${formatSize(MAX_PIECE_LENGTH)}; enters the task id` },
  { name: "filtered-query-param", kind: "list", group: DOWNLOAD, default: "Dragonfly's list (X-Amz-*, X-Goog-*, ...)", describe: "query NAME left out of the task id, repeatable; replaces the default list" },
  { name: "disable-back-to-source", kind: "boolean", group: DOWNLOAD, default: "false", env: "DFGET_DISABLE_BACK_TO_SOURCE", describe: "never fetch from the origin; no scheduler available then exits 69" },
  { name: "timeout", kind: "string", group: DOWNLOAD, default: d(DEFAULTS.timeoutMs), env: "DFGET_TIMEOUT", describe: "whole-run DURATION (exit 28)" },

  { name: "progress", kind: "string", group: DISPLAY, default: DEFAULTS.progress, describe: "auto|bar|line|none; auto = bar on a TTY, periodic plain lines otherwise" },
  { name: "no-progress", kind: "boolean", group: DISPLAY, default: "false", env: "DFGET_NO_PROGRESS", describe: "= --progress none" },
  { name: "quiet", alias: "q", kind: "boolean", group: DISPLAY, default: "false", describe: "errors only, no progress (--log-level error --progress none)" },
  { name: "verbose", alias: "v", kind: "boolean", group: DISPLAY, default: "false", describe: "= --log-level debug" },
  { name: "log-level", kind: "string", group: DISPLAY, default: DEFAULTS.logLevel, env: "DFGET_LOG_LEVEL", describe: "error|warn|info|debug; logs go to stderr only" },
  { name: "color", kind: "string", group: DISPLAY, default: DEFAULTS.color, describe: "auto|always|never; auto honours NO_COLOR, FORCE_COLOR, TERM=dumb" },

  { name: "help", alias: "h", kind: "boolean", group: GENERAL, default: "false", describe: "show this help" },
  { name: "version", alias: "V", kind: "boolean", group: GENERAL, default: "false", describe: "print dfget <version>" },
];

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
  "scheduler.caCert": '""',
  "scheduler.cert": '""',
  "scheduler.key": '""',
  "download.concurrentPieceCount": String(DEFAULTS.download.concurrentPieceCount),
  "download.disableBackToSource": String(DEFAULTS.download.disableBackToSource),
  "download.pieceTimeout": secs(DEFAULTS.download.pieceTimeoutMs),
  "host.ip": '"" (first non-internal IPv4)',
  "host.hostname": '""',
  "host.idc": '""',
  "host.location": '""',
  "upload.port": `${DEFAULTS.upload.port} (ephemeral)`,
  "upload.tcpPort": `${DEFAULTS.upload.tcpPort} (ephemeral)`,
  "state.dir": '"" (= --state-dir default)',
};

function configKeyLines(filter: (key: string) => boolean): string[] {
  return Object.entries(CONFIG_DEFAULTS)
    .filter(([key]) => filter(key))
    .map(([key, value]) => `  ${key.padEnd(32)}${value}`);
}

const isHostOrUpload = (key: string): boolean => key.startsWith("host.") || key.startsWith("upload.");

export const HELP_EPILOGUE = [
  "Cluster (first match wins): --scheduler, --manager, config scheduler.addrs, config",
  "manager.addrs, $DFGET_SCHEDULERS, $DFGET_MANAGERS; none of them = download straight",
  "from the origin.",
  "",
  "Precedence: flags > environment > config file > defaults.",
  "Durations: 500ms, 2s, 1m30s, 2h (units h, m, s, ms; no fractions).",
  "Sizes: 4MiB, 8mib, 4194304 (KiB/MiB/GiB = 1024^n; KB/MB/GB = 1000^n).",
  "Environment: also XDG_CONFIG_HOME, XDG_STATE_HOME, HOME; an empty variable counts as unset.",
  "",
  "Config file keys (dfget.yaml, camelCase as in dfdaemon.yaml) and defaults:",
  ...configKeyLines((key) => !isHostOrUpload(key)),
  "",
  "Host & upload (config file only):",
  ...configKeyLines(isHostOrUpload),
  "",
  "Exit codes: 0 ok, 1 other, 2 usage/config, 7 origin unreachable, 18 partial, 22 origin HTTP",
  "error, 23 write error, 28 timeout, 32 digest mismatch, 69 no scheduler, 73 output exists,",
  "130/143 interrupted.",
].join("\n");
