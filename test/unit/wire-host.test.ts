// Wire tests, part 4: common.v2.Host with its stats sub-messages, and the scheduler's host
// RPC messages (AnnounceHost, DeleteHost, ListHosts). Expected bytes are built by hand
// from shared/reference/dragonfly-wire.md §3.3 and §3.5.
import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { Host } from "../../src/gen/common/v2/common.js";
import {
  AnnounceHostRequest,
  DeleteHostRequest,
  ListHostsRequest,
  ListHostsResponse,
} from "../../src/gen/scheduler/v2/scheduler.js";
import {
  assertWireRoundTrip,
  boolField,
  concat,
  doubleField,
  durationField,
  messageField,
  stringField,
  varintField,
} from "../support/protowire.js";

// §3.3 common.v2.Host and sub-messages.
const HOST = {
  id: 1, type: 2, hostname: 3, ip: 4, port: 5, downloadPort: 6, os: 7, platform: 8,
  platformFamily: 9, platformVersion: 10, kernelVersion: 11, cpu: 12, memory: 13, network: 14,
  disk: 15, build: 16, schedulerClusterId: 17, disableShared: 18, proxyPort: 19, name: 20,
} as const;
const CPU = { logicalCount: 1, physicalCount: 2, percent: 3, processPercent: 4, times: 5, cgroup: 6 } as const;
const CPU_TIMES = {
  user: 1, system: 2, idle: 3, nice: 4, iowait: 5, irq: 6, softirq: 7, steal: 8, guest: 9, guestNice: 10,
} as const;
const CGROUP_CPU = { period: 1, quota: 2, usedPercent: 3 } as const;
const MEMORY = { total: 1, available: 2, used: 3, usedPercent: 4, processUsedPercent: 5, free: 6, cgroup: 7 } as const;
const CGROUP_MEMORY = { limit: 1, usage: 2, usedPercent: 3 } as const;
const NETWORK = {
  tcpConnectionCount: 1, uploadTcpConnectionCount: 2, location: 3, idc: 4,
  maxRxBandwidth: 9, rxBandwidth: 10, maxTxBandwidth: 11, txBandwidth: 12,
} as const;
const DISK = {
  total: 1, free: 2, used: 3, usedPercent: 4, inodesTotal: 5, inodesUsed: 6, inodesFree: 7,
  inodesUsedPercent: 8, readBandwidth: 9, writeBandwidth: 10, cgroup: 11,
} as const;
const CGROUP_DISK = { readBandwidth: 1, writeBandwidth: 2 } as const;
const BUILD = { gitVersion: 1, gitCommit: 2, goVersion: 3, rustVersion: 4, platform: 5 } as const;
// §3.5 host RPC messages.
const ANNOUNCE_HOST_REQUEST = { host: 1, interval: 2 } as const;
const DELETE_HOST_REQUEST = { hostId: 1 } as const;
const LIST_HOSTS_REQUEST = { type: 1 } as const;
const LIST_HOSTS_RESPONSE = { hosts: 1 } as const;

const HOST_ID = "192.0.2.10-dfget-host";
const GIB = 1024n * 1024n * 1024n;

/** What dfget announces: identity, ports, network affinity, build. type 0 = normal. */
function dfgetHost(): Host {
  return Host.fromPartial({
    id: HOST_ID,
    type: 0,
    hostname: "dfget-host",
    ip: "192.0.2.10",
    port: 4000,
    downloadPort: 4000,
    os: "linux",
    network: { location: "cn|zhejiang|hangzhou", idc: "idc-a" },
    build: { gitVersion: "v0.1.0", gitCommit: "abc1234", platform: "linux-x64" },
  });
}

function dfgetHostBytes(): Uint8Array {
  return concat(
    stringField(HOST.id, HOST_ID),
    // type 0 (normal) is a plain uint32: omitted.
    stringField(HOST.hostname, "dfget-host"),
    stringField(HOST.ip, "192.0.2.10"),
    varintField(HOST.port, 4000),
    varintField(HOST.downloadPort, 4000),
    stringField(HOST.os, "linux"),
    messageField(
      HOST.network,
      stringField(NETWORK.location, "cn|zhejiang|hangzhou"),
      stringField(NETWORK.idc, "idc-a"),
    ),
    messageField(
      HOST.build,
      stringField(BUILD.gitVersion, "v0.1.0"),
      stringField(BUILD.gitCommit, "abc1234"),
      stringField(BUILD.platform, "linux-x64"),
    ),
  );
}

