// dfget's command line (../shared/design/cli.md): argv + env + config file + defaults →
// one validated, frozen RunConfig. yargs owns the argv grammar and the grouped --help;
// precedence and validation are ours so every error is one line naming the flag, the
// environment variable or the config key and file (UsageError, exit 2).
//
// Environment variables (flags beat them; they beat the config file, except the cluster
// lists, which follow the contract's "first match wins" order and rank below the file):
//   DFGET_CONFIG, DFGET_SCHEDULERS, DFGET_MANAGERS            (contract)
//   DFGET_TIMEOUT, DFGET_OVERWRITE, DFGET_PRIORITY, DFGET_PIECE_LENGTH, DFGET_TAG,
//   DFGET_APPLICATION, DFGET_DISABLE_BACK_TO_SOURCE, DFGET_NO_PROGRESS, DFGET_LOG_LEVEL
//                                                             (same names as Rust dfget)
//   DFGET_CONTENT_FOR_CALCULATING_TASK_ID, DFGET_STORAGE_*    (same names as Rust dfget)
//   DFGET_CONNECT_TIMEOUT, DFGET_COOLDOWN, DFGET_STATE_DIR, DFGET_RETRY, DFGET_HEDGE_DELAY,
//   DFGET_MAX_CONCURRENT_FILES                                (ours)
//   AWS_ENDPOINT_URL, AWS_REGION (AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID,
//   AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN                  (below DFGET_STORAGE_*)
// An empty variable counts as unset. Booleans accept true/false/1/0/yes/no/on/off.
import { resolve } from "node:path";
import yargs, { type Argv, type Options } from "yargs";
import { DEFAULTS, deepFreeze, MIN_HEDGE_DELAY_MS, SYSTEM_CONFIG_PATHS, defaultStateDir } from "../config/defaults.js";
import { formatDuration } from "../config/duration.js";
import { configCandidates, loadConfig, parseHostPort, type ConfigValues, type ReadText } from "../config/file.js";
import type { ColorMode, LogLevel, ProgressMode, RunConfig, TlsFiles } from "../config/types.js";
import { messageOf, UsageError } from "../errors.js";
import { DEFAULT_FILTERED_QUERY_PARAMS } from "../task/task-id.js";
import { formatDigest, parseDigest } from "../storage/digest.js";
import { helpText } from "./help.js";
import {
  choice, durationWithin, parseEnvBoolean, parseHeader, parseHttpUrl, parsePieceLength, parsePriority,
  parseRetries, take,
} from "./option-values.js";
import { DFDAEMON_ONLY_MESSAGE, OPTIONS } from "./options-table.js";
import { probePath, resolveOutputPath, type ProbePath } from "./output-path.js";
import { quickAnswer } from "./quick-answer.js";
import { closest } from "./suggest.js";
import { checkBatchLimits, FlagReader, isBatch, Layers, resolveSources, resolveStorage } from "./option-sources.js";

export { parseHeader, parseHttpUrl };

export type CommandLineResult =
  | { kind: "run"; config: RunConfig }
  | { kind: "help"; text: string }
  | { kind: "version"; text: string };

export interface CommandLineOptions {
  version: string;
  cwd: string;
  /** Reads a config file; undefined = does not exist. Default: the real file system. */
  readFile?: ReadText;
  /** Config files searched after $XDG_CONFIG_HOME; default /etc/dragonfly/dfget.yaml. */
  systemConfigPaths?: readonly string[];
  /** What is at a path, for -O DIR/ and the up-front directory check. Default: the real file system. */
  probePath?: ProbePath;
}

const PROGRESS_MODES: readonly ProgressMode[] = ["auto", "bar", "line", "none"];
const COLOR_MODES: readonly ColorMode[] = ["auto", "always", "never"];
const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error"];

