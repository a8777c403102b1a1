// cluster/: manager failover, first healthy cluster, the cached list and the resolution
// order (static > manager > cache > none), against real grpc-js servers on 127.0.0.1.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { SourceType } from "../../src/gen/manager/v2/manager.js";
import { readSchedulerCache, schedulerCachePath, writeSchedulerCache, type SchedulerCache } from "../../src/cluster/cache.js";
import { isValidHostname, sanitizeHostname } from "../../src/cluster/hostname.js";
import {
  firstHealthyCluster,
  listSchedulers,
  ManagerUnavailableError,
  toEntries,
  type SchedulerEntry,
} from "../../src/cluster/manager.js";
import { cachedAtText, createSchedulerList, resolveSchedulers, type SchedulerListConfig } from "../../src/cluster/resolve.js";
import { ChannelPool } from "../../src/rpc/channels.js";
import { probe as probeAddress, type ProbeResult } from "../../src/rpc/health.js";
import { refusingAddr, schedulerMessage, startBlackhole, startMiniGrpc } from "../support/mini-servers.js";

const insecure = grpc.credentials.createInsecure();
const caller = { hostname: "My_Build Host.Example.", ip: "127.0.0.1", idc: "", location: "cn|sh", version: "0.1.0", commit: "abc1234" };
// Generous, so that a refused or healthy manager gets its true verdict even from a cold
// process on a loaded machine (grpc-js may take longer than 300 ms to dial at first); only
// the blackhole case waits the full connect timeout.
const timeouts = { connectTimeoutMs: 3000, callTimeoutMs: 5000 };
const clock = { now: () => Date.UTC(2026, 7, 1, 12, 0, 0) };

async function tempStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "dfget-cluster-"));
}

function config(stateDir: string, managerAddrs: string[], schedulerAddrs: string[] = []): SchedulerListConfig {
  return { schedulerAddrs, managerAddrs, stateDir, caller, managerCredentials: insecure, ...timeouts };
}

function entry(addr: string, clusterId: number): SchedulerEntry {
  return { addr, clusterId, hostname: `h-${addr}`, state: "active" };
}

function fixedProbe(outcomes: Record<string, ProbeResult["outcome"]>, asked: string[]) {
  return async (addr: string): Promise<ProbeResult> => {
    asked.push(addr);
    return { addr, outcome: outcomes[addr] ?? "refused", ms: 1, phase: "connect" };
  };
}

describe("listSchedulers", () => {
  test("first manager refused, second answers with the Rust request fields", async () => {
    const dead = await refusingAddr();
    const manager = await startMiniGrpc({
      schedulers: [schedulerMessage("10.0.0.1", 8002, 1), schedulerMessage("fd00::2", 8002, 1), schedulerMessage("not-an-ip", 8002, 1)],
    });
    try {
      const answer = await listSchedulers([dead, manager.addr], caller, { credentials: insecure, ...timeouts });
      assert.equal(answer.managerAddr, manager.addr);
      assert.deepEqual(answer.schedulers.map((s) => s.addr), ["10.0.0.1:8002", "[fd00::2]:8002"]);
      assert.equal(answer.skipped, 1);
      assert.deepEqual(manager.healthChecks, [""], "the manager is health-checked first");
      assert.equal(manager.listRequests.length, 1);
      const req = manager.listRequests[0]!;
      assert.equal(req.sourceType, SourceType.PEER_SOURCE);
      assert.equal(req.hostname, "my-build-host.example");
      assert.equal(req.ip, "127.0.0.1");
      assert.equal(req.idc, undefined, "an empty idc is not sent (Go validates 1..1024 when present)");
      assert.equal(req.location, "cn|sh");
      assert.equal(req.version, "0.1.0");
      assert.equal(req.commit, "abc1234");
      assert.equal(req.schedulerClusterId, 0n);
    } finally {
      await manager.close();
    }
  });

  test("a manager whose ListSchedulers fails is skipped too", async () => {
    const broken = await startMiniGrpc({ listError: grpc.status.INTERNAL });
    const good = await startMiniGrpc({ schedulers: [schedulerMessage("10.0.0.9", 8002, 3)] });
    try {
      const answer = await listSchedulers([broken.addr, good.addr], caller, { credentials: insecure, ...timeouts });
      assert.equal(answer.managerAddr, good.addr);
      assert.equal(broken.listRequests.length, 1);
    } finally {
      await broken.close();
      await good.close();
    }
  });

  test("all managers down → ManagerUnavailableError listing each failure", async () => {
    const dead = await refusingAddr();
    const hole = await startBlackhole();
    const notServing = await startMiniGrpc({ health: { "": 2 }, schedulers: [] });
    try {
      const started = Date.now();
      await assert.rejects(
        listSchedulers([dead, hole.addr, notServing.addr], caller, { credentials: insecure, ...timeouts }),
        (err: unknown) => {
          assert.ok(err instanceof ManagerUnavailableError);
          assert.equal(err.code, "ERR_MANAGER_UNAVAILABLE");
          assert.deepEqual(err.failures.map((f) => [f.managerAddr, f.outcome]), [
            [dead, "refused"],
            [hole.addr, "timeout"],
            [notServing.addr, "not-serving"],
          ]);
          return true;
        },
      );
      // A hang guard only: the blackhole's "timeout" verdict above is what shows the
      // per-manager connect timeout applied.
      assert.ok(Date.now() - started < 15_000, "bounded by the per-manager connect timeout");
      assert.equal(notServing.listRequests.length, 0, "ListSchedulers is not called on a NOT_SERVING manager");
    } finally {
      await hole.close();
      await notServing.close();
    }
  });
});

