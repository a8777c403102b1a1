// The validated, fully resolved settings of one run. cli/ builds it from flags, env,
// config file and defaults (in that precedence); everything below only reads it.

export type ProgressMode = "auto" | "bar" | "line" | "none";
export type ColorMode = "auto" | "always" | "never";
export type LogLevel = "error" | "warn" | "info" | "debug";

export interface TlsFiles {
  caCert?: string;
  cert?: string;
  key?: string;
}

export interface RunConfig {
  url: string;
  /** Absolute path, or "-" for stdout. Empty only with dryRun. */
  output: string;
  overwrite: boolean;
  /** "alg:value" as given (sha256|sha512|crc32|blake3). */
  digest?: string;
  /** Origin request headers in order, names as typed. */
  headers: Array<[string, string]>;
  tag: string;
  application: string;
  priority: number;
  /** User-requested piece length (enters the task id); undefined = computed. */
  pieceLength?: number;
  filteredQueryParams: string[];
  disableBackToSource: boolean;
  timeoutMs: number;
  dryRun: boolean;
  json: boolean;
  progress: ProgressMode;
  color: ColorMode;
  logLevel: LogLevel;
  quiet: boolean;
  stateDir: string;
  manager: { addrs: string[]; tls: TlsFiles };
  scheduler: {
    addrs: string[];
    cooldownIntervalMs: number;
    /** Schedulers tried per registration; 0 = all of them. */
    maxAttempts: number;
    connectTimeoutMs: number;
    scheduleTimeoutMs: number;
    tls: TlsFiles;
  };
  download: {
    concurrentPieceCount: number;
    pieceTimeoutMs: number;
  };
  host: { ip: string; hostname: string; idc: string; location: string };
  upload: { port: number; tcpPort: number };
  /** The config file that was loaded (absolute path), if any; for messages and --dry-run. */
  configFile?: string;
  /** Where the scheduler list came from, for messages: flag, env, file, none. */
  clusterSource: "scheduler-flag" | "manager-flag" | "scheduler-file" | "manager-file" | "scheduler-env" | "manager-env" | "none";
}