export async function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv, opts: CommandLineOptions): Promise<CommandLineResult> {
  // Answered before validation, so `dfget --bogus --help` still shows help.
  const quick = quickAnswer(argv);
  if (quick === "help") return { kind: "help", text: helpText() };
  if (quick === "version") return { kind: "version", text: `dfget ${opts.version}` };
  const parser = buildParser(argv);
  const options = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  rejectCurlOutputFlag(options);
  rejectBooleanWithValue(options);

  const raw: Record<string, unknown> = await parser.parseAsync();
  const flags = new FlagReader(raw);
  if (flags.bool("help")) return { kind: "help", text: helpText() };
  if (flags.bool("version")) return { kind: "version", text: `dfget ${opts.version}` };
  if (raw.endpoint !== undefined) throw new UsageError(`-e/--endpoint: ${DFDAEMON_ONLY_MESSAGE}`);
  if (raw["transfer-from-dfdaemon"] !== undefined) throw new UsageError(`--transfer-from-dfdaemon: ${DFDAEMON_ONLY_MESSAGE}`);

  const candidates = configCandidates({ flag: flags.string("config"), env, cwd: opts.cwd, systemPaths: opts.systemConfigPaths ?? SYSTEM_CONFIG_PATHS });
  const loaded = await loadConfig(candidates, opts.readFile);
  const config = resolveRunConfig(raw, env, opts.cwd, loaded?.values ?? {}, loaded?.path);
  return { kind: "run", config: deepFreeze(await withOutputPath(config, flags.string("output"), opts)) };
}

/**
 * One URL with `-O DIR/` (or an existing directory) saves inside it; the directory of a
 * file output must exist. Checked here, before any byte is fetched. Batches keep the
 * directory: each file is named by the batch runner with the same rule.
 */
async function withOutputPath(config: RunConfig, typed: string | undefined, opts: CommandLineOptions): Promise<RunConfig> {
  if (typed === undefined || typed === "-" || config.dryRun || isBatch(config)) return config;
  return { ...config, output: await resolveOutputPath(typed, config.url, opts.cwd, opts.probePath ?? probePath) };
}

/** curl and wget users type `-o FILE`; dfget (like upstream dfget) spells it -O. */
function rejectCurlOutputFlag(options: readonly string[]): void {
  if (options.some((arg) => arg === "-o" || /^-o[^-]/.test(arg))) {
    throw new UsageError("-o: unknown option; dfget writes to -O/--output (capital O), e.g. -O file.bin");
  }
}

/** Short and long spellings of the options that take a value. */
const SHORT_WITH_VALUE = new Set(OPTIONS.flatMap((o) => (o.alias && o.kind !== "boolean" ? [o.alias] : [])));
const LONG_WITH_VALUE = new Set(OPTIONS.flatMap((o) => (o.kind !== "boolean" ? [o.name] : [])));

/**
 * A short option's value may be attached, getopt style, as curl and wget read it:
 * `-Ofile.bin`, `-H'Accept: x'`, `-ldebug` become `-O file.bin` … (yargs would read
 * `-Ofile` as -O -f -i -l -e). `-O=x` is left to yargs; nothing after `--` is touched.
 */
export function splitAttachedValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  let valueNext = false;
  let optionsEnded = false;
  for (const arg of argv) {
    const attached = /^-([A-Za-z])([^=][\s\S]*)$/.exec(arg);
    if (!optionsEnded && !valueNext && attached && SHORT_WITH_VALUE.has(attached[1])) {
      out.push(`-${attached[1]}`, attached[2]);
      continue;
    }
    out.push(arg);
    if (arg === "--" && !valueNext) optionsEnded = true;
    valueNext = !optionsEnded && !valueNext && ((arg.length === 2 && SHORT_WITH_VALUE.has(arg[1]) && arg[0] === "-") || (arg.startsWith("--") && LONG_WITH_VALUE.has(arg.slice(2))));
  }
  return out;
}

function buildParser(argv: string[]): Argv {
  const options: Record<string, Options> = {};
  for (const spec of OPTIONS) {
    options[spec.name] = {
      ...(spec.alias ? { alias: spec.alias } : {}),
      ...(spec.kind === "boolean" ? { type: "boolean" } : { type: "string", requiresArg: true }),
    };
  }
  return yargs(splitAttachedValues(argv))
    .scriptName("dfget")
    .locale("en")
    .exitProcess(false)
    .help(false)
    .version(false)
    .strictOptions()
    .parserConfiguration({
      "camel-case-expansion": false,
      "dot-notation": false,
      "parse-numbers": false,
      "parse-positional-numbers": false,
      "greedy-arrays": false,
      "strip-aliased": true,
      "duplicate-arguments-array": true,
      "boolean-negation": true,
    })
    .options(options)
    .fail((msg, err) => {
      throw new UsageError(yargsMessage(msg ?? messageOf(err), argv), { cause: err });
    });
}

