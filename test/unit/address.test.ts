import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UsageError } from "../../src/errors.js";
import {
  canonicalHostPort,
  formatHostPort,
  parseHostPort,
  parseIpEndpoint,
  resolveHostPorts,
  type Resolver,
} from "../../src/net/address.js";
import { fakeTimer } from "../support/fake-timer.js";

describe("parseHostPort", () => {
  test("three spellings", () => {
    assert.deepEqual(parseHostPort("10.0.0.1:8002"), { host: "10.0.0.1", kind: "ipv4", port: 8002 });
    assert.deepEqual(parseHostPort("[fd00::1]:8002"), { host: "fd00::1", kind: "ipv6", port: 8002 });
    assert.deepEqual(parseHostPort("Sched-1.Example:65003"), { host: "sched-1.example", kind: "name", port: 65003 });
  });
  for (const bad of ["fd00::1:8002", "host", "host:0", "host:65536", ":80", "10.0.0.01:80", "0x0a.0.0.1:80", "[fe80::1%eth0]:80", "-bad.example:80", "a..b:80"]) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseHostPort(bad), (err: unknown) => err instanceof UsageError && err.message.startsWith(`invalid address ${JSON.stringify(bad)} (`));
    });
  }
  test("format and canonical form", () => {
    assert.equal(formatHostPort("fd00::1", 8002), "[fd00::1]:8002");
    assert.equal(formatHostPort("10.0.0.1", 8002), "10.0.0.1:8002");
    assert.equal(canonicalHostPort("SCHED.local:8002"), "sched.local:8002");
  });
  test("an IP endpoint has octets; a name is not one", () => {
    assert.deepEqual([...parseIpEndpoint("10.1.2.3:80").octets], [10, 1, 2, 3]);
    assert.equal(parseIpEndpoint("[::FFFF:10.0.0.1]:80").ip, "::ffff:10.0.0.1");
    assert.throws(() => parseIpEndpoint("sched.local:80"), UsageError);
  });
});

describe("resolveHostPorts", () => {
  const table: Record<string, string[]> = {
    "sched.test": ["127.0.0.2", "127.0.0.3", "::1", "127.0.0.2"],
    "empty.test": [],
  };
  const resolver: Resolver = async (name) => {
    const ips = table[name];
    if (ips === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: "ENOTFOUND" });
    return ips;
  };

  test("a name becomes every address it has, in place, duplicates dropped", async () => {
    const out = await resolveHostPorts(["10.0.0.1:8002", "sched.test:8002", "127.0.0.3:8002"], { resolver, timeoutMs: 1000, timer: fakeTimer() });
    assert.deepEqual(out.addrs, ["10.0.0.1:8002", "127.0.0.2:8002", "127.0.0.3:8002", "[::1]:8002"]);
    assert.deepEqual(out.resolved, { "sched.test:8002": ["127.0.0.2:8002", "127.0.0.3:8002", "[::1]:8002"] });
    assert.deepEqual(out.unresolved, []);
  });

  test("no names: nothing resolved, list untouched", async () => {
    const out = await resolveHostPorts(["10.0.0.1:8002"], { resolver, timeoutMs: 1000, timer: fakeTimer() });
    assert.deepEqual(out, { addrs: ["10.0.0.1:8002"], resolved: {}, unresolved: [] });
  });

  test("unknown names and empty answers are reported, not thrown", async () => {
    const out = await resolveHostPorts(["nope.test:1", "empty.test:2", "10.0.0.1:3"], { resolver, timeoutMs: 1000, timer: fakeTimer() });
    assert.deepEqual(out.addrs, ["10.0.0.1:3"]);
    assert.deepEqual(out.unresolved.map((u) => [u.addr, u.reason]), [["nope.test:1", "ENOTFOUND"], ["empty.test:2", "no addresses"]]);
  });

  test("a lookup that never answers is cut at the deadline", async () => {
    const timer = fakeTimer();
    const hanging: Resolver = () => new Promise(() => undefined);
    const pending = resolveHostPorts(["slow.test:8002", "10.0.0.1:8002"], { resolver: hanging, timeoutMs: 250, timer });
    let done = false;
    void pending.then(() => (done = true));
    await timer.advance(249);
    assert.equal(done, false);
    await timer.advance(1);
    const out = await pending;
    assert.deepEqual(out.addrs, ["10.0.0.1:8002"]);
    assert.deepEqual(out.unresolved, [{ addr: "slow.test:8002", reason: "no answer within 250 ms", ms: 250 }]);
    assert.equal(timer.pending(), 0);
  });
});
