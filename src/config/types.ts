// The validated, fully resolved settings of one run. cli/ builds it from flags, env,
// config file and defaults (in that precedence); everything below only reads it.

export type ProgressMode = "auto" | "bar" | "line" | "none";
export type ColorMode = "auto" | "always" | "never";
export type LogLevel = "error" | "warn" | "info" | "debug" | "trace";

export interface TlsFiles {
  caCert?: string;
  cert?: string;
  key?: string;
}

/** Object-storage credentials and endpoint (S3 and S3-compatible; SigV4). */
export interface StorageConfig {
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  sessionToken?: string;
  insecureSkipVerify: boolean;
}

export interface RunConfig {
  /** The first positional URL ("" when URLs come only from --input-file). */
  url: string;
  /** Every positional URL in order (http, https or s3); several = a batch run. */
  urls: string[];
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
  /** When set, the task id is sha256 of this text alone (Rust dfget's flag of that name). */
  contentForCalculatingTaskId?: string;
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
    /** Next scheduler probe starts after this long without an answer; 0 = one at a time. */
    hedgeDelayMs: number;
    tls: TlsFiles;
  };
  download: {
    concurrentPieceCount: number;
    pieceTimeoutMs: number;
    /** Retries per piece after its first try, across sources. */
    retries: number;
    /** Bytes per second; slower over a pieceTimeout window = abandoned and retried. */
    lowSpeedLimit: number;
  };
  /** Resume an unfinished earlier run to the same output (--no-resume = false). */
  resume: boolean;
  /** URL list file (-i), "-" = stdin. */
  inputFile?: string;
  /** Files downloaded at a time in one batch run. */
  maxConcurrentFiles: number;
  /** -r: every object under an s3:// prefix. */
  recursive: boolean;
  /** -I globs relative to the prefix; empty = all. */
  includeFiles: string[];
  storage: StorageConfig;
  host: { ip: string; hostname: string; idc: string; location: string };
  upload: { port: number; tcpPort: number };
  /** The config file that was loaded (absolute path), if any; for messages and --dry-run. */
  configFile?: string;
  /** Where the scheduler list came from, for messages: flag, env, file, none. */
  clusterSource: "scheduler-flag" | "manager-flag" | "scheduler-file" | "manager-file" | "scheduler-env" | "manager-env" | "none";
}
