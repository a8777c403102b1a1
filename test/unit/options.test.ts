import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseCommandLine, parseHeader, type CommandLineResult } from "../../src/cli/options.js";
import type { RunConfig } from "../../src/config/types.js";
import { UsageError } from "../../src/errors.js";
import { DEFAULT_FILTERED_QUERY_PARAMS } from "../../src/task/task-id.js";

const URL_ = "https://example.com/file.bin";
const SYSTEM = "/etc/dragonfly/dfget.yaml";
const XDG = "/xdg/dragonfly/dfget.yaml";
const BASE_ENV = { HOME: "/home/u", XDG_CONFIG_HOME: "/xdg" };

interface Setup {
  env?: NodeJS.ProcessEnv;
  /** path → YAML text; anything else does not exist. */
  files?: Record<string, string>;
  /** Directories that exist besides /, /work and /work/dir. */
  dirs?: string[];
}

function invoke(argv: string[], setup: Setup = {}): Promise<CommandLineResult> {
  const files = setup.files ?? {};
  return parseCommandLine(argv, { ...BASE_ENV, ...setup.env }, {
    version: "1.2.3",
    cwd: "/work/dir",
    readFile: async (p) => files[p],
    systemConfigPaths: [SYSTEM],
    probePath: async (p) => (["/", "/work", "/work/dir", ...(setup.dirs ?? [])].includes(p) ? "dir" : files[p] !== undefined ? "file" : "missing"),
  });
}

async function run(argv: string[], setup: Setup = {}): Promise<RunConfig> {
  const result = await invoke(argv, setup);
  assert.equal(result.kind, "run");
  return (result as { kind: "run"; config: RunConfig }).config;
}

async function usageError(argv: string[], setup: Setup = {}): Promise<string> {
  try {
    await invoke(argv, setup);
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    return err.message;
  }
  assert.fail(`expected a usage error for ${argv.join(" ")}`);
}

describe("defaults", () => {
  test("a bare URL and -O give the contract's defaults", async () => {
    const c = await run([URL_, "-O", "out.bin"]);
    assert.equal(c.url, URL_);
    assert.equal(c.output, "/work/dir/out.bin");
    assert.equal(c.overwrite, false);
    assert.equal(c.digest, undefined);
    assert.deepEqual(c.headers, []);
    assert.equal(c.tag, "");
    assert.equal(c.application, "");
    assert.equal(c.priority, 6);
    assert.equal(c.pieceLength, undefined);
    assert.deepEqual(c.filteredQueryParams, [...DEFAULT_FILTERED_QUERY_PARAMS]);
    assert.equal(c.disableBackToSource, false);
    assert.equal(c.timeoutMs, 7_200_000);
    assert.equal(c.dryRun, false);
    assert.equal(c.json, false);
    assert.equal(c.progress, "auto");
    assert.equal(c.color, "auto");
    assert.equal(c.logLevel, "info");
    assert.equal(c.quiet, false);
    assert.equal(c.stateDir, "/home/u/.local/state/dfget");
    assert.deepEqual(c.manager, { addrs: [], tls: {} });
    assert.deepEqual(c.scheduler, { addrs: [], cooldownIntervalMs: 60_000, maxAttempts: 0, connectTimeoutMs: 2_000, scheduleTimeoutMs: 30_000, hedgeDelayMs: 300, tls: {} });
    assert.deepEqual(c.download, { concurrentPieceCount: 4, pieceTimeoutMs: 30_000, retries: 5, lowSpeedLimit: 1024 });
    assert.equal(c.scheduler.hedgeDelayMs, 300);
    assert.equal(c.resume, true);
    assert.deepEqual(c.urls, [URL_]);
    assert.equal(c.inputFile, undefined);
    assert.equal(c.maxConcurrentFiles, 4);
    assert.equal(c.recursive, false);
    assert.deepEqual(c.includeFiles, []);
    assert.deepEqual(c.storage, { insecureSkipVerify: false });
    assert.equal(c.contentForCalculatingTaskId, undefined);
    assert.deepEqual(c.host, { ip: "", hostname: "", idc: "", location: "" });
    assert.deepEqual(c.upload, { port: 0, tcpPort: 0 });
    assert.equal(c.clusterSource, "none");
    assert.equal(c.configFile, undefined);
  });

  test("the result is frozen all the way down", async () => {
    const c = await run([URL_, "-O", "out.bin"]);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.scheduler) && Object.isFrozen(c.scheduler.addrs) && Object.isFrozen(c.headers));
  });

  test("state dir follows $XDG_STATE_HOME", async () => {
    assert.equal((await run([URL_, "-O", "o"], { env: { XDG_STATE_HOME: "/state" } })).stateDir, "/state/dfget");
  });
});

