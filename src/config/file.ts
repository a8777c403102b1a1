// dfget.yaml: where it is looked up, and a schema check of every key and type
// (../shared/design/cli.md, "Config file"). Every key is listed in SCHEMA; anything else is
// an error naming the dotted key and the file, never silently ignored (got's
// "Unexpected option"). A YAML null (`ip:` with nothing after it) means "not set".
// Relative paths in the file (state.dir, TLS files) are relative to the file's directory,
// so a config file keeps working from any cwd.
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import { UsageError } from "../errors.js";
import { canonicalHostPort } from "../net/address.js";
import { configHomeOf, MAX_CONCURRENT_PIECES, MAX_DURATION_MS, MAX_RETRIES } from "./defaults.js";
import { checkDurationRange, parseDuration } from "./duration.js";
import { parseSize } from "./size.js";

// ---- HOST:PORT --------------------------------------------------------------------------

/**
 * Validates one scheduler or manager address (net/address.ts): IPv4 `10.0.0.1:8002`,
 * `[fd00::1]:8002` or a DNS name `scheduler.local:8002`, port 1..65535. Returns it in
 * canonical form (hostname lowercased); throws Error(`invalid address "…" (…)`).
 */
export function parseHostPort(s: string): string {
  return canonicalHostPort(s);
}

// ---- schema -----------------------------------------------------------------------------

/** Parses one raw YAML value; `dir` is the config file's directory. Throws Error(reason). */
type FieldParser<T> = (raw: unknown, dir: string) => T;

function describe(raw: unknown): string {
  if (Array.isArray(raw)) return "a list";
  if (typeof raw === "object") return "a mapping";
  if (typeof raw === "string") return `string ${JSON.stringify(raw)}`;
  return `${typeof raw} ${String(raw)}`;
}

const text: FieldParser<string> = (raw) => {
  if (typeof raw !== "string") throw new Error(`expected a string, got ${describe(raw)}`);
  return raw;
};

const flag: FieldParser<boolean> = (raw) => {
  if (typeof raw !== "boolean") throw new Error(`expected true or false, got ${describe(raw)}`);
  return raw;
};

function integer(min: number, max: number): FieldParser<number> {
  return (raw) => {
    if (typeof raw !== "number" || !Number.isInteger(raw)) throw new Error(`expected an integer, got ${describe(raw)}`);
    if (raw < min || raw > max) throw new Error(`${raw} is out of range (${min}..${max})`);
    return raw;
  };
}

/** Durations are strings (`60s`); the only bare number accepted is 0. */
function duration(minMs: number): FieldParser<number> {
  return (raw) => {
    let ms: number;
    if (raw === 0) ms = 0;
    else if (typeof raw === "string") ms = parseDuration(raw);
    else if (typeof raw === "number") throw new Error(`invalid duration ${raw} (a unit is required, e.g. "${raw}s")`);
    else throw new Error(`expected a duration like "60s", got ${describe(raw)}`);
    return checkDurationRange(ms, minMs, MAX_DURATION_MS);
  };
}

/** Byte counts: a plain integer or a size string (`1KiB`, `64kb`). */
const bytes: FieldParser<number> = (raw) => {
  if (typeof raw === "number") {
    if (!Number.isSafeInteger(raw) || raw < 0) throw new Error(`expected a size like "1KiB" or a whole number of bytes, got ${raw}`);
    return raw;
  }
  if (typeof raw === "string") return parseSize(raw);
  throw new Error(`expected a size like "1KiB", got ${describe(raw)}`);
};

const addrList: FieldParser<string[]> = (raw) => {
  if (!Array.isArray(raw)) throw new Error(`expected a list of "HOST:PORT" strings, got ${describe(raw)}`);
  const out = raw.map((item, i) => {
    if (typeof item !== "string") throw new Error(`[${i}]: expected a "HOST:PORT" string, got ${describe(item)}`);
    return parseHostPort(item.trim());
  });
  return [...new Set(out)];
};

/** A file or directory path; "" = not set; relative = relative to the config file. */
const path: FieldParser<string> = (raw, dir) => {
  const value = text(raw, dir);
  return value === "" ? "" : resolve(dir, value);
};

const ipOrEmpty: FieldParser<string> = (raw, dir) => {
  const value = text(raw, dir);
  if (value !== "" && isIP(value) === 0) throw new Error(`${JSON.stringify(value)} is not an IP address`);
  return value;
};

const SCHEMA = {
  "manager.addrs": addrList,
  "manager.caCert": path,
  "manager.cert": path,
  "manager.key": path,
  "scheduler.addrs": addrList,
  "scheduler.cooldownInterval": duration(0),
  "scheduler.maxAttempts": integer(0, Number.MAX_SAFE_INTEGER),
  "scheduler.connectTimeout": duration(1),
  "scheduler.scheduleTimeout": duration(1),
  // 0 or 10ms..connectTimeout: the upper bound depends on another key, checked in cli/options.ts.
  "scheduler.hedgeDelay": duration(0),
  "scheduler.caCert": path,
  "scheduler.cert": path,
  "scheduler.key": path,
  "download.concurrentPieceCount": integer(1, MAX_CONCURRENT_PIECES),
  "download.disableBackToSource": flag,
  "download.pieceTimeout": duration(1),
  "download.retries": integer(0, MAX_RETRIES),
  "download.lowSpeedLimit": bytes,
  "host.ip": ipOrEmpty,
  "host.hostname": text,
  "host.idc": text,
  "host.location": text,
  "upload.port": integer(0, 65535),
  "upload.tcpPort": integer(0, 65535),
  "state.dir": path,
} satisfies Record<string, FieldParser<unknown>>;

