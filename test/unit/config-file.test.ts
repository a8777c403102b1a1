import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../src/errors.js";
import { configCandidates, loadConfig, parseConfigText, parseHostPort, readTextIfExists, type ConfigCandidate } from "../../src/config/file.js";

const FILE = "/cfg/dragonfly/dfget.yaml";

/** Asserts a UsageError (exit 2) whose message is exactly `message` or matches it. */
function assertUsage(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe("parseConfigText", () => {
  test("reads the contract's example file, durations in ms and paths absolute", () => {
    const yaml = [
      "manager:",
      '  addrs: ["10.0.0.10:65003"]',
      "  caCert: certs/ca.pem",
      "  cert: /abs/client.pem",
      "  key: /abs/client.key",
      "scheduler:",
      "  addrs: []",
      "  cooldownInterval: 60s",
      "  maxAttempts: 0",
      "  connectTimeout: 2s",
      "  scheduleTimeout: 1m30s",
      "download:",
      "  concurrentPieceCount: 16",
      "  disableBackToSource: true",
      "  pieceTimeout: 500ms",
      "host:",
      '  ip: "192.168.1.5"',
      "  hostname: node-1",
      "  idc: idc-a",
      "  location: cn|hz",
      "upload:",
      "  port: 4000",
      "  tcpPort: 4001",
      "state:",
      "  dir: state",
    ].join("\n");
    assert.deepEqual(parseConfigText(yaml, FILE), {
      "manager.addrs": ["10.0.0.10:65003"],
      "manager.caCert": "/cfg/dragonfly/certs/ca.pem",
      "manager.cert": "/abs/client.pem",
      "manager.key": "/abs/client.key",
      "scheduler.addrs": [],
      "scheduler.cooldownInterval": 60_000,
      "scheduler.maxAttempts": 0,
      "scheduler.connectTimeout": 2_000,
      "scheduler.scheduleTimeout": 90_000,
      "download.concurrentPieceCount": 16,
      "download.disableBackToSource": true,
      "download.pieceTimeout": 500,
      "host.ip": "192.168.1.5",
      "host.hostname": "node-1",
      "host.idc": "idc-a",
      "host.location": "cn|hz",
      "upload.port": 4000,
      "upload.tcpPort": 4001,
      "state.dir": "/cfg/dragonfly/state",
    });
  });

  test("an empty file or one with only comments sets nothing", () => {
    assert.deepEqual(parseConfigText("", FILE), {});
    assert.deepEqual(parseConfigText("# nothing here\n", FILE), {});
  });

  test("a null section or value means not set", () => {
    assert.deepEqual(parseConfigText("manager:\nscheduler:\n  cooldownInterval:\n  connectTimeout: 3s\n", FILE), {
      "scheduler.connectTimeout": 3_000,
    });
  });

  test("scheduler addresses are canonicalised and de-duplicated in order", () => {
    const values = parseConfigText('scheduler:\n  addrs: ["B.example:8002", "[fd00::1]:8002", "b.example:8002"]\n', FILE);
    assert.deepEqual(values["scheduler.addrs"], ["b.example:8002", "[fd00::1]:8002"]);
  });

  const errors: Array<{ desc: string; yaml: string; message: string | RegExp }> = [
    { desc: "unknown nested key", yaml: "scheduler:\n  foo: 1\n", message: `config ${FILE}: unknown key "scheduler.foo"` },
    { desc: "unknown section", yaml: "proxy:\n  port: 1\n", message: `config ${FILE}: unknown key "proxy"` },
    {
      desc: "Rust snake_case name, with a hint",
      yaml: "scheduler:\n  cooldown_interval: 60s\n",
      message: `config ${FILE}: unknown key "scheduler.cooldown_interval" (did you mean "scheduler.cooldownInterval"?)`,
    },
    { desc: "bad duration", yaml: "scheduler:\n  cooldownInterval: abc\n", message: new RegExp(`^config ${FILE}: scheduler\\.cooldownInterval: invalid duration "abc"`) },
    { desc: "duration without unit", yaml: "scheduler:\n  connectTimeout: 60\n", message: `config ${FILE}: scheduler.connectTimeout: invalid duration 60 (a unit is required, e.g. "60s")` },
    { desc: "zero connect timeout", yaml: "scheduler:\n  connectTimeout: 0s\n", message: `config ${FILE}: scheduler.connectTimeout: must be greater than 0` },
    { desc: "duration beyond a timer's reach", yaml: "download:\n  pieceTimeout: 600h\n", message: `config ${FILE}: download.pieceTimeout: must be at most 596h` },
    { desc: "integer given as a string", yaml: 'scheduler:\n  maxAttempts: "3"\n', message: `config ${FILE}: scheduler.maxAttempts: expected an integer, got string "3"` },
    { desc: "negative integer", yaml: "scheduler:\n  maxAttempts: -1\n", message: /scheduler\.maxAttempts: -1 is out of range \(0\.\./ },
    { desc: "port out of range", yaml: "upload:\n  port: 70000\n", message: `config ${FILE}: upload.port: 70000 is out of range (0..65535)` },
    { desc: "fractional piece count", yaml: "download:\n  concurrentPieceCount: 1.5\n", message: `config ${FILE}: download.concurrentPieceCount: expected an integer, got number 1.5` },
    { desc: "zero piece count", yaml: "download:\n  concurrentPieceCount: 0\n", message: /download\.concurrentPieceCount: 0 is out of range \(1\.\.1024\)/ },
    { desc: "boolean given as a string", yaml: 'download:\n  disableBackToSource: "yes"\n', message: `config ${FILE}: download.disableBackToSource: expected true or false, got string "yes"` },
    { desc: "address list given as a string", yaml: 'manager:\n  addrs: "10.0.0.1:65003"\n', message: /manager\.addrs: expected a list of "HOST:PORT" strings, got string/ },
    { desc: "bad address in the list", yaml: 'scheduler:\n  addrs: ["10.0.0.1"]\n', message: `config ${FILE}: scheduler.addrs: invalid address "10.0.0.1" (expected HOST:PORT)` },
    { desc: "number in the address list", yaml: "scheduler:\n  addrs: [8002]\n", message: /scheduler\.addrs: \[0\]: expected a "HOST:PORT" string, got number 8002/ },
    { desc: "section given as a list", yaml: "scheduler:\n  - a\n", message: `config ${FILE}: scheduler: expected a mapping, got a list` },
    { desc: "top level is a list", yaml: "- a\n", message: /^config \/cfg\/dragonfly\/dfget\.yaml: expected a mapping of sections/ },
    { desc: "host.ip not an IP", yaml: "host:\n  ip: myhost\n", message: `config ${FILE}: host.ip: "myhost" is not an IP address` },
    { desc: "cert without key", yaml: "scheduler:\n  cert: c.pem\n", message: `config ${FILE}: scheduler.key: required when scheduler.cert is set` },
    { desc: "key without cert", yaml: "manager:\n  key: k.pem\n", message: `config ${FILE}: manager.cert: required when manager.key is set` },
    { desc: "invalid YAML, one line", yaml: "scheduler: [1\n", message: /^config \/cfg\/dragonfly\/dfget\.yaml: invalid YAML: [^\n]+$/ },
    { desc: "duplicate keys", yaml: "scheduler:\n  maxAttempts: 1\n  maxAttempts: 2\n", message: /invalid YAML: Map keys must be unique/ },
    // The parser's "…, column N:" introduces an excerpt that is not shown: no stray colon.
    { desc: "a tab as indentation, where", yaml: "scheduler:\n\tmaxAttempts: 1\n", message: `config ${FILE}: invalid YAML: Tabs are not allowed as indentation at line 2, column 1` },
    { desc: "a nested compact mapping, where", yaml: "a: b: c\n", message: `config ${FILE}: invalid YAML: Nested mappings are not allowed in compact mappings at line 1, column 4` },
  ];
  for (const row of errors) {
    test(`rejects ${row.desc}, naming key and file`, () => assertUsage(() => parseConfigText(row.yaml, FILE), row.message));
  }
});

describe("parseHostPort", () => {
  const valid: Array<[string, string]> = [
    ["10.0.0.1:8002", "10.0.0.1:8002"],
    ["[fd00::1]:8002", "[fd00::1]:8002"],
    ["[::1]:65535", "[::1]:65535"],
    ["scheduler.local:8002", "scheduler.local:8002"],
    ["Scheduler-1.Example.COM:1", "scheduler-1.example.com:1"],
    ["localhost:80", "localhost:80"],
  ];
  for (const [input, canonical] of valid) test(`accepts ${input}`, () => assert.equal(parseHostPort(input), canonical));

  const invalid: Array<[string, RegExp]> = [
    ["10.0.0.1", /expected HOST:PORT/],
    ["10.0.0.1:0", /port must be a number from 1 to 65535/],
    ["10.0.0.1:65536", /port must be/],
    ["10.0.0.1:", /port must be/],
    ["10.0.0.1:80x", /port must be/],
    [":8002", /empty host/],
    ["fd00::1:8002", /needs brackets/],
    ["[fd00::1]8002", /expected \[IPv6\]:PORT/],
    ["[10.0.0.1]:8002", /is not an IPv6 address/],
    ["999.0.0.1:8002", /is not an IPv4 address/],
    ["bad_host:8002", /is not a valid hostname/],
    ["-bad.example:8002", /is not a valid hostname/],
    ["a..b:8002", /is not a valid hostname/],
  ];
  for (const [input, reason] of invalid) {
    test(`rejects ${input}`, () => assert.throws(() => parseHostPort(input), (err: Error) => err.message.startsWith(`invalid address "${input}"`) && reason.test(err.message)));
  }
});

describe("configCandidates", () => {
  const system = ["/etc/dragonfly/dfget.yaml"];
  const paths = (c: ConfigCandidate[]): string[] => c.map((x) => `${x.origin}:${x.path}:${x.required ? "required" : "optional"}`);

  test("--config is the only candidate, resolved against cwd", () => {
    const c = configCandidates({ flag: "my.yaml", env: { DFGET_CONFIG: "/env.yaml", HOME: "/home/u" }, cwd: "/work", systemPaths: system });
    assert.deepEqual(paths(c), ["--config:/work/my.yaml:required"]);
  });
  test("$DFGET_CONFIG comes next and is the only candidate", () => {
    const c = configCandidates({ env: { DFGET_CONFIG: "/env.yaml", XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" }, cwd: "/work", systemPaths: system });
    assert.deepEqual(paths(c), ["DFGET_CONFIG:/env.yaml:required"]);
  });
  test("otherwise $XDG_CONFIG_HOME/dragonfly/dfget.yaml, then the system paths", () => {
    const c = configCandidates({ env: { XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" }, cwd: "/work", systemPaths: system });
    assert.deepEqual(paths(c), ["XDG_CONFIG_HOME:/xdg/dragonfly/dfget.yaml:optional", "system:/etc/dragonfly/dfget.yaml:optional"]);
  });
  test("XDG_CONFIG_HOME unset, empty or relative falls back to ~/.config", () => {
    for (const env of [{ HOME: "/home/u" }, { HOME: "/home/u", XDG_CONFIG_HOME: "" }, { HOME: "/home/u", XDG_CONFIG_HOME: "rel" }]) {
      const c = configCandidates({ env, cwd: "/work", systemPaths: [] });
      assert.deepEqual(paths(c), ["XDG_CONFIG_HOME:/home/u/.config/dragonfly/dfget.yaml:optional"]);
    }
  });
  test("an empty DFGET_CONFIG counts as unset", () => {
    const c = configCandidates({ env: { DFGET_CONFIG: "", HOME: "/home/u" }, cwd: "/work", systemPaths: system });
    assert.equal(c[0].origin, "XDG_CONFIG_HOME");
  });
});

describe("loadConfig", () => {
  const optional = (path: string): ConfigCandidate => ({ path, origin: "system", required: false });

  test("loads the first candidate that exists, and only that one", async () => {
    const files = new Map([
      ["/b.yaml", "scheduler:\n  cooldownInterval: 5s\n"],
      ["/c.yaml", "scheduler:\n  cooldownInterval: abc\n"],
    ]);
    const loaded = await loadConfig([optional("/a.yaml"), optional("/b.yaml"), optional("/c.yaml")], async (p) => files.get(p));
    assert.deepEqual(loaded, { path: "/b.yaml", values: { "scheduler.cooldownInterval": 5_000 } });
  });
  test("none found is no config", async () => {
    assert.equal(await loadConfig([optional("/a.yaml")], async () => undefined), undefined);
  });
  test("a missing required file is a usage error naming who asked for it", async () => {
    await assert.rejects(loadConfig([{ path: "/x.yaml", origin: "--config", required: true }], async () => undefined), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.message, "config /x.yaml: file not found (named by --config)");
      return true;
    });
  });
  test("a read failure is a usage error naming the file", async () => {
    const failing = async (): Promise<string> => {
      throw new Error("EACCES: permission denied");
    };
    await assert.rejects(loadConfig([optional("/x.yaml")], failing), /^UsageError: config \/x\.yaml: cannot read: EACCES/);
  });
  test("reads real files: missing is skipped, a directory is an error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dfget-config-"));
    try {
      const file = join(dir, "dfget.yaml");
      await writeFile(file, "upload:\n  port: 4000\n");
      await mkdir(join(dir, "sub.yaml"));
      assert.equal(await readTextIfExists(join(dir, "missing.yaml")), undefined);
      const loaded = await loadConfig([optional(join(dir, "missing.yaml")), optional(file)]);
      assert.deepEqual(loaded, { path: file, values: { "upload.port": 4000 } });
      await assert.rejects(loadConfig([optional(join(dir, "sub.yaml"))]), (err: unknown) => err instanceof UsageError && /cannot read/.test(err.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
