// rpc/: channel credentials, the channel pool, deadline helpers and the availability
// probe, against real grpc-js and TCP servers on 127.0.0.1.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { UsageError } from "../../src/errors.js";
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthClient } from "../../src/gen/grpc/health/v1/health.js";
import { ManagerClient } from "../../src/gen/manager/v2/manager.js";
import { SchedulerClient } from "../../src/gen/scheduler/v2/scheduler.js";
import { formatHostPort, tryParseHostPort } from "../../src/net/address.js";
import { ChannelPool, createChannelCredentials, deadlineIn, grpcCodeOf, minDeadline, remainingMs } from "../../src/rpc/channels.js";
import { probe } from "../../src/rpc/health.js";
import {
  hasOpenssl,
  makeTlsFixture,
  mtlsServerCredentials,
  refusingAddr,
  startBlackhole,
  startMiniGrpc,
  type TlsFixture,
} from "../support/mini-servers.js";

const insecure = grpc.credentials.createInsecure();

describe("probe", () => {
  test("SERVING → ok, and the READY channel stays in the pool for the next client", async () => {
    const server = await startMiniGrpc();
    const pool = new ChannelPool();
    try {
      const result = await probe(server.addr, { credentials: insecure, timeoutMs: 2000, pool });
      assert.equal(result.outcome, "ok");
      assert.equal(result.phase, "health");
      assert.equal(result.addr, server.addr);
      assert.deepEqual(server.healthChecks, [""]);
      const channel = pool.channel(server.addr, insecure);
      assert.equal(channel.getConnectivityState(false), grpc.connectivityState.READY);
      const scheduler = pool.openClient(SchedulerClient, server.addr, insecure);
      assert.equal(scheduler.getChannel(), channel, "clients of other services share the probed channel");
      assert.equal(pool.openClient(SchedulerClient, server.addr, insecure), scheduler, "clients are cached");
    } finally {
      pool.closeAll();
      await server.close();
    }
  });

  test("closed port → refused, classified without waiting for the deadline", async () => {
    const addr = await refusingAddr();
    const pool = new ChannelPool();
    // The deadline is far beyond any scheduling delay, so "before the deadline" is an
    // outcome, not a timing: a refused connect must not be reported as a timeout.
    const result = await probe(addr, { credentials: insecure, timeoutMs: 60_000, pool });
    console.log(`# refused probe took ${result.ms} ms`);
    assert.equal(result.outcome, "refused");
    assert.equal(result.errno, "ECONNREFUSED");
    assert.equal(result.phase, "connect");
    assert.ok(result.ms < 30_000, `refused took ${result.ms} ms`);
    assert.equal(pool.has(addr), false, "the failed probe's channel is closed");
    // A second probe (warm) costs about one loopback connect.
    const again = await probe(addr, { credentials: insecure, timeoutMs: 5000 });
    console.log(`# second refused probe took ${again.ms} ms`);
    assert.equal(again.outcome, "refused");
  });

  test("blackhole (TCP accepts, never answers) → timeout at the deadline", async () => {
    const hole = await startBlackhole();
    try {
      // 2 s: long enough for a cold grpc-js on a loaded machine to have dialled (the
      // connection count below), so the timeout is the blackhole's, not the dial's.
      const result = await probe(hole.addr, { credentials: insecure, timeoutMs: 2000 });
      assert.equal(result.outcome, "timeout");
      assert.equal(result.phase, "connect");
      // Never before the deadline; the upper bound only catches a probe that hangs.
      assert.ok(result.ms >= 1990 && result.ms < 20_000, `timeout after ${result.ms} ms`);
      assert.ok(hole.connections() >= 1, "the TCP connection was accepted");
    } finally {
      await hole.close();
    }
  });

  test("an earlier outer deadline wins over timeoutMs", async () => {
    const hole = await startBlackhole();
    try {
      // 150 ms against 60 s: whichever fired is clear under any load.
      const result = await probe(hole.addr, { credentials: insecure, timeoutMs: 60_000, deadline: deadlineIn(150) });
      assert.equal(result.outcome, "timeout");
      assert.ok(result.ms < 30_000, `timeout after ${result.ms} ms`);
    } finally {
      await hole.close();
    }
  });

  test("NOT_SERVING → not-serving", async () => {
    const server = await startMiniGrpc({ health: { "": ServingStatus.NOT_SERVING } });
    const pool = new ChannelPool();
    try {
      const result = await probe(server.addr, { credentials: insecure, timeoutMs: 2000, pool });
      assert.equal(result.outcome, "not-serving");
      assert.equal(result.phase, "health");
      assert.equal(pool.has(server.addr), false);
    } finally {
      pool.closeAll();
      await server.close();
    }
  });

  test("Check answering UNAVAILABLE → unavailable with the code", async () => {
    const server = await startMiniGrpc({ healthError: grpc.status.UNAVAILABLE });
    try {
      const result = await probe(server.addr, { credentials: insecure, timeoutMs: 2000 });
      assert.equal(result.outcome, "unavailable");
      assert.equal(result.grpcCode, grpc.status.UNAVAILABLE);
      assert.equal(result.phase, "health");
    } finally {
      await server.close();
    }
  });

  test("unknown service name (NOT_FOUND, as grpc-go) → not-serving", async () => {
    const server = await startMiniGrpc();
    try {
      const result = await probe(server.addr, { credentials: insecure, timeoutMs: 2000, service: "scheduler.v2.Scheduler" });
      assert.equal(result.outcome, "not-serving");
      assert.equal(result.grpcCode, grpc.status.NOT_FOUND);
      assert.deepEqual(server.healthChecks, ["scheduler.v2.Scheduler"]);
    } finally {
      await server.close();
    }
  });

  test("SERVICE_UNKNOWN status → not-serving", async () => {
    const server = await startMiniGrpc({ health: { "": ServingStatus.SERVICE_UNKNOWN } });
    try {
      assert.equal((await probe(server.addr, { credentials: insecure, timeoutMs: 2000 })).outcome, "not-serving");
    } finally {
      await server.close();
    }
  });

  test("not a host:port → unavailable without dialling", async () => {
    const result = await probe("no-port-here", { credentials: insecure, timeoutMs: 2000 });
    assert.equal(result.outcome, "unavailable");
    assert.equal(result.phase, "connect");
  });
});

