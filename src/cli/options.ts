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
//   DFGET_CONNECT_TIMEOUT, DFGET_COOLDOWN, DFGET_STATE_DIR    (ours)
// An empty variable counts as unset. Booleans accept true/false/1/0/yes/no/on/off.
import { resolve } from "node:path";
import yargs, { type Argv, type Options } from "yargs";
import { DEFAULTS, deepFreeze, MAX_DURATION_MS, MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, PRIORITY_RANGE, SYSTEM_CONFIG_PATHS, defaultStateDir } from "../config/defaults.js";
import { checkDurationRange, parseDuration } from "../config/duration.js";
import { configCandidates, loadConfig, parseHostPort, type ConfigValues, type ReadText } from "../config/file.js";
import { formatSize, parseSize } from "../config/size.js";
import type { ColorMode, LogLevel, ProgressMode, RunConfig, TlsFiles } from "../config/types.js";
import { messageOf, UsageError } from "../errors.js";
import { DEFAULT_FILTERED_QUERY_PARAMS } from "../task/task-id.js";
import { formatDigest, parseDigest } from "../storage/digest.js";
import { HELP_EPILOGUE, OPTIONS, USAGE } from "./options-table.js";

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
}

const PROGRESS_MODES: readonly ProgressMode[] = ["auto", "bar", "line", "none"];
const COLOR_MODES: readonly ColorMode[] = ["auto", "always", "never"];
const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Header values are bytes on the wire: tab, visible ASCII, space and obs-text, no CR/LF/NUL.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export async function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv, opts: CommandLineOptions): Promise<CommandLineResult> {
  const parser = buildParser(argv);
  const options = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  // Answered before validation, so `dfget --bogus --help` still shows help.
  if (options.includes("--help") || options.includes("-h")) return { kind: "help", text: await parser.getHelp() };
  if (options.includes("--version") || options.includes("-V")) return { kind: "version", text: `dfget ${opts.version}` };
  rejectBooleanWithValue(options);

  const raw: Record<string, unknown> = await parser.parseAsync();
  const flags = new FlagReader(raw);
  if (flags.bool("help")) return { kind: "help", text: await parser.getHelp() };
  if (flags.bool("version")) return { kind: "version", text: `dfget ${opts.version}` };

  const candidates = configCandidates({ flag: flags.string("config"), env, cwd: opts.cwd, systemPaths: opts.systemConfigPaths ?? SYSTEM_CONFIG_PATHS });
  const loaded = await loadConfig(candidates, opts.readFile);
  return { kind: "run", config: resolveRunConfig(raw, env, opts.cwd, loaded?.values ?? {}, loaded?.path) };
}

function buildParser(argv: string[]): Argv {
  const options: Record<string, Options> = {};
  for (const spec of OPTIONS) {
    options[spec.name] = {
      ...(spec.alias ? { alias: spec.alias } : {}),
      group: spec.group,
      describe: spec.env ? `${spec.describe} [env: ${spec.env}]` : spec.describe,
      defaultDescription: spec.default,
      ...(spec.kind === "boolean" ? { type: "boolean" } : { type: "string", requiresArg: true }),
    };
  }
  return yargs(argv)
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
    .usage(USAGE)
    .options(options)
    .epilogue(HELP_EPILOGUE)
    .wrap(100)
    .fail((msg, err) => {
      throw new UsageError(yargsMessage(msg ?? messageOf(err)), { cause: err });
    });
}

/** yargs's wording → ours, naming the flag as typed. */
function yargsMessage(msg: string): string {
  const flagOf = (name: string): string => (name.length === 1 ? `-${name}` : `--${name}`);
  const unknown = /^Unknown arguments?: (.+)$/.exec(msg);
  if (unknown) return `unknown option ${unknown[1].split(", ").map(flagOf).join(", ")} (see dfget --help)`;
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

/** Typed access to yargs's result: the last value wins for single-valued options. */
class FlagReader {
  constructor(private readonly raw: Record<string, unknown>) {}
  private values(name: string): unknown[] {
    const value = this.raw[name];
    return value === undefined ? [] : Array.isArray(value) ? value : [value];
  }
  /** Single value: a string, `false` (from --no-NAME) or undefined when absent. */
  lastRaw(name: string): unknown {
    return this.values(name).at(-1);
  }
  string(name: string): string | undefined {
    const value = this.lastRaw(name);
    if (value === undefined || typeof value === "string") return value;
    throw new UsageError(`--${name}: expected a value`);
  }
  list(name: string): string[] {
    return this.values(name).map((value) => {
      if (typeof value === "string") return value;
      throw new UsageError(`--${name}: expected a value`);
    });
  }
  bool(name: string): boolean | undefined {
    const value = this.lastRaw(name);
    if (value === undefined || typeof value === "boolean") return value;
    throw new UsageError(`--${name}: expected true or false`);
  }
}

/** Runs a value parser, prefixing its error with where the value came from. */
function take<T>(label: string, raw: string | undefined, parse: (s: string) => T): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return parse(raw);
  } catch (err) {
    throw new UsageError(`${label}: ${messageOf(err)}`, { cause: err });
  }
}