describe("firstHealthyCluster", () => {
  test("walks in manager order; the first healthy scheduler fixes the cluster; later clusters unprobed", async () => {
    const entries = [entry("a:1", 1), entry("b:1", 1), entry("c:1", 2), entry("d:1", 2), entry("e:1", 3), entry("f:1", 1)];
    const asked: string[] = [];
    const choice = await firstHealthyCluster(entries, fixedProbe({ "d:1": "ok", "e:1": "ok" }, asked));
    assert.equal(choice.clusterId, 2);
    assert.deepEqual(choice.entries.map((e) => e.addr), ["c:1", "d:1"]);
    assert.deepEqual(asked, ["a:1", "b:1", "c:1", "d:1"]);
    assert.deepEqual(choice.probes.map((p) => p.outcome), ["refused", "refused", "refused", "ok"]);
  });

  test("none healthy → no cluster", async () => {
    const choice = await firstHealthyCluster([entry("a:1", 1)], fixedProbe({}, []));
    assert.equal(choice.clusterId, undefined);
    assert.deepEqual(choice.entries, []);
    assert.equal(choice.probes.length, 1);
  });

  test("toEntries keeps order, brackets IPv6, drops bad ports and duplicates", () => {
    const { schedulers, skipped } = toEntries([
      schedulerMessage("10.0.0.1", 8002, 7, "s1"),
      schedulerMessage("10.0.0.1", 8002, 7, "dup"),
      schedulerMessage("::1", 8003, 7, "s2", "inactive"),
      schedulerMessage("10.0.0.3", 0, 7),
    ]);
    assert.deepEqual(schedulers, [
      { addr: "10.0.0.1:8002", clusterId: 7, hostname: "s1", state: "active" },
      { addr: "[::1]:8003", clusterId: 7, hostname: "s2", state: "inactive" },
    ]);
    assert.equal(skipped, 1);
  });
});

describe("sanitizeHostname", () => {
  const rows: Array<[string, string, string]> = [
    ["valid name, lowercased", "Node-1.Example.COM", "node-1.example.com"],
    ["underscore and space", "my_host name", "my-host-name"],
    ["trailing dot", "host.local.", "host.local"],
    ["leading and trailing dashes per label", "-a-.-b-", "a.b"],
    ["non-ASCII", "hôte", "h-te"],
    ["nothing usable", "___", "localhost"],
    ["empty", "", "localhost"],
    ["long label cut to 63", "x".repeat(70), "x".repeat(63)],
  ];
  for (const [name, input, expected] of rows) {
    test(name, () => {
      const out = sanitizeHostname(input);
      assert.equal(out, expected);
      assert.ok(isValidHostname(out));
    });
  }
  test("total length ≤ 253 by whole labels", () => {
    const out = sanitizeHostname(Array.from({ length: 10 }, () => "y".repeat(60)).join("."));
    assert.ok(out.length <= 253 && isValidHostname(out), `${out.length}`);
    assert.equal(out.split(".").length, 4);
  });
});