const flagOf = (name: string): string => (name.length === 1 ? `-${name}` : `--${name}`);

/** yargs's wording → ours, naming the flag as typed; a near miss gets a suggestion. */
function yargsMessage(msg: string, argv: readonly string[]): string {
  const unknown = /^Unknown arguments?: (.+)$/.exec(msg);
  if (unknown) {
    // yargs reports `--no-foo` as "foo"; name it as it was typed.
    const typedNegated = (name: string): boolean => argv.some((a) => a === `--no-${name}` || a.startsWith(`--no-${name}=`));
    const names = unknown[1].split(", ").map((name) => (typedNegated(name) ? `no-${name}` : name));
    const typed = names.map(flagOf).join(", ");
    const long = OPTIONS.filter((o) => !o.hidden).flatMap((o) => (o.kind === "boolean" ? [o.name, `no-${o.name}`] : [o.name]));
    const guess = names[0].length > 1 ? closest(names[0], long) : undefined;
    return guess ? `unknown option ${typed}; did you mean --${guess}?` : `unknown option ${typed} (see dfget --help)`;
  }
  const missing = /^Not enough arguments following: (.+)$/.exec(msg);
  if (missing) return `${flagOf(missing[1])}: missing value`;
  return msg.split("\n")[0];
}

/** yargs reads `--json=yes` as false; a boolean flag given a value must say true or false. */
function rejectBooleanWithValue(options: readonly string[]): void {
  const booleans = new Set(OPTIONS.filter((o) => o.kind === "boolean").flatMap((o) => [o.name, `no-${o.name}`]));
  for (const arg of options) {
    const match = /^--([^=]+)=(.*)$/.exec(arg);
    if (match && booleans.has(match[1]) && match[2] !== "true" && match[2] !== "false") {
      throw new UsageError(`--${match[1]}: expected true or false, got ${JSON.stringify(match[2])}`);
    }
  }
}

/** HOST:PORT lists: each occurrence may hold several, comma-separated; duplicates dropped. */
function addressList(label: string, occurrences: readonly string[]): string[] {
  const out: string[] = [];
  for (const occurrence of occurrences) {
    for (const part of occurrence.split(",")) {
      const addr = part.trim();
      if (addr === "") throw new UsageError(`${label}: empty address in ${JSON.stringify(occurrence)}`);
      out.push(take(label, addr, parseHostPort) as string);
    }
  }
  return [...new Set(out)];
}

// ---- precedence -------------------------------------------------------------------------

type ClusterSource = RunConfig["clusterSource"];

function resolveCluster(flags: FlagReader, env: NodeJS.ProcessEnv, file: ConfigValues): { source: ClusterSource; schedulers: string[]; managers: string[] } {
  // Flag lists are checked even when the other one wins: both were typed just now.
  const schedulerFlag = addressList("--scheduler", flags.list("scheduler"));
  const managerFlag = addressList("--manager", flags.list("manager"));
  if (schedulerFlag.length > 0) return { source: "scheduler-flag", schedulers: schedulerFlag, managers: [] };
  if (managerFlag.length > 0) return { source: "manager-flag", schedulers: [], managers: managerFlag };
  if (file["scheduler.addrs"]?.length) return { source: "scheduler-file", schedulers: file["scheduler.addrs"], managers: [] };
  if (file["manager.addrs"]?.length) return { source: "manager-file", schedulers: [], managers: file["manager.addrs"] };
  if (env.DFGET_SCHEDULERS) return { source: "scheduler-env", schedulers: addressList("DFGET_SCHEDULERS", [env.DFGET_SCHEDULERS]), managers: [] };
  if (env.DFGET_MANAGERS) return { source: "manager-env", schedulers: [], managers: addressList("DFGET_MANAGERS", [env.DFGET_MANAGERS]) };
  return { source: "none", schedulers: [], managers: [] };
}

function tlsFrom(file: ConfigValues, side: "manager" | "scheduler"): TlsFiles {
  const tls: TlsFiles = {};
  for (const field of ["caCert", "cert", "key"] as const) {
    const value = file[`${side}.${field}`];
    if (value) tls[field] = value;
  }
  return tls;
}