// ---- value parsers: (text) => value, throwing Error(reason) ----------------------------

const durationWithin = (minMs: number) => (s: string): number => checkDurationRange(parseDuration(s), minMs, MAX_DURATION_MS);

function choice<T extends string>(allowed: readonly T[]): (s: string) => T {
  return (s) => {
    const found = allowed.find((a) => a === s);
    if (found === undefined) throw new Error(`invalid value ${JSON.stringify(s)} (expected ${allowed.join(", ")})`);
    return found;
  };
}

function parseEnvBoolean(s: string): boolean {
  const lower = s.toLowerCase();
  if (["true", "1", "yes", "on"].includes(lower)) return true;
  if (["false", "0", "no", "off"].includes(lower)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(s)}`);
}

function parsePriority(s: string): number {
  const n = /^[0-9]$/.test(s) ? Number(s) : NaN;
  if (!(n >= PRIORITY_RANGE.min && n <= PRIORITY_RANGE.max)) throw new Error(`invalid priority ${JSON.stringify(s)} (expected ${PRIORITY_RANGE.min}..${PRIORITY_RANGE.max})`);
  return n;
}

function parsePieceLength(s: string): number {
  const bytes = parseSize(s);
  if (bytes < MIN_PIECE_LENGTH || bytes > MAX_PIECE_LENGTH) {
    throw new Error(`${s} (${bytes} bytes) is out of range: must be between ${formatSize(MIN_PIECE_LENGTH)} and ${formatSize(MAX_PIECE_LENGTH)}`);
  }
  return bytes;
}

/** Absolute http(s) URL, WHATWG-normalised (as Dragonfly's url::Url does). */
export function parseHttpUrl(s: string): string {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new UsageError(`invalid URL ${JSON.stringify(s)} (expected an absolute http:// or https:// URL)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`unsupported URL scheme ${JSON.stringify(url.protocol.slice(0, -1))} in ${JSON.stringify(s)} (only http and https are supported)`);
  }
  return url.href;
}