describe("resolveSchedulers", () => {
  test("static list wins: no manager connection is made", async () => {
    const hole = await startBlackhole();
    const stateDir = await tempStateDir();
    try {
      const asked: string[][] = [];
      const spy: typeof listSchedulers = (addrs, ...rest) => {
        asked.push(addrs);
        return listSchedulers(addrs, ...rest);
      };
      const resolved = await resolveSchedulers(config(stateDir, [hole.addr], ["10.0.0.1:8002", "10.0.0.2:8002", "10.0.0.1:8002"]), { clock, listSchedulers: spy });
      assert.equal(resolved.source, "static");
      assert.deepEqual(resolved.addrs, ["10.0.0.1:8002", "10.0.0.2:8002"]);
      assert.deepEqual(asked, [], "the manager list was not asked for");
      assert.equal(hole.connections(), 0);
      assert.equal(await readSchedulerCache(stateDir, assert.fail), undefined, "a static list is not cached");
    } finally {
      await hole.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  test("manager answer is used and cached (mode 0600); all managers down later → cache with warning", async () => {
    const manager = await startMiniGrpc({ schedulers: [schedulerMessage("10.0.0.1", 8002, 1), schedulerMessage("10.0.0.2", 8002, 2)] });
    const stateDir = await tempStateDir();
    try {
      const fresh = await resolveSchedulers(config(stateDir, [manager.addr]), { clock });
      assert.equal(fresh.source, "manager");
      assert.equal(fresh.managerAddr, manager.addr);
      assert.deepEqual(fresh.addrs, ["10.0.0.1:8002"], "only the first cluster");
      assert.equal(fresh.warning, undefined);

      const path = schedulerCachePath(stateDir);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      const cached = JSON.parse(await readFile(path, "utf8")) as SchedulerCache;
      assert.deepEqual(cached, {
        version: 1,
        fetchedAt: clock.now(),
        managers: [manager.addr],
        schedulers: [{ addr: "10.0.0.1:8002", clusterId: 1, hostname: "scheduler-8002", state: "active" }],
      });

      await manager.close();
      const dead = await refusingAddr();
      const fromCache = await resolveSchedulers(config(stateDir, [dead, manager.addr]), { clock });
      assert.equal(fromCache.source, "cache");
      assert.deepEqual(fromCache.addrs, ["10.0.0.1:8002"]);
      assert.equal(fromCache.warning, `managers ${dead} (connection refused), ${manager.addr} (connection refused) unreachable; using the scheduler list cached at ${cachedAtText(clock.now(), clock.now())}`);
      assert.equal(fromCache.managerError?.failures.length, 2);
    } finally {
      await manager.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  test("all managers down and no cache → none with a warning", async () => {
    const stateDir = await tempStateDir();
    try {
      const resolved = await resolveSchedulers(config(stateDir, [await refusingAddr()]), { clock });
      assert.equal(resolved.source, "none");
      assert.deepEqual(resolved.addrs, []);
      assert.match(resolved.warning ?? "", /^manager 127\.0\.0\.1:\d+ unreachable \(connection refused\) and no cached list$/);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  test("a cache written for other managers is not used", async () => {
    const stateDir = await tempStateDir();
    try {
      await writeSchedulerCache(stateDir, { version: 1, fetchedAt: 1, managers: ["10.9.9.9:65003"], schedulers: [entry("10.0.0.5:8002", 1)] }, assert.fail);
      const resolved = await resolveSchedulers(config(stateDir, [await refusingAddr()]), { clock });
      assert.equal(resolved.source, "none");
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  test("corrupt cache → warning, treated as absent", async () => {
    const stateDir = await tempStateDir();
    try {
      await writeFile(schedulerCachePath(stateDir), "{not json");
      const warnings: string[] = [];
      assert.equal(await readSchedulerCache(stateDir, (w) => warnings.push(w)), undefined);
      assert.equal(warnings.length, 1);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  test("no static list and no manager → none, silently", async () => {
    const resolved = await resolveSchedulers(config("/nonexistent-state-dir", []), { clock });
    assert.deepEqual(resolved, { source: "none", addrs: [], resolved: {}, unresolved: [] });
  });

  test("with a real probe: the first cluster with a healthy scheduler is chosen and cached", async () => {
    const healthy = await startMiniGrpc();
    const dead = await refusingAddr();
    const deadPort = Number(dead.split(":")[1]);
    const manager = await startMiniGrpc({
      schedulers: [schedulerMessage("127.0.0.1", deadPort, 1), schedulerMessage("127.0.0.1", healthy.port, 2), schedulerMessage("10.0.0.7", 8002, 2)],
    });
    const stateDir = await tempStateDir();
    try {
      const pool = new ChannelPool();
      const probe = (addr: string) => probeAddress(addr, { credentials: insecure, timeoutMs: timeouts.connectTimeoutMs, pool });
      const resolved = await resolveSchedulers(config(stateDir, [manager.addr]), { clock, probe });
      pool.closeAll();
      assert.equal(resolved.source, "manager");
      assert.deepEqual(resolved.addrs, [healthy.addr, "10.0.0.7:8002"]);
      assert.deepEqual(resolved.probes?.map((p) => [p.addr, p.outcome]), [[dead, "refused"], [healthy.addr, "ok"]]);
      assert.deepEqual(healthy.healthChecks, [""], "10.0.0.7 (same cluster) is not probed while choosing");
      const cached = await readSchedulerCache(stateDir, assert.fail);
      assert.deepEqual(cached?.schedulers.map((s) => s.clusterId), [2, 2]);
    } finally {
      await healthy.close();
      await manager.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  test("refresh asks the manager again; resolve alone does not", async () => {
    const stateDir = await tempStateDir();
    let calls = 0;
    const answers = [[entry("10.0.0.1:8002", 1)], [entry("10.0.0.2:8002", 1)]];
    try {
      const list = createSchedulerList(config(stateDir, ["m:65003"]), {
        clock,
        resolver: async () => ["10.9.9.9"],
        listSchedulers: async () => ({ managerAddr: "m:65003", schedulers: answers[calls++]!, skipped: 0 }),
      });
      assert.deepEqual((await list.resolve()).addrs, ["10.0.0.1:8002"]);
      assert.deepEqual((await list.resolve()).addrs, ["10.0.0.1:8002"]);
      assert.equal(calls, 1);
      const [a, b] = await Promise.all([list.refresh(), list.refresh()]);
      assert.equal(calls, 2, "concurrent refreshes share one manager round");
      assert.deepEqual(a.addrs, ["10.0.0.2:8002"]);
      assert.equal(a, b);
      assert.deepEqual((await list.resolve()).addrs, ["10.0.0.2:8002"]);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