function resolveLogging(layers: Layers): Pick<RunConfig, "logLevel" | "quiet" | "progress"> {
  const flags = layers.flags;
  const quiet = flags.bool("quiet") ?? false;
  const verbose = flags.bool("verbose") ?? false;
  const logLevelFlag = take("--log-level", flags.string("log-level"), choice(LOG_LEVELS));
  if (quiet && verbose) throw new UsageError("-q/--quiet and -v/--verbose cannot be combined");
  if (verbose && logLevelFlag !== undefined) throw new UsageError("-v/--verbose and -l/--log-level cannot be combined (-v = --log-level debug)");
  const logLevel = logLevelFlag ?? (verbose ? "debug" : quiet ? "error" : undefined) ?? take("DFGET_LOG_LEVEL", layers.envText("DFGET_LOG_LEVEL"), choice(LOG_LEVELS)) ?? DEFAULTS.logLevel;

  const progressRaw = flags.lastRaw("progress");
  const progressFlag = progressRaw === false ? "none" : take("--progress", flags.string("progress"), choice(PROGRESS_MODES));
  const envNoProgress = take("DFGET_NO_PROGRESS", layers.envText("DFGET_NO_PROGRESS"), parseEnvBoolean);
  const progress = progressFlag ?? (quiet || envNoProgress ? "none" : DEFAULTS.progress);
  return { logLevel, quiet, progress };
}

/** 0 (one probe at a time) or 10ms..connectTimeout, from --hedge-delay, env or the file. */
function resolveHedgeDelay(layers: Layers, file: ConfigValues, configFile: string | undefined, connectTimeoutMs: number): number {
  const fromFlag = layers.flags.string("hedge-delay") !== undefined ? "--hedge-delay" : layers.envText("DFGET_HEDGE_DELAY") ? "DFGET_HEDGE_DELAY" : undefined;
  const hedge = layers.value("hedge-delay", "DFGET_HEDGE_DELAY", durationWithin(0)) ?? file["scheduler.hedgeDelay"];
  if (hedge === undefined) return Math.min(DEFAULTS.scheduler.hedgeDelayMs, connectTimeoutMs);
  const label = fromFlag ?? `config ${configFile ?? "file"}: scheduler.hedgeDelay`;
  if (hedge !== 0 && hedge < MIN_HEDGE_DELAY_MS) throw new UsageError(`${label}: must be 0 (one scheduler at a time) or at least ${formatDuration(MIN_HEDGE_DELAY_MS)}`);
  if (hedge > connectTimeoutMs) throw new UsageError(`${label}: ${formatDuration(hedge)} is longer than the connect timeout (${formatDuration(connectTimeoutMs)}); use at most that`);
  return hedge;
}

function resolveScheduler(layers: Layers, file: ConfigValues, configFile: string | undefined, addrs: string[], connectTimeoutMs: number): RunConfig["scheduler"] {
  return {
    addrs,
    cooldownIntervalMs: layers.value("cooldown", "DFGET_COOLDOWN", durationWithin(0)) ?? file["scheduler.cooldownInterval"] ?? DEFAULTS.scheduler.cooldownIntervalMs,
    maxAttempts: file["scheduler.maxAttempts"] ?? DEFAULTS.scheduler.maxAttempts,
    connectTimeoutMs,
    scheduleTimeoutMs: file["scheduler.scheduleTimeout"] ?? DEFAULTS.scheduler.scheduleTimeoutMs,
    hedgeDelayMs: resolveHedgeDelay(layers, file, configFile, connectTimeoutMs),
    tls: tlsFrom(file, "scheduler"),
  };
}

function resolveDownload(layers: Layers, file: ConfigValues): RunConfig["download"] {
  return {
    concurrentPieceCount: file["download.concurrentPieceCount"] ?? DEFAULTS.download.concurrentPieceCount,
    pieceTimeoutMs: file["download.pieceTimeout"] ?? DEFAULTS.download.pieceTimeoutMs,
    retries: layers.value("retry", "DFGET_RETRY", parseRetries) ?? file["download.retries"] ?? DEFAULTS.download.retries,
    lowSpeedLimit: file["download.lowSpeedLimit"] ?? DEFAULTS.download.lowSpeedLimit,
  };
}

