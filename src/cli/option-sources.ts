// Where option values come from (flag, then environment variables) and the option groups
// that only read flags and environment: what to download (URLs, -i, -r, -I) and the S3
// settings. options.ts composes them with the config file into a RunConfig.
import { resolve } from "node:path";
import { DEFAULTS } from "../config/defaults.js";
import type { RunConfig, StorageConfig } from "../config/types.js";
import { UsageError } from "../errors.js";
import { parseConcurrentFiles, parseEnvBoolean, parseHttpUrl, parseSourceUrl, take } from "./option-values.js";

/** Typed access to yargs's result: the last value wins for single-valued options. */
export class FlagReader {
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

/** flag → environment → (caller's) file → default, each value parsed where it came from. */
export class Layers {
  constructor(readonly flags: FlagReader, private readonly env: NodeJS.ProcessEnv) {}
  envText(name: string): string | undefined {
    return this.env[name] || undefined;
  }
  /** --flag, then its environment variables in order; undefined when none is set. */
  value<T>(flag: string, envNames: string | readonly string[] | undefined, parse: (s: string) => T): T | undefined {
    const fromFlag = take(`--${flag}`, this.flags.string(flag), parse);
    if (fromFlag !== undefined) return fromFlag;
    for (const name of typeof envNames === "string" ? [envNames] : (envNames ?? [])) {
      const fromEnv = take(name, this.envText(name), parse);
      if (fromEnv !== undefined) return fromEnv;
    }
    return undefined;
  }
  bool(flag: string, envName: string | undefined): boolean | undefined {
    return this.flags.bool(flag) ?? (envName ? take(envName, this.envText(envName), parseEnvBoolean) : undefined);
  }
}

/** A run over several files: several URLs, a URL list, or an s3:// prefix. */
export function isBatch(c: Pick<RunConfig, "urls" | "inputFile" | "recursive">): boolean {
  return c.urls.length > 1 || c.inputFile !== undefined || c.recursive;
}

/** S3 settings: --storage-*, then DFGET_STORAGE_* (Rust dfget), then the AWS_* variables. */
export function resolveStorage(layers: Layers): StorageConfig {
  const text = (flag: string, envNames: readonly string[]): string | undefined => layers.value(flag, envNames, String);
  const storage: StorageConfig = {
    endpoint: layers.value("storage-endpoint", ["DFGET_STORAGE_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"], (s) => parseHttpUrl(s)),
    region: text("storage-region", ["DFGET_STORAGE_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"]),
    accessKeyId: text("storage-access-key-id", ["DFGET_STORAGE_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"]),
    accessKeySecret: text("storage-access-key-secret", ["DFGET_STORAGE_ACCESS_KEY_SECRET", "AWS_SECRET_ACCESS_KEY"]),
    sessionToken: text("storage-session-token", ["DFGET_STORAGE_SESSION_TOKEN", "AWS_SESSION_TOKEN"]),
    insecureSkipVerify: layers.bool("storage-insecure-skip-verify", "DFGET_STORAGE_INSECURE_SKIP_VERIFY") ?? false,
  };
  for (const key of ["endpoint", "region", "accessKeyId", "accessKeySecret", "sessionToken"] as const) {
    if (storage[key] === undefined) delete storage[key];
  }
  return storage;
}

export type Sources = Pick<RunConfig, "url" | "urls" | "inputFile" | "maxConcurrentFiles" | "recursive" | "includeFiles">;

/** Positional URLs, -i, -r, -I: what to download. Batch semantics live in cli/batch*.ts. */
export function resolveSources(layers: Layers, positionals: readonly string[], cwd: string): Sources {
  const flags = layers.flags;
  const inputText = flags.string("input-file");
  if (inputText === "") throw new UsageError("-i/--input-file: empty path (use - for stdin)");
  if (positionals.length === 0 && inputText === undefined) throw new UsageError("missing URL (usage: dfget <URL> -O <PATH|->; see dfget --help)");
  const urls = positionals.map((p) => parseSourceUrl(p));
  const recursive = flags.bool("recursive") ?? DEFAULTS.recursive;
  const includeFiles = flags.list("include-files");
  if (includeFiles.length > 0 && !recursive) throw new UsageError("-I/--include-files: only with -r/--recursive");
  if (recursive && !urls.every((u) => u.startsWith("s3:"))) throw new UsageError("-r/--recursive: only for s3://BUCKET/PREFIX/ URLs");
  const sources: Sources = {
    url: urls[0] ?? "",
    urls,
    inputFile: inputText === undefined || inputText === "-" ? inputText : resolve(cwd, inputText),
    maxConcurrentFiles: layers.value("max-concurrent-files", "DFGET_MAX_CONCURRENT_FILES", parseConcurrentFiles) ?? DEFAULTS.maxConcurrentFiles,
    recursive,
    includeFiles,
  };
  if (sources.inputFile === undefined) delete sources.inputFile;
  return sources;
}

/** Options that only make sense for one file. */
export function checkBatchLimits(c: RunConfig): void {
  if (!isBatch(c)) return;
  if (c.output === "-") throw new UsageError("-O -: stdout takes one file; give a directory (-O DIR/) for several");
  if (c.digest !== undefined) throw new UsageError("--digest: applies to one file, not to several");
  if (c.contentForCalculatingTaskId !== undefined) throw new UsageError("--content-for-calculating-task-id: applies to one file, not to several");
}