/** "K: V": split at the first colon, both sides trimmed; the name must be an HTTP token. */
export function parseHeader(s: string): [string, string] {
  const colon = s.indexOf(":");
  if (colon < 0) throw new Error(`invalid header ${JSON.stringify(s)} (expected "Name: value")`);
  const name = s.slice(0, colon).trim();
  const value = s.slice(colon + 1).trim();
  if (name === "") throw new Error(`invalid header ${JSON.stringify(s)} (empty name)`);
  if (!HEADER_NAME.test(name)) throw new Error(`invalid header ${JSON.stringify(s)} (bad character in name ${JSON.stringify(name)})`);
  if (!HEADER_VALUE.test(value)) throw new Error(`invalid header ${JSON.stringify(s)} (control character in value)`);
  return [name, value];
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

function resolveRunConfig(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, cwd: string, file: ConfigValues, configFile: string | undefined): RunConfig {
  const flags = new FlagReader(raw);
  const envText = (name: string): string | undefined => env[name] || undefined;
  /** --flag, then its environment variable; undefined when neither is set. */
  const layered = <T>(flag: string, envName: string | undefined, parse: (s: string) => T): T | undefined =>
    take(`--${flag}`, flags.string(flag), parse) ?? (envName ? take(envName, envText(envName), parse) : undefined);
  const layeredBool = (flag: string, envName: string | undefined): boolean | undefined =>
    flags.bool(flag) ?? (envName ? take(envName, envText(envName), parseEnvBoolean) : undefined);

  const positionals = (raw._ as unknown[]).map(String);
  if (positionals.length === 0) throw new UsageError("missing URL (usage: dfget <URL> -O <PATH|->; see dfget --help)");
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])} (only one URL is accepted)`);
  const url = parseHttpUrl(positionals[0]);

  const dryRun = flags.bool("dry-run") ?? DEFAULTS.dryRun;
  const outputText = flags.string("output");
  if (outputText === "") throw new UsageError("--output: empty path (use -O - for stdout)");
  if (outputText === undefined && !dryRun) throw new UsageError("-O/--output is required (a file path, or - for stdout), unless --dry-run");
  const output = outputText === undefined ? "" : outputText === "-" ? "-" : resolve(cwd, outputText);

  const quiet = flags.bool("quiet") ?? false;
  const verbose = flags.bool("verbose") ?? false;
  const logLevelFlag = take("--log-level", flags.string("log-level"), choice(LOG_LEVELS));
  if (quiet && verbose) throw new UsageError("-q/--quiet and -v/--verbose cannot be combined");
  if (verbose && logLevelFlag !== undefined) throw new UsageError("-v/--verbose and --log-level cannot be combined (-v = --log-level debug)");
  const logLevel = logLevelFlag ?? (verbose ? "debug" : quiet ? "error" : undefined) ?? take("DFGET_LOG_LEVEL", envText("DFGET_LOG_LEVEL"), choice(LOG_LEVELS)) ?? DEFAULTS.logLevel;

  const progressRaw = flags.lastRaw("progress");
  const progressFlag = progressRaw === false ? "none" : take("--progress", flags.string("progress"), choice(PROGRESS_MODES));
  const envNoProgress = take("DFGET_NO_PROGRESS", envText("DFGET_NO_PROGRESS"), parseEnvBoolean);
  const progress = progressFlag ?? (quiet || envNoProgress ? "none" : DEFAULTS.progress);

  const stateDir = layered("state-dir", "DFGET_STATE_DIR", (s) => resolve(cwd, s)) ?? (file["state.dir"] || defaultStateDir(env));
  const filtered = flags.list("filtered-query-param");
  const cluster = resolveCluster(flags, env, file);

  const config: RunConfig = {
    url,
    output,
    overwrite: layeredBool("overwrite", "DFGET_OVERWRITE") ?? DEFAULTS.overwrite,
    digest: take("--digest", flags.string("digest"), (s) => formatDigest(parseDigest(s))),
    headers: flags.list("header").map((h) => take("--header", h, parseHeader) as [string, string]),
    tag: layered("tag", "DFGET_TAG", String) ?? DEFAULTS.tag,
    application: layered("application", "DFGET_APPLICATION", String) ?? DEFAULTS.application,
    priority: layered("priority", "DFGET_PRIORITY", parsePriority) ?? DEFAULTS.priority,
    pieceLength: layered("piece-length", "DFGET_PIECE_LENGTH", parsePieceLength),
    filteredQueryParams: filtered.length > 0 ? filtered : [...DEFAULT_FILTERED_QUERY_PARAMS],
    disableBackToSource: layeredBool("disable-back-to-source", "DFGET_DISABLE_BACK_TO_SOURCE") ?? file["download.disableBackToSource"] ?? DEFAULTS.download.disableBackToSource,
    timeoutMs: layered("timeout", "DFGET_TIMEOUT", durationWithin(1)) ?? DEFAULTS.timeoutMs,
    dryRun,
    json: flags.bool("json") ?? DEFAULTS.json,
    progress,
    color: take("--color", flags.string("color"), choice(COLOR_MODES)) ?? DEFAULTS.color,
    logLevel,
    quiet,
    stateDir,
    manager: { addrs: cluster.managers, tls: tlsFrom(file, "manager") },
    scheduler: {
      addrs: cluster.schedulers,
      cooldownIntervalMs: layered("cooldown", "DFGET_COOLDOWN", durationWithin(0)) ?? file["scheduler.cooldownInterval"] ?? DEFAULTS.scheduler.cooldownIntervalMs,
      maxAttempts: file["scheduler.maxAttempts"] ?? DEFAULTS.scheduler.maxAttempts,
      connectTimeoutMs: layered("connect-timeout", "DFGET_CONNECT_TIMEOUT", durationWithin(1)) ?? file["scheduler.connectTimeout"] ?? DEFAULTS.scheduler.connectTimeoutMs,
      scheduleTimeoutMs: file["scheduler.scheduleTimeout"] ?? DEFAULTS.scheduler.scheduleTimeoutMs,
      tls: tlsFrom(file, "scheduler"),
    },
    download: {
      concurrentPieceCount: file["download.concurrentPieceCount"] ?? DEFAULTS.download.concurrentPieceCount,
      pieceTimeoutMs: file["download.pieceTimeout"] ?? DEFAULTS.download.pieceTimeoutMs,
    },
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
  if (config.digest === undefined) delete config.digest;
  if (config.pieceLength === undefined) delete config.pieceLength;
  return deepFreeze(config);
}