function resolveRunConfig(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, cwd: string, file: ConfigValues, configFile: string | undefined): RunConfig {
  const flags = new FlagReader(raw);
  const layers = new Layers(flags, env);
  const sources = resolveSources(layers, (raw._ as unknown[]).map(String), cwd);

  const dryRun = flags.bool("dry-run") ?? DEFAULTS.dryRun;
  const outputText = flags.string("output");
  if (outputText === "") throw new UsageError("-O/--output: empty path (use -O - for stdout)");
  if (outputText === undefined && !dryRun) throw new UsageError("-O/--output is required (a file path, a directory, or - for stdout), unless --dry-run");
  const output = outputText === undefined ? "" : outputText === "-" ? "-" : resolve(cwd, outputText);

  const stateDir = layers.value("state-dir", "DFGET_STATE_DIR", (s) => resolve(cwd, s)) ?? (file["state.dir"] || defaultStateDir(env));
  const filtered = flags.list("filtered-query-param");
  const cluster = resolveCluster(flags, env, file);
  const connectTimeoutMs = layers.value("connect-timeout", "DFGET_CONNECT_TIMEOUT", durationWithin(1)) ?? file["scheduler.connectTimeout"] ?? DEFAULTS.scheduler.connectTimeoutMs;

  const config: RunConfig = {
    ...sources,
    output,
    overwrite: layers.bool("overwrite", "DFGET_OVERWRITE") ?? DEFAULTS.overwrite,
    digest: take("--digest", flags.string("digest"), (s) => formatDigest(parseDigest(s))),
    headers: flags.list("header").map((h) => take("--header", h, parseHeader) as [string, string]),
    tag: layers.value("tag", "DFGET_TAG", String) ?? DEFAULTS.tag,
    application: layers.value("application", "DFGET_APPLICATION", String) ?? DEFAULTS.application,
    priority: layers.value("priority", "DFGET_PRIORITY", parsePriority) ?? DEFAULTS.priority,
    pieceLength: layers.value("piece-length", "DFGET_PIECE_LENGTH", parsePieceLength),
    contentForCalculatingTaskId: layers.value("content-for-calculating-task-id", "DFGET_CONTENT_FOR_CALCULATING_TASK_ID", String),
    filteredQueryParams: filtered.length > 0 ? filtered : [...DEFAULT_FILTERED_QUERY_PARAMS],
    disableBackToSource: layers.bool("disable-back-to-source", "DFGET_DISABLE_BACK_TO_SOURCE") ?? file["download.disableBackToSource"] ?? DEFAULTS.download.disableBackToSource,
    timeoutMs: layers.value("timeout", "DFGET_TIMEOUT", durationWithin(1)) ?? DEFAULTS.timeoutMs,
    dryRun,
    json: flags.bool("json") ?? DEFAULTS.json,
    ...resolveLogging(layers),
    color: take("--color", flags.string("color"), choice(COLOR_MODES)) ?? DEFAULTS.color,
    stateDir,
    resume: flags.bool("resume") ?? DEFAULTS.resume,
    storage: resolveStorage(layers),
    manager: { addrs: cluster.managers, tls: tlsFrom(file, "manager") },
    scheduler: resolveScheduler(layers, file, configFile, cluster.schedulers, connectTimeoutMs),
    download: resolveDownload(layers, file),
    host: {
      ip: file["host.ip"] ?? DEFAULTS.host.ip,
      hostname: file["host.hostname"] ?? DEFAULTS.host.hostname,
      idc: file["host.idc"] ?? DEFAULTS.host.idc,
      location: file["host.location"] ?? DEFAULTS.host.location,
    },
    upload: { port: file["upload.port"] ?? DEFAULTS.upload.port, tcpPort: file["upload.tcpPort"] ?? DEFAULTS.upload.tcpPort },
    ...(configFile ? { configFile } : {}),
    clusterSource: cluster.source,
  };
  for (const key of ["digest", "pieceLength", "contentForCalculatingTaskId"] as const) {
    if (config[key] === undefined) delete config[key];
  }
  checkBatchLimits(config);
  return config;
}