describe("precedence: flag > env > file > default", () => {
  const file = { [XDG]: "scheduler:\n  cooldownInterval: 30s\n  connectTimeout: 3s\ndownload:\n  disableBackToSource: true\nstate:\n  dir: /file-state\n" };
  const env = { DFGET_COOLDOWN: "20s", DFGET_CONNECT_TIMEOUT: "4s", DFGET_DISABLE_BACK_TO_SOURCE: "false", DFGET_STATE_DIR: "/env-state" };
  const rows: Array<{ desc: string; argv: string[]; setup: Setup; cooldown: number; connect: number; noSource: boolean; stateDir: string }> = [
    { desc: "defaults alone", argv: [], setup: {}, cooldown: 60_000, connect: 2_000, noSource: false, stateDir: "/home/u/.local/state/dfget" },
    { desc: "file beats defaults", argv: [], setup: { files: file }, cooldown: 30_000, connect: 3_000, noSource: true, stateDir: "/file-state" },
    { desc: "env beats file", argv: [], setup: { files: file, env }, cooldown: 20_000, connect: 4_000, noSource: false, stateDir: "/env-state" },
    {
      desc: "flags beat env",
      argv: ["--cooldown", "10s", "--connect-timeout", "500ms", "--disable-back-to-source", "--state-dir", "st"],
      setup: { files: file, env },
      cooldown: 10_000,
      connect: 500,
      noSource: true,
      stateDir: "/work/dir/st",
    },
    { desc: "an explicit --no-flag beats the file", argv: ["--no-disable-back-to-source"], setup: { files: file }, cooldown: 30_000, connect: 3_000, noSource: false, stateDir: "/file-state" },
  ];
  for (const row of rows) {
    test(row.desc, async () => {
      const c = await run([URL_, "-O", "o", ...row.argv], row.setup);
      assert.equal(c.scheduler.cooldownIntervalMs, row.cooldown);
      assert.equal(c.scheduler.connectTimeoutMs, row.connect);
      assert.equal(c.disableBackToSource, row.noSource);
      assert.equal(c.stateDir, row.stateDir);
    });
  }

  test("a bad env value is ignored when a flag overrides it", async () => {
    const c = await run([URL_, "-O", "o", "--timeout", "1m"], { env: { DFGET_TIMEOUT: "soon" } });
    assert.equal(c.timeoutMs, 60_000);
  });

  test("env sets the Rust-dfget-compatible options", async () => {
    const c = await run([URL_, "-O", "o"], {
      env: { DFGET_TIMEOUT: "5m", DFGET_PRIORITY: "3", DFGET_PIECE_LENGTH: "8mib", DFGET_TAG: "t", DFGET_APPLICATION: "a", DFGET_OVERWRITE: "1", DFGET_NO_PROGRESS: "true", DFGET_LOG_LEVEL: "warn" },
    });
    assert.deepEqual([c.timeoutMs, c.priority, c.pieceLength, c.tag, c.application, c.overwrite, c.progress, c.logLevel], [300_000, 3, 8 * 2 ** 20, "t", "a", true, "none", "warn"]);
  });

  test("file-only keys reach the config", async () => {
    const yaml = "scheduler:\n  maxAttempts: 3\n  scheduleTimeout: 10s\n  caCert: ca.pem\n  cert: c.pem\n  key: k.pem\ndownload:\n  concurrentPieceCount: 6\n  pieceTimeout: 5s\nhost:\n  ip: 10.1.1.1\n  hostname: h\n  idc: i\n  location: l\nupload:\n  port: 7000\n  tcpPort: 7001\n";
    const c = await run([URL_, "-O", "o"], { files: { [XDG]: yaml } });
    assert.equal(c.configFile, XDG);
    assert.deepEqual(c.scheduler.tls, { caCert: "/xdg/dragonfly/ca.pem", cert: "/xdg/dragonfly/c.pem", key: "/xdg/dragonfly/k.pem" });
    assert.deepEqual([c.scheduler.maxAttempts, c.scheduler.scheduleTimeoutMs, c.download.concurrentPieceCount, c.download.pieceTimeoutMs], [3, 10_000, 6, 5_000]);
    assert.deepEqual(c.host, { ip: "10.1.1.1", hostname: "h", idc: "i", location: "l" });
    assert.deepEqual(c.upload, { port: 7000, tcpPort: 7001 });
  });
});