export type ConfigKey = keyof typeof SCHEMA;
/** The keys present in the file, parsed (durations in ms, paths absolute). */
export type ConfigValues = { -readonly [K in ConfigKey]?: ReturnType<(typeof SCHEMA)[K]> };
export const CONFIG_KEYS = Object.freeze(Object.keys(SCHEMA) as ConfigKey[]);

function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(SCHEMA, key);
}

function isMapping(raw: unknown): raw is Record<string, unknown> {
  return raw !== null && typeof raw === "object" && !Array.isArray(raw);
}

/** A hint for the usual slip: Rust field names (`cooldown_interval`) or wrong case. */
function suggestionFor(key: string): string {
  const squash = (k: string): string => k.replace(/_/g, "").toLowerCase();
  const near = CONFIG_KEYS.find((k) => squash(k) === squash(key));
  return near ? ` (did you mean ${JSON.stringify(near)}?)` : "";
}

/** Parses and checks the text of one config file; every error names the file and key. */
export function parseConfigText(source: string, file: string): ConfigValues {
  const fail = (message: string): UsageError => new UsageError(`config ${file}: ${message}`);
  // Loaded here: most runs have no config file, and yaml is ~70 modules to load.
  const { parseDocument } = createRequire(import.meta.url)("yaml") as typeof Yaml;
  const doc = parseDocument(source);
  // yaml's first line ends "at line L, column C:" before an excerpt of the file; the excerpt
  // is not shown, so neither is its colon.
  if (doc.errors.length > 0) throw fail(`invalid YAML: ${doc.errors[0].message.split("\n")[0].replace(/:\s*$/, "")}`);
  const root: unknown = doc.toJS();
  if (root === null || root === undefined) return {};
  if (!isMapping(root)) throw fail(`expected a mapping of sections (manager, scheduler, ...), got ${describe(root)}`);

  const dir = dirname(file);
  const values: ConfigValues = {};
  const sections = new Set(CONFIG_KEYS.map((k) => k.split(".")[0]));
  for (const [section, body] of Object.entries(root)) {
    if (!sections.has(section)) throw fail(`unknown key ${JSON.stringify(section)}${suggestionFor(section)}`);
    if (body === null) continue;
    if (!isMapping(body)) throw fail(`${section}: expected a mapping, got ${describe(body)}`);
    for (const [leaf, raw] of Object.entries(body)) {
      const key = `${section}.${leaf}`;
      if (!isConfigKey(key)) throw fail(`unknown key ${JSON.stringify(key)}${suggestionFor(key)}`);
      if (raw === null) continue;
      try {
        (values as Record<string, unknown>)[key] = SCHEMA[key](raw, dir);
      } catch (err) {
        throw fail(`${key}: ${(err as Error).message}`);
      }
    }
  }
  for (const side of ["manager", "scheduler"] as const) {
    const hasCert = Boolean(values[`${side}.cert`]);
    const hasKey = Boolean(values[`${side}.key`]);
    if (hasCert !== hasKey) throw fail(`${side}.${hasCert ? "key" : "cert"}: required when ${side}.${hasCert ? "cert" : "key"} is set`);
  }
  return values;
}

// ---- discovery --------------------------------------------------------------------------

/** Reads a text file; undefined when it does not exist. Injectable for tests. */
export type ReadText = (path: string) => Promise<string | undefined>;

export const readTextIfExists: ReadText = async (file) => {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
};

export interface ConfigCandidate {
  path: string;
  /** What named it, for messages: --config, DFGET_CONFIG, XDG_CONFIG_HOME, system. */
  origin: "--config" | "DFGET_CONFIG" | "XDG_CONFIG_HOME" | "system";
  /** Named explicitly by the user: a missing file is an error, not a skip. */
  required: boolean;
}

export interface ConfigSearch {
  /** --config, as typed. */
  flag?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Searched last, in order; normally SYSTEM_CONFIG_PATHS. */
  systemPaths: readonly string[];
}

/**
 * The lookup order of cli.md: --config, $DFGET_CONFIG, $XDG_CONFIG_HOME/dragonfly/dfget.yaml
 * (XDG default ~/.config), then the system paths. An explicit file is the only candidate.
 */
export function configCandidates(search: ConfigSearch): ConfigCandidate[] {
  if (search.flag !== undefined) return [{ path: resolve(search.cwd, search.flag), origin: "--config", required: true }];
  const fromEnv = search.env.DFGET_CONFIG;
  if (fromEnv) return [{ path: resolve(search.cwd, fromEnv), origin: "DFGET_CONFIG", required: true }];
  return [
    { path: join(configHomeOf(search.env), "dragonfly", "dfget.yaml"), origin: "XDG_CONFIG_HOME", required: false },
    ...search.systemPaths.map((p): ConfigCandidate => ({ path: resolve(search.cwd, p), origin: "system", required: false })),
  ];
}

export interface LoadedConfig {
  path: string;
  values: ConfigValues;
}

/** Loads the first candidate that exists (files are not merged); undefined if none does. */
export async function loadConfig(candidates: readonly ConfigCandidate[], read: ReadText = readTextIfExists): Promise<LoadedConfig | undefined> {
  for (const candidate of candidates) {
    let source: string | undefined;
    try {
      source = await read(candidate.path);
    } catch (err) {
      throw new UsageError(`config ${candidate.path}: cannot read: ${(err as Error).message}`, { cause: err });
    }
    if (source === undefined) {
      if (candidate.required) throw new UsageError(`config ${candidate.path}: file not found (named by ${candidate.origin})`);
      continue;
    }
    return { path: candidate.path, values: parseConfigText(source, candidate.path) };
  }
  return undefined;
}