describe("common.v2.Host", () => {
  test("AnnounceHostRequest{host #1, interval #2} as dfget sends it", () => {
    assertWireRoundTrip(
      AnnounceHostRequest,
      AnnounceHostRequest.fromPartial({ host: dfgetHost(), interval: { seconds: 300n, nanos: 0 } }),
      concat(
        messageField(ANNOUNCE_HOST_REQUEST.host, dfgetHostBytes()),
        durationField(ANNOUNCE_HOST_REQUEST.interval, 300n),
      ),
    );
    // Without an interval: the optional Duration is simply absent.
    assertWireRoundTrip(
      AnnounceHostRequest,
      AnnounceHostRequest.fromPartial({ host: dfgetHost() }),
      messageField(ANNOUNCE_HOST_REQUEST.host, dfgetHostBytes()),
    );
  });

  test("every Host field and stats sub-message, incl. negative int64 cgroup limits", () => {
    const host = Host.fromPartial({
      id: "198.51.100.20-seed-1-seed", type: 1, hostname: "seed-1", ip: "198.51.100.20", port: 4000,
      downloadPort: 4000, os: "linux", platform: "ubuntu", platformFamily: "debian", platformVersion: "24.04",
      kernelVersion: "6.8.0",
      cpu: {
        logicalCount: 16, physicalCount: 8, percent: 12.5, processPercent: 0.75,
        times: { user: 1, system: 2, idle: 3, nice: 4, iowait: 5, irq: 6, softirq: 7, steal: 8, guest: 9, guestNice: 10 },
        cgroup: { period: 100000n, quota: -1n, usedPercent: 1.5 },
      },
      memory: {
        total: 64n * GIB, available: 32n * GIB, used: 30n * GIB, usedPercent: 46.875, processUsedPercent: 0.25,
        free: 2n * GIB, cgroup: { limit: -1n, usage: GIB, usedPercent: 3.5 },
      },
      network: {
        tcpConnectionCount: 120, uploadTcpConnectionCount: 7, location: "", idc: "",
        maxRxBandwidth: 10_000_000_000n, rxBandwidth: 0n, maxTxBandwidth: 10_000_000_000n, txBandwidth: 5n,
      },
      disk: {
        total: 500n * GIB, free: 250n * GIB, used: 250n * GIB, usedPercent: 50, inodesTotal: 1000n,
        inodesUsed: 10n, inodesFree: 990n, inodesUsedPercent: 1, readBandwidth: 7n, writeBandwidth: 8n,
        cgroup: { readBandwidth: 1n, writeBandwidth: 2n },
      },
      build: { gitVersion: "v1.5.0", gitCommit: "ff17c0b", goVersion: "", rustVersion: "1.85.0", platform: "x86_64" },
      schedulerClusterId: 1n, disableShared: true, proxyPort: 4001, name: "default-seed-1",
    });
    const expected = concat(
      stringField(HOST.id, "198.51.100.20-seed-1-seed"),
      varintField(HOST.type, 1),
      stringField(HOST.hostname, "seed-1"),
      stringField(HOST.ip, "198.51.100.20"),
      varintField(HOST.port, 4000),
      varintField(HOST.downloadPort, 4000),
      stringField(HOST.os, "linux"),
      stringField(HOST.platform, "ubuntu"),
      stringField(HOST.platformFamily, "debian"),
      stringField(HOST.platformVersion, "24.04"),
      stringField(HOST.kernelVersion, "6.8.0"),
      messageField(
        HOST.cpu,
        varintField(CPU.logicalCount, 16),
        varintField(CPU.physicalCount, 8),
        doubleField(CPU.percent, 12.5),
        doubleField(CPU.processPercent, 0.75),
        messageField(
          CPU.times,
          ...Object.values(CPU_TIMES).map((field) => doubleField(field, field)), // user=1 … guest_nice=10
        ),
        messageField(
          CPU.cgroup,
          varintField(CGROUP_CPU.period, 100000),
          varintField(CGROUP_CPU.quota, -1), // int64 -1: ten bytes
          doubleField(CGROUP_CPU.usedPercent, 1.5),
        ),
      ),
      messageField(
        HOST.memory,
        varintField(MEMORY.total, 64n * GIB),
        varintField(MEMORY.available, 32n * GIB),
        varintField(MEMORY.used, 30n * GIB),
        doubleField(MEMORY.usedPercent, 46.875),
        doubleField(MEMORY.processUsedPercent, 0.25),
        varintField(MEMORY.free, 2n * GIB),
        messageField(
          MEMORY.cgroup,
          varintField(CGROUP_MEMORY.limit, -1),
          varintField(CGROUP_MEMORY.usage, GIB),
          doubleField(CGROUP_MEMORY.usedPercent, 3.5),
        ),
      ),
      messageField(
        HOST.network,
        varintField(NETWORK.tcpConnectionCount, 120),
        varintField(NETWORK.uploadTcpConnectionCount, 7),
        stringField(NETWORK.location, ""), // optional: "" is sent
        stringField(NETWORK.idc, ""),
        varintField(NETWORK.maxRxBandwidth, 10_000_000_000n),
        varintField(NETWORK.rxBandwidth, 0), // optional: 0 is sent
        varintField(NETWORK.maxTxBandwidth, 10_000_000_000n),
        varintField(NETWORK.txBandwidth, 5),
      ),
      messageField(
        HOST.disk,
        varintField(DISK.total, 500n * GIB),
        varintField(DISK.free, 250n * GIB),
        varintField(DISK.used, 250n * GIB),
        doubleField(DISK.usedPercent, 50),
        varintField(DISK.inodesTotal, 1000),
        varintField(DISK.inodesUsed, 10),
        varintField(DISK.inodesFree, 990),
        doubleField(DISK.inodesUsedPercent, 1),
        varintField(DISK.readBandwidth, 7),
        varintField(DISK.writeBandwidth, 8),
        messageField(DISK.cgroup, varintField(CGROUP_DISK.readBandwidth, 1), varintField(CGROUP_DISK.writeBandwidth, 2)),
      ),
      messageField(
        HOST.build,
        stringField(BUILD.gitVersion, "v1.5.0"),
        stringField(BUILD.gitCommit, "ff17c0b"),
        stringField(BUILD.goVersion, ""),
        stringField(BUILD.rustVersion, "1.85.0"),
        stringField(BUILD.platform, "x86_64"),
      ),
      varintField(HOST.schedulerClusterId, 1),
      boolField(HOST.disableShared, true),
      varintField(HOST.proxyPort, 4001),
      stringField(HOST.name, "default-seed-1"),
    );
    assertWireRoundTrip(Host, host, expected);
  });

  test("old Network rate fields #5–#8 and unknown Host fields are skipped", () => {
    // An api < v2.1.56 sender still fills download_rate … upload_rate_limit (#5–#8).
    const bytes = concat(
      stringField(HOST.id, HOST_ID),
      messageField(
        HOST.network,
        varintField(NETWORK.tcpConnectionCount, 3),
        stringField(NETWORK.idc, "idc-a"),
        varintField(5, 100),
        varintField(6, 200),
        varintField(7, 300),
        varintField(8, 400),
      ),
      stringField(21, "future"),
    );
    assert.deepEqual(
      Host.decode(bytes),
      Host.fromPartial({ id: HOST_ID, network: { tcpConnectionCount: 3, idc: "idc-a" } }),
    );
  });
});

describe("scheduler host RPC messages", () => {
  test("DeleteHostRequest{host_id #1}", () => {
    assertWireRoundTrip(
      DeleteHostRequest,
      DeleteHostRequest.fromPartial({ hostId: HOST_ID }),
      stringField(DELETE_HOST_REQUEST.hostId, HOST_ID),
    );
  });

  test("ListHostsRequest{type #1 optional uint32}: 0 is sent, unset is empty", () => {
    assertWireRoundTrip(ListHostsRequest, ListHostsRequest.fromPartial({ type: 0 }), varintField(LIST_HOSTS_REQUEST.type, 0));
    assertWireRoundTrip(ListHostsRequest, ListHostsRequest.fromPartial({}), new Uint8Array(0));
  });

  test("ListHostsResponse{hosts #1 repeated Host}", () => {
    assertWireRoundTrip(
      ListHostsResponse,
      ListHostsResponse.fromPartial({ hosts: [dfgetHost(), dfgetHost()] }),
      concat(
        messageField(LIST_HOSTS_RESPONSE.hosts, dfgetHostBytes()),
        messageField(LIST_HOSTS_RESPONSE.hosts, dfgetHostBytes()),
      ),
    );
  });
});