describe("cluster source, first match wins", () => {
  const fileBoth = { [XDG]: 'scheduler:\n  addrs: ["10.0.0.3:8002"]\nmanager:\n  addrs: ["10.0.0.4:65003"]\n' };
  const fileManager = { [XDG]: 'manager:\n  addrs: ["10.0.0.4:65003"]\n' };
  const envBoth = { DFGET_SCHEDULERS: "10.0.0.5:8002, 10.0.0.6:8002", DFGET_MANAGERS: "10.0.0.7:65003" };
  const rows: Array<{ desc: string; argv: string[]; setup: Setup; source: RunConfig["clusterSource"]; schedulers: string[]; managers: string[] }> = [
    {
      desc: "--scheduler beats everything",
      argv: ["--scheduler", "10.0.0.1:8002,10.0.0.2:8002", "--scheduler=[fd00::1]:8002", "--manager", "10.0.0.9:65003"],
      setup: { files: fileBoth, env: envBoth },
      source: "scheduler-flag",
      schedulers: ["10.0.0.1:8002", "10.0.0.2:8002", "[fd00::1]:8002"],
      managers: [],
    },
    { desc: "--manager beats the file", argv: ["--manager", "m1:65003", "--manager", "m2:65003"], setup: { files: fileBoth, env: envBoth }, source: "manager-flag", schedulers: [], managers: ["m1:65003", "m2:65003"] },
    { desc: "file scheduler.addrs beats file manager.addrs and env", argv: [], setup: { files: fileBoth, env: envBoth }, source: "scheduler-file", schedulers: ["10.0.0.3:8002"], managers: [] },
    { desc: "file manager.addrs beats env", argv: [], setup: { files: fileManager, env: envBoth }, source: "manager-file", schedulers: [], managers: ["10.0.0.4:65003"] },
    { desc: "DFGET_SCHEDULERS beats DFGET_MANAGERS", argv: [], setup: { env: envBoth }, source: "scheduler-env", schedulers: ["10.0.0.5:8002", "10.0.0.6:8002"], managers: [] },
    { desc: "DFGET_MANAGERS last", argv: [], setup: { env: { DFGET_MANAGERS: "10.0.0.7:65003" } }, source: "manager-env", schedulers: [], managers: ["10.0.0.7:65003"] },
    { desc: "nothing: no P2P", argv: [], setup: { env: { DFGET_SCHEDULERS: "" } }, source: "none", schedulers: [], managers: [] },
    { desc: "an empty file list falls through", argv: [], setup: { files: { [XDG]: "scheduler:\n  addrs: []\n" }, env: { DFGET_MANAGERS: "m:1" } }, source: "manager-env", schedulers: [], managers: ["m:1"] },
  ];
  for (const row of rows) {
    test(row.desc, async () => {
      const c = await run([URL_, "-O", "o", ...row.argv], row.setup);
      assert.equal(c.clusterSource, row.source);
      assert.deepEqual(c.scheduler.addrs, row.schedulers);
      assert.deepEqual(c.manager.addrs, row.managers);
    });
  }
});

describe("config file discovery", () => {
  const files = {
    "/work/dir/flag.yaml": "upload:\n  port: 1\n",
    "/env.yaml": "upload:\n  port: 2\n",
    [XDG]: "upload:\n  port: 3\n",
    [SYSTEM]: "upload:\n  port: 4\n",
  };
  const rows: Array<{ desc: string; argv: string[]; env: NodeJS.ProcessEnv; files: Record<string, string>; port: number; path: string }> = [
    { desc: "--config first", argv: ["--config", "flag.yaml"], env: { DFGET_CONFIG: "/env.yaml" }, files, port: 1, path: "/work/dir/flag.yaml" },
    { desc: "$DFGET_CONFIG second", argv: [], env: { DFGET_CONFIG: "/env.yaml" }, files, port: 2, path: "/env.yaml" },
    { desc: "$XDG_CONFIG_HOME third", argv: [], env: {}, files, port: 3, path: XDG },
    { desc: "the system file last", argv: [], env: {}, files: { [SYSTEM]: files[SYSTEM] }, port: 4, path: SYSTEM },
  ];
  for (const row of rows) {
    test(row.desc, async () => {
      const c = await run([URL_, "-O", "o", ...row.argv], { env: row.env, files: row.files });
      assert.equal(c.upload.port, row.port);
      assert.equal(c.configFile, row.path);
    });
  }
  test("a missing --config file is an error", async () => {
    assert.equal(await usageError([URL_, "-O", "o", "--config", "nope.yaml"]), "config /work/dir/nope.yaml: file not found (named by --config)");
  });
  test("a missing $DFGET_CONFIG file is an error", async () => {
    assert.match(await usageError([URL_, "-O", "o"], { env: { DFGET_CONFIG: "/nope.yaml" } }), /^config \/nope\.yaml: file not found \(named by DFGET_CONFIG\)$/);
  });
  test("an unknown key in the discovered file names key and file", async () => {
    assert.equal(await usageError([URL_, "-O", "o"], { files: { [SYSTEM]: "scheduler:\n  foo: 1\n" } }), `config ${SYSTEM}: unknown key "scheduler.foo"`);
  });
  test("a wrong type in the file names key and file", async () => {
    assert.equal(await usageError([URL_, "-O", "o"], { files: { [XDG]: "upload:\n  port: high\n" } }), `config ${XDG}: upload.port: expected an integer, got string "high"`);
  });
});