describe("TLS", { skip: hasOpenssl() ? false : "openssl binary not available" }, () => {
  let tls: TlsFixture;
  before(() => {
    tls = makeTlsFixture();
  });
  after(() => tls.remove());

  test("mTLS client against an mTLS server → ok; CA-only client → handshake failure, not refused", async () => {
    const server = await startMiniGrpc({ credentials: mtlsServerCredentials(tls) });
    try {
      const mtls = createChannelCredentials({ caCert: tls.caCert, cert: tls.clientCert, key: tls.clientKey });
      assert.equal((await probe(server.addr, { credentials: mtls, timeoutMs: 3000 })).outcome, "ok");
      const caOnly = createChannelCredentials({ caCert: tls.caCert });
      const rejected = await probe(server.addr, { credentials: caOnly, timeoutMs: 3000 });
      assert.equal(rejected.outcome, "unavailable");
      assert.equal(rejected.phase, "connect");
      assert.equal(rejected.errno, undefined, "TCP itself connected");
    } finally {
      await server.close();
    }
  });
});

describe("createChannelCredentials", () => {
  test("no files → insecure", () => {
    assert.equal(createChannelCredentials({})._isSecure(), false);
  });

  test("unreadable file → UsageError naming setting and path", () => {
    assert.throws(
      () => createChannelCredentials({ caCert: "/nonexistent/ca.pem" }, "scheduler"),
      (err: unknown) => err instanceof UsageError && err.message.includes("scheduler.caCert") && err.message.includes("/nonexistent/ca.pem"),
    );
  });

  test("cert without key → UsageError", () => {
    assert.throws(() => createChannelCredentials({ cert: "/x.pem" }, "manager"), UsageError);
  });
});

describe("pool, deadlines, codes, addresses", () => {
  test("one channel per address, shared by every client type; close(addr) drops it", () => {
    const pool = new ChannelPool();
    const a = "127.0.0.1:1";
    const health = pool.openClient(HealthClient, a, insecure);
    const manager = pool.openClient(ManagerClient, a, insecure);
    assert.equal(health.getChannel(), manager.getChannel());
    assert.notEqual(pool.channel("127.0.0.1:2", insecure), health.getChannel());
    pool.close(a);
    assert.equal(pool.has(a), false);
    assert.notEqual(pool.channel(a, insecure), health.getChannel(), "a closed address gets a fresh channel");
    pool.closeAll();
    assert.equal(pool.has(a), false);
  });

  test("minDeadline / remainingMs", () => {
    const clock = { now: () => 1_000 };
    assert.equal(deadlineIn(500, clock), 1_500);
    assert.equal(minDeadline(3_000, undefined, new Date(2_000), 2_500), 2_000);
    assert.equal(minDeadline(), Infinity);
    assert.equal(remainingMs(900, clock), 0);
    assert.equal(remainingMs(1_250, clock), 250);
  });

  test("grpcCodeOf reads numeric codes only", () => {
    assert.equal(grpcCodeOf({ code: 14, details: "x" }), 14);
    assert.equal(grpcCodeOf(Object.assign(new Error("refused"), { code: "ECONNREFUSED" })), undefined);
    assert.equal(grpcCodeOf(undefined), undefined);
    assert.equal(grpcCodeOf({ code: 99 }), undefined);
  });

  test("split and join host:port", () => {
    assert.deepEqual(tryParseHostPort("10.0.0.1:8002"), { host: "10.0.0.1", kind: "ipv4", port: 8002 });
    assert.deepEqual(tryParseHostPort("[fd00::1]:8002"), { host: "fd00::1", kind: "ipv6", port: 8002 });
    assert.deepEqual(tryParseHostPort("scheduler.local:8002"), { host: "scheduler.local", kind: "name", port: 8002 });
    assert.equal(tryParseHostPort("fd00::1:8002"), undefined);
    assert.equal(tryParseHostPort("host:0"), undefined);
    assert.equal(tryParseHostPort("host"), undefined);
    assert.equal(formatHostPort("fd00::1", 8002), "[fd00::1]:8002");
    assert.equal(formatHostPort("10.0.0.1", 8002), "10.0.0.1:8002");
  });
});