describe("usage errors name the flag, env var or key (exit 2)", () => {
  const rows: Array<{ desc: string; argv: string[]; env?: NodeJS.ProcessEnv; message: string | RegExp }> = [
    { desc: "unknown option", argv: [URL_, "-O", "o", "--bogus"], message: "unknown option --bogus (see dfget --help)" },
    { desc: "unknown short option", argv: [URL_, "-O", "o", "-x"], message: "unknown option -x (see dfget --help)" },
    { desc: "camelCase spelling is not an alias", argv: [URL_, "-O", "o", "--connectTimeout", "1s"], message: /^unknown option --connectTimeout/ },
    { desc: "option without its value", argv: [URL_, "-O", "o", "--timeout"], message: "--timeout: missing value" },
    { desc: "-O without its value", argv: [URL_, "-O"], message: "-O: missing value" },
    { desc: "bad duration", argv: [URL_, "-O", "o", "--cooldown", "abc"], message: /^--cooldown: invalid duration "abc"/ },
    { desc: "negative duration", argv: [URL_, "-O", "o", "--timeout=-1s"], message: /^--timeout: invalid duration "-1s" \(a duration cannot be signed\)$/ },
    { desc: "zero timeout", argv: [URL_, "-O", "o", "--timeout", "0"], message: "--timeout: must be greater than 0" },
    { desc: "zero connect timeout", argv: [URL_, "-O", "o", "--connect-timeout", "0s"], message: "--connect-timeout: must be greater than 0" },
    { desc: "bad env duration", argv: [URL_, "-O", "o"], env: { DFGET_COOLDOWN: "1.5s" }, message: /^DFGET_COOLDOWN: invalid duration "1\.5s" \(fractions/ },
    { desc: "bad env boolean", argv: [URL_, "-O", "o"], env: { DFGET_OVERWRITE: "maybe" }, message: 'DFGET_OVERWRITE: expected true or false, got "maybe"' },
    { desc: "priority above 6", argv: [URL_, "-O", "o", "--priority", "7"], message: '--priority: invalid priority "7" (expected 0..6)' },
    { desc: "priority not a number", argv: [URL_, "-O", "o", "--priority", "high"], message: /^--priority: invalid priority "high"/ },
    { desc: "bad env priority", argv: [URL_, "-O", "o"], env: { DFGET_PRIORITY: "-1" }, message: /^DFGET_PRIORITY: invalid priority "-1"/ },
    { desc: "piece length below 4 MiB", argv: [URL_, "-O", "o", "--piece-length", "4MB"], message: "--piece-length: 4MB is too small: the piece length must be at least 4MiB (Dragonfly's minimum)" },
    { desc: "piece length above 64 MiB", argv: [URL_, "-O", "o", "--piece-length", "65MiB"], message: "--piece-length: 65MiB is too large: at most 64MiB, because a Go scheduler rejects a larger piece_length" },
    { desc: "upstream's 1gib example, still above 64 MiB", argv: [URL_, "-O", "o", "--piece-length", "1gib"], message: /^--piece-length: 1gib is too large: .*a Go scheduler rejects a larger piece_length$/ },
    { desc: "piece length junk", argv: [URL_, "-O", "o", "--piece-length", "big"], message: /^--piece-length: invalid size "big"/ },
    { desc: "bad progress mode", argv: [URL_, "-O", "o", "--progress", "dots"], message: '--progress: invalid value "dots" (expected auto, bar, line, none)' },
    { desc: "bad color mode", argv: [URL_, "-O", "o", "--color", "yes"], message: '--color: invalid value "yes" (expected auto, always, never)' },
    { desc: "bad log level", argv: [URL_, "-O", "o", "--log-level", "loud"], message: '--log-level: invalid value "loud" (expected trace, debug, info, warn, error)' },
    { desc: "boolean flag with a value", argv: [URL_, "-O", "o", "--json=yes"], message: '--json: expected true or false, got "yes"' },
    { desc: "negated string option", argv: [URL_, "--no-output"], message: "--output: expected a value" },
    { desc: "empty output", argv: [URL_, "-O", ""], message: "-O/--output: empty path (use -O - for stdout)" },
    { desc: "missing -O", argv: [URL_], message: "-O/--output is required (a file path, a directory, or - for stdout), unless --dry-run" },
    { desc: "missing URL", argv: ["-O", "o"], message: /^missing URL/ },
    { desc: "two URLs to stdout", argv: [URL_, "https://example.com/b", "-O", "-"], message: "-O -: stdout takes one file; give a directory (-O DIR/) for several" },
    { desc: "two URLs with --digest", argv: [URL_, "https://example.com/b", "-O", "d/", "--digest", `sha256:${"a".repeat(64)}`], message: "--digest: applies to one file, not to several" },
    { desc: "ftp URL", argv: ["ftp://example.com/f", "-O", "o"], message: 'unsupported URL scheme "ftp" in "ftp://example.com/f" (supported: http://, https://, s3://)' },
    { desc: "relative URL", argv: ["example.com/file", "-O", "o"], message: 'invalid URL "example.com/file" (expected an absolute http://, https://, s3:// URL)' },
    { desc: "bad scheduler address", argv: [URL_, "-O", "o", "--scheduler", "10.0.0.1"], message: '--scheduler: invalid address "10.0.0.1" (expected HOST:PORT)' },
    { desc: "bad port in a comma list", argv: [URL_, "-O", "o", "--scheduler", "a:1,b:0"], message: '--scheduler: invalid address "b:0" (port must be a number from 1 to 65535)' },
    { desc: "empty entry in a list", argv: [URL_, "-O", "o", "--manager", "a:1,"], message: '--manager: empty address in "a:1,"' },
    { desc: "bad manager even when --scheduler wins", argv: [URL_, "-O", "o", "--scheduler", "a:1", "--manager", "::1:65003"], message: /^--manager: invalid address "::1:65003" \(an IPv6 address needs brackets/ },
    { desc: "bad env scheduler list", argv: [URL_, "-O", "o"], env: { DFGET_SCHEDULERS: "10.0.0.1:8002,nope" }, message: 'DFGET_SCHEDULERS: invalid address "nope" (expected HOST:PORT)' },
    { desc: "bad env manager list", argv: [URL_, "-O", "o"], env: { DFGET_MANAGERS: "[zz]:1" }, message: /^DFGET_MANAGERS: invalid address "\[zz\]:1"/ },
    { desc: "header without colon", argv: [URL_, "-O", "o", "-H", "X-Token abc"], message: '--header: invalid header "X-Token abc" (expected "Name: value")' },
    { desc: "header with empty name", argv: [URL_, "-O", "o", "-H", " : v"], message: '--header: invalid header " : v" (empty name)' },
    { desc: "header with a space in the name", argv: [URL_, "-O", "o", "-H", "X Token: v"], message: '--header: invalid header "X Token: v" (bad character in name "X Token")' },
    { desc: "header with CR LF in the value", argv: [URL_, "-O", "o", "-H", "X-A: b\r\nX-B: c"], message: "--header: invalid header \"X-A: b\\r\\nX-B: c\" (control character in value)" },
    { desc: "bad digest", argv: [URL_, "-O", "o", "--digest", "md5:abc"], message: /^--digest: invalid digest "md5:abc"/ },
    { desc: "digest without algorithm", argv: [URL_, "-O", "o", "--digest", "abcdef"], message: /^--digest: invalid digest "abcdef"/ },
    { desc: "-q with -v", argv: [URL_, "-O", "o", "-q", "-v"], message: "-q/--quiet and -v/--verbose cannot be combined" },
    { desc: "-v with --log-level", argv: [URL_, "-O", "o", "-v", "--log-level", "warn"], message: /^-v\/--verbose and -l\/--log-level cannot be combined/ },
  ];
  for (const row of rows) {
    test(row.desc, async () => {
      const message = await usageError(row.argv, { env: row.env });
      if (typeof row.message === "string") assert.equal(message, row.message);
      else assert.match(message, row.message);
    });
  }
});

describe("options", () => {
  test("-O - stays -, a relative path becomes absolute", async () => {
    assert.equal((await run([URL_, "-O", "-"])).output, "-");
    assert.equal((await run([URL_, "-O-"])).output, "-");
    assert.equal((await run([URL_, "--output", "../x/y.bin"], { dirs: ["/work/x"] })).output, "/work/x/y.bin");
    assert.equal((await run([URL_, "-O", "/abs/z"], { dirs: ["/abs"] })).output, "/abs/z");
  });

  test("the last of a repeated single-valued option wins", async () => {
    assert.equal((await run([URL_, "-O", "a", "-O", "b"])).output, "/work/dir/b");
  });

  test("--dry-run needs no -O", async () => {
    const c = await run([URL_, "--dry-run", "--json"]);
    assert.deepEqual([c.dryRun, c.json, c.output], [true, true, ""]);
  });

  test("the URL may follow options and --", async () => {
    assert.equal((await run(["-O", "o", "--", URL_])).url, URL_);
  });

  test("headers: split at the first colon, trimmed, in order, duplicates kept", async () => {
    const c = await run([URL_, "-O", "o", "-H", "Authorization: Bearer a:b", "--header", "X-Empty:", "-H", "  Accept :  */*  ", "-H", "X-Dup: 1", "-H", "X-Dup: 2"]);
    assert.deepEqual(c.headers, [
      ["Authorization", "Bearer a:b"],
      ["X-Empty", ""],
      ["Accept", "*/*"],
      ["X-Dup", "1"],
      ["X-Dup", "2"],
    ]);
  });

  test("parseHeader keeps tabs and obs-text in values", () => {
    assert.deepEqual(parseHeader("X-A: a\tb é"), ["X-A", "a\tb é"]);
  });

  test("task-identity options", async () => {
    const c = await run([URL_, "-O", "o", "--tag", "t1", "--application", "app", "--priority", "0", "--piece-length", "8mib", "--filtered-query-param", "token", "--filtered-query-param", "sig"]);
    assert.deepEqual([c.tag, c.application, c.priority, c.pieceLength, c.filteredQueryParams], ["t1", "app", 0, 8 * 2 ** 20, ["token", "sig"]]);
  });

  test("piece length bounds are inclusive", async () => {
    assert.equal((await run([URL_, "-O", "o", "--piece-length", "4194304"])).pieceLength, 4 * 2 ** 20);
    assert.equal((await run([URL_, "-O", "o", "--piece-length", "64MiB"])).pieceLength, 64 * 2 ** 20);
  });

  test("digest is normalised to lowercase alg:value", async () => {
    const hex = "AB".repeat(32);
    assert.equal((await run([URL_, "-O", "o", "--digest", `SHA256:${hex}`])).digest, `sha256:${hex.toLowerCase()}`);
    assert.equal((await run([URL_, "-O", "o", "--digest", "crc32:12345"])).digest, "crc32:12345");
  });

  test("URL is WHATWG-normalised", async () => {
    assert.equal((await run(["HTTP://Example.COM:80/a b?x=1", "-O", "o"])).url, "http://example.com/a%20b?x=1");
  });

  test("--no-progress = --progress none; the last one wins", async () => {
    assert.equal((await run([URL_, "-O", "o", "--no-progress"])).progress, "none");
    assert.equal((await run([URL_, "-O", "o", "--progress", "bar", "--no-progress"])).progress, "none");
    assert.equal((await run([URL_, "-O", "o", "--no-progress", "--progress=line"])).progress, "line");
    assert.equal((await run([URL_, "-O", "o", "--progress", "bar"], { env: { DFGET_NO_PROGRESS: "1" } })).progress, "bar");
  });

  test("-q: quiet, errors only, no progress; explicit flags still win", async () => {
    const q = await run([URL_, "-qO", "o"]);
    assert.deepEqual([q.quiet, q.logLevel, q.progress], [true, "error", "none"]);
    const q2 = await run([URL_, "-O", "o", "--quiet", "--log-level", "warn", "--progress", "line"]);
    assert.deepEqual([q2.quiet, q2.logLevel, q2.progress], [true, "warn", "line"]);
  });

  test("-v is log level debug and beats DFGET_LOG_LEVEL", async () => {
    assert.equal((await run([URL_, "-O", "o", "-v"], { env: { DFGET_LOG_LEVEL: "error" } })).logLevel, "debug");
    assert.equal((await run([URL_, "-O", "o", "--log-level", "warn"])).logLevel, "warn");
  });

  test("--color and booleans", async () => {
    const c = await run([URL_, "-O", "o", "--color", "never", "--overwrite", "--json=true"]);
    assert.deepEqual([c.color, c.overwrite, c.json], ["never", true, true]);
  });
});

describe("--help and --version", () => {
  test("--version prints dfget <version>", async () => {
    assert.deepEqual(await invoke(["--version"]), { kind: "version", text: "dfget 1.2.3" });
    assert.deepEqual(await invoke(["-V"]), { kind: "version", text: "dfget 1.2.3" });
  });

  test("--help wins over anything else on the line, even bad options", async () => {
    for (const argv of [["--help"], ["-h"], [URL_, "--bogus", "--timeout", "x", "--help"]]) {
      const result = await invoke(argv);
      assert.equal(result.kind, "help");
    }
  });
});

describe("0.2 options: upstream spellings, resilience, batch (cli.md, Additions in 0.2)", () => {
  test("-p and -l are upstream dfget's short names; trace is a log level", async () => {
    const c = await run([URL_, "-O", "o", "-p", "3", "-l", "trace"]);
    assert.equal(c.priority, 3);
    assert.equal(c.logLevel, "trace");
    assert.equal((await run([URL_, "-O", "o"], { env: { DFGET_LOG_LEVEL: "trace" } })).logLevel, "trace");
    assert.equal((await run([URL_, "-O", "o", "--log-level", "DEBUG"])).logLevel, "debug");
  });

  test("--piece-length takes upstream's spellings up to 64 MiB", async () => {
    assert.equal((await run([URL_, "-O", "o", "--piece-length", "4mib"])).pieceLength, 4_194_304);
    assert.equal((await run([URL_, "-O", "o", "--piece-length", "64MiB"])).pieceLength, 67_108_864);
    assert.equal((await run([URL_, "-O", "o"], { env: { DFGET_PIECE_LENGTH: "8mib" } })).pieceLength, 8_388_608);
  });

  test("--content-for-calculating-task-id from the flag or DFGET_CONTENT_FOR_CALCULATING_TASK_ID", async () => {
    assert.equal((await run([URL_, "-O", "o", "--content-for-calculating-task-id", "abc"])).contentForCalculatingTaskId, "abc");
    assert.equal((await run([URL_, "-O", "o"], { env: { DFGET_CONTENT_FOR_CALCULATING_TASK_ID: "xyz" } })).contentForCalculatingTaskId, "xyz");
  });

  test("-e/--endpoint and --transfer-from-dfdaemon: one line, exit 2, this dfget is its own peer", async () => {
    for (const argv of [[URL_, "-O", "o", "-e", "/var/run/dragonfly/dfdaemon.sock"], [URL_, "-O", "o", "--endpoint", "/x.sock"], [URL_, "-O", "o", "--transfer-from-dfdaemon"]]) {
      assert.match(await usageError(argv), /this dfget is its own peer and needs no dfdaemon/);
    }
  });

  test("--retry, --no-resume, --hedge-delay and their config keys", async () => {
    const c = await run([URL_, "-O", "o", "--retry", "0", "--no-resume", "--hedge-delay", "0"]);
    assert.equal(c.download.retries, 0);
    assert.equal(c.resume, false);
    assert.equal(c.scheduler.hedgeDelayMs, 0);
    const yaml = "download:\n  retries: 9\n  lowSpeedLimit: 64KiB\nscheduler:\n  hedgeDelay: 50ms\n";
    const f = await run([URL_, "-O", "o"], { files: { [XDG]: yaml } });
    assert.equal(f.download.retries, 9);
    assert.equal(f.download.lowSpeedLimit, 65_536);
    assert.equal(f.scheduler.hedgeDelayMs, 50);
    assert.equal((await run([URL_, "-O", "o", "--retry", "2"], { files: { [XDG]: yaml } })).download.retries, 2);
  });

  test("--hedge-delay is 0 or 10ms..connectTimeout, naming where the value came from", async () => {
    assert.equal(await usageError([URL_, "-O", "o", "--hedge-delay", "5ms"]), "--hedge-delay: must be 0 (one scheduler at a time) or at least 10ms");
    assert.equal(await usageError([URL_, "-O", "o", "--hedge-delay", "3s"]), "--hedge-delay: 3s is longer than the connect timeout (2s); use at most that");
    assert.equal((await run([URL_, "-O", "o", "--hedge-delay", "3s", "--connect-timeout", "5s"])).scheduler.hedgeDelayMs, 3000);
    assert.equal(
      await usageError([URL_, "-O", "o"], { files: { [XDG]: "scheduler:\n  hedgeDelay: 1ms\n" } }),
      `config ${XDG}: scheduler.hedgeDelay: must be 0 (one scheduler at a time) or at least 10ms`,
    );
    assert.equal(await usageError([URL_, "-O", "o", "--retry", "-1"]), "--retry: invalid number \"-1\" (expected 0..100)");
    assert.match(await usageError([URL_, "-O", "o"], { files: { [XDG]: "download:\n  lowSpeedLimit: fast\n" } }), /download\.lowSpeedLimit: invalid size "fast"/);
  });

  test("batch options are parsed and checked; several URLs keep -O as the directory", async () => {
    const c = await run([URL_, "https://example.com/b.bin", "-O", "d/", "--max-concurrent-files", "2"]);
    assert.deepEqual(c.urls, [URL_, "https://example.com/b.bin"]);
    assert.equal(c.output, "/work/dir/d");
    assert.equal(c.maxConcurrentFiles, 2);
    const i = await run(["-i", "list.txt", "-O", "d/"]);
    assert.equal(i.inputFile, "/work/dir/list.txt");
    assert.equal(i.url, "");
    assert.equal((await run(["-i", "-", "-O", "d/"])).inputFile, "-");
    const r = await run(["-r", "s3://bucket/models/", "-O", "m/", "-I", "*.bin", "-I", "a/*"]);
    assert.equal(r.recursive, true);
    assert.deepEqual(r.includeFiles, ["*.bin", "a/*"]);
    assert.equal(await usageError([URL_, "-O", "o", "-I", "*.bin"]), "-I/--include-files: only with -r/--recursive");
    assert.equal(await usageError(["-r", URL_, "-O", "d/"]), "-r/--recursive: only for s3://BUCKET/PREFIX/ URLs");
    assert.equal(await usageError([URL_, "b", "-O", "d/"]), 'invalid URL "b" (expected an absolute http://, https://, s3:// URL)');
    assert.equal(await usageError(["-i", "l", URL_, "-O", "d/", "--content-for-calculating-task-id", "x"]), "--content-for-calculating-task-id: applies to one file, not to several");
  });

  test("storage settings: --storage-*, then DFGET_STORAGE_*, then AWS_*", async () => {
    const env = { AWS_REGION: "eu-west-1", AWS_ACCESS_KEY_ID: "AKIA1", AWS_SECRET_ACCESS_KEY: "s1", AWS_ENDPOINT_URL: "http://127.0.0.1:9000", DFGET_STORAGE_REGION: "us-east-2" };
    const c = await run(["-r", "s3://b/p/", "-O", "d/", "--storage-access-key-id", "AKIA2", "--storage-insecure-skip-verify"], { env });
    assert.deepEqual(c.storage, { endpoint: "http://127.0.0.1:9000/", region: "us-east-2", accessKeyId: "AKIA2", accessKeySecret: "s1", insecureSkipVerify: true });
    assert.match(await usageError(["-r", "s3://b/p/", "-O", "d/", "--storage-endpoint", "minio:9000"]), /^--storage-endpoint: unsupported URL scheme "minio"/);
  });
});

describe("friendly mistakes", () => {
  test("a near miss gets a suggestion from the option table", async () => {
    assert.equal(await usageError([URL_, "-O", "o", "--overwirte"]), "unknown option --overwirte; did you mean --overwrite?");
    assert.equal(await usageError([URL_, "-O", "o", "--schedulers", "a:1"]), "unknown option --schedulers; did you mean --scheduler?");
    assert.equal(await usageError([URL_, "-O", "o", "--no-resum"]), "unknown option --no-resum; did you mean --no-resume?");
    assert.equal(await usageError([URL_, "-O", "o", "--frobnicate"]), "unknown option --frobnicate (see dfget --help)");
  });

  test("-o (curl, wget) is a pointed hint to -O, not an alias", async () => {
    for (const argv of [[URL_, "-o", "x"], [URL_, "-ox"]]) {
      assert.equal(await usageError(argv), "-o: unknown option; dfget writes to -O/--output (capital O), e.g. -O file.bin");
    }
  });

  test("-O naming an existing directory, or ending in /, saves inside it under the URL's name", async () => {
    const url = "https://example.com/models/My%20Model.bin?X-Amz-Signature=abc#frag";
    assert.equal((await run([url, "-O", "out"], { dirs: ["/work/dir/out"] })).output, "/work/dir/out/My Model.bin");
    assert.equal((await run([url, "-O", "out/"], { dirs: ["/work/dir/out"] })).output, "/work/dir/out/My Model.bin");
    assert.equal((await run([url, "-O", "."])).output, "/work/dir/My Model.bin");
  });

  test("a missing directory is reported up front, in the words typed (exit 23)", async () => {
    const messageOf = async (argv: string[]): Promise<[string, number]> => {
      try {
        await invoke(argv);
      } catch (err) {
        return [(err as Error).message, (err as { exitCode: number }).exitCode];
      }
      return ["", 0];
    };
    assert.deepEqual(await messageOf([URL_, "-O", "nope/"]), ["cannot save to nope/: no such directory", 23]);
    assert.deepEqual(await messageOf([URL_, "-O", "nope/x.bin"]), ["cannot save to nope/x.bin: no such directory nope", 23]);
    assert.deepEqual(await messageOf(["https://example.com/", "-O", "."]), ["cannot name a file after https://example.com/ (the URL path ends in /); give -O a file path", 2]);
  });
});

describe("attached short-option values (getopt style, as curl and wget)", () => {
  test("-OPATH, -H'K: V', -ldebug, -p3 read as -O PATH, -H 'K: V', …", async () => {
    const c = await run([URL_, "-Oout.bin", "-HX-A: b", "-ldebug", "-p3"]);
    assert.equal(c.output, "/work/dir/out.bin");
    assert.deepEqual(c.headers, [["X-A", "b"]]);
    assert.equal(c.logLevel, "debug");
    assert.equal(c.priority, 3);
  });

  test("a value after -O, or anything after --, is not split", async () => {
    assert.equal(await usageError([URL_, "-O", "-Hx"]), "-O: missing value");
    const c = await run(["-O", "o", "--", URL_]);
    assert.equal(c.url, URL_);
    assert.equal(await usageError(["-O", "o", "--", "-Ox"]), 'invalid URL "-Ox" (expected an absolute http://, https://, s3:// URL)');
  });

  test("an unknown letter after a boolean short option is still an unknown option", async () => {
    assert.match(await usageError([URL_, "-O", "o", "-qz"]), /^unknown option -z/);
  });
});
