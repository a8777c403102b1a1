// The scheduler hash ring against the Rust dfdaemon's numbers
// (../shared/reference/dragonfly-client.md §7) and the fallback-order property.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { sipHash24 } from "../../src/switching/siphash.js";
import {
  parseSchedulerAddr,
  ringCandidates,
  ringOwner,
  schedulerKey,
  socketAddrHashInput,
  taskKey,
  taskKeyHashInput,
} from "../../src/switching/ring.js";
import { DfgetError, UsageError } from "../../src/errors.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const TASK_A689E = "a689e9c5b6e67744e31b3402be3b1e12ee39764b8b3705ebd20ed19778126aea";
// Only the first 5 characters enter the lookup key; the rest is filler.
const TASK_B3CC7 = "b3cc7" + "0".repeat(59);
const TASK_ED875 = "ed875" + "0".repeat(59);
const S1 = "10.0.0.1:8002";
const S2 = "10.0.0.2:8002";
const S3 = "10.0.0.3:8002";

describe("sipHash24", () => {
  test("matches the SipHash paper's vectors (key 00..0f)", () => {
    const key = Buffer.from("000102030405060708090a0b0c0d0e0f", "hex");
    const k0 = key.readBigUInt64LE(0);
    const k1 = key.readBigUInt64LE(8);
    const message = Uint8Array.from({ length: 15 }, (_, i) => i);
    assert.equal(sipHash24(message, k0, k1), 0xa129ca6149be45e5n);
    assert.equal(sipHash24(new Uint8Array(0), k0, k1), 0x726fdb47dd0e0e31n);
  });

  test("keys 0/0 reproduce the Rust ring's numbers from raw bytes", () => {
    assert.equal(sipHash24(Buffer.from("3538343466ff", "hex")), 17288273808646522682n);
    assert.equal(sipHash24(Buffer.from("00000000000000000a000001421f", "hex")), 11045254673571024366n);
  });

  test("reads a subarray at its own offset", () => {
    const padded = Buffer.from("aa3538343466ffbb", "hex");
    assert.equal(sipHash24(padded.subarray(1, 7)), 17288273808646522682n);
  });
});

describe("hash inputs", () => {
  test("IPv4 socket: isize discriminant 0, octets, port u16 LE (14 bytes)", () => {
    assert.equal(hex(socketAddrHashInput(parseSchedulerAddr(S1))), "00000000000000000a000001421f");
  });

  test("IPv6 socket: discriminant 1, 16 octets, port LE, flowinfo 0, scope_id 0 (34 bytes)", () => {
    assert.equal(
      hex(socketAddrHashInput(parseSchedulerAddr("[fd00::5]:8002"))),
      "0100000000000000" + "fd000000000000000000000000000005" + "421f" + "00000000" + "00000000",
    );
  });

  test("task key: first 5 characters as bytes, then 0xFF", () => {
    assert.equal(hex(taskKeyHashInput("5844f0123")), "3538343466ff");
  });

  test("a task id without a 5-byte prefix is refused", () => {
    assert.throws(() => taskKey("abcd"), (err: unknown) => err instanceof DfgetError && err.code === "ERR_TASK_ID");
    assert.throws(() => taskKey("abcdé"), DfgetError); // byte 5 cuts the é in half
  });
});

describe("worked examples of reference §7", () => {
  test("scheduler keys", () => {
    assert.equal(schedulerKey(S1), 11045254673571024366n);
    assert.equal(schedulerKey(S2), 4348847603351778578n);
    assert.equal(schedulerKey(S3), 4589980318568480855n);
    assert.equal(schedulerKey("[fd00::5]:8002"), 18377511077516176065n);
  });

  test("task keys", () => {
    assert.equal(taskKey("5844f"), 17288273808646522682n);
    assert.equal(taskKey(TASK_A689E), 12586143786461745748n);
    assert.equal(taskKey(TASK_B3CC7), 7799035881376149418n);
    assert.equal(taskKey(TASK_ED875), 4363824305234515132n);
  });

  const permutations = [
    [S1, S2, S3], [S1, S3, S2], [S2, S1, S3], [S2, S3, S1], [S3, S1, S2], [S3, S2, S1],
  ];
  const table = [
    { desc: "a689e is past every node and wraps to .2", taskId: TASK_A689E, want: [S2, S3, S1] },
    { desc: "b3cc7 lands between .3 and .1", taskId: TASK_B3CC7, want: [S1, S2, S3] },
    { desc: "ed875 lands between .2 and .3", taskId: TASK_ED875, want: [S3, S1, S2] },
  ];
  for (const { desc, taskId, want } of table) {
    test(`${desc}, whatever the insertion order`, () => {
      for (const addrs of permutations) {
        assert.equal(ringOwner(addrs, taskId), want[0]);
        assert.deepEqual(ringCandidates(addrs, taskId), want);
      }
    });
  }
});

describe("parseSchedulerAddr", () => {
  const valid = [
    { text: "10.0.0.1:8002", ip: "10.0.0.1", family: 4, port: 8002 },
    { text: "0.0.0.0:1", ip: "0.0.0.0", family: 4, port: 1 },
    { text: "255.255.255.255:65535", ip: "255.255.255.255", family: 4, port: 65535 },
    { text: "[fd00::5]:8002", ip: "fd00::5", family: 6, port: 8002 },
    { text: "[FD00:0:0:0:0:0:0:0005]:8002", ip: "fd00::5", family: 6, port: 8002 },
    { text: "[::]:80", ip: "::", family: 6, port: 80 },
    { text: "[::1]:80", ip: "::1", family: 6, port: 80 },
    { text: "[1::]:80", ip: "1::", family: 6, port: 80 },
    { text: "[1:2:3:4:5:6:7:8]:80", ip: "1:2:3:4:5:6:7:8", family: 6, port: 80 },
    { text: "[1:2:3:4:5:6:7::]:80", ip: "1:2:3:4:5:6:7:0", family: 6, port: 80 },
    { text: "[2001:db8:0:0:1:0:0:1]:80", ip: "2001:db8::1:0:0:1", family: 6, port: 80 },
    { text: "[::ffff:10.0.0.1]:80", ip: "::ffff:10.0.0.1", family: 6, port: 80 },
    { text: "[64:ff9b::192.0.2.33]:80", ip: "64:ff9b::c000:221", family: 6, port: 80 },
    { text: "[1:2:3:4:5:6:1.2.3.4]:80", ip: "1:2:3:4:5:6:102:304", family: 6, port: 80 },
  ] as const;
  for (const { text, ip, family, port } of valid) {
    test(`accepts ${text}`, () => {
      const parsed = parseSchedulerAddr(text);
      assert.deepEqual({ ip: parsed.ip, family: parsed.family, port: parsed.port }, { ip, family, port });
    });
  }

  test("expands :: and embedded IPv4 into the right octets", () => {
    assert.equal(hex(parseSchedulerAddr("[::ffff:10.0.0.1]:80").octets), "00000000000000000000ffff0a000001");
    assert.equal(hex(parseSchedulerAddr("[1:2:3:4:5:6:7::]:80").octets), "00010002000300040005000600070000");
    assert.equal(hex(parseSchedulerAddr("[a::b:c]:80").octets), "000a00000000000000000000000b000c");
    assert.equal(schedulerKey("[FD00:0::0:5]:8002"), schedulerKey("[fd00::5]:8002"));
  });

  const invalid = [
    "", "10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:08002", "10.0.0.1:+80",
    "10.0.0.1:80 ", " 10.0.0.1:80", "10.0.0.01:80", "10.0.0.256:80", "10.0.0:80", "10.0.0.1.5:80",
    "10.0.0.-1:80", "localhost:8002", "0x0a.0.0.1:80", "fd00::5:8002", "[fd00::5]", "[fd00::5]8002",
    "[fd00::5:8002", "[]:80", "[fd00:::5]:80", "[1::2::3]:80", "[1:2:3:4:5:6:7:8:9]:80",
    "[1:2:3:4:5:6:7]:80", "[1:2:3:4::5:6:7:8]:80", "[12345::]:80", "[fe80::1%eth0]:80",
    "[1.2.3.4]:80", "[1.2.3.4::]:80", "[::1.2.3.4:5]:80", "[:1::]:80", "[1::2:]:80",
    "[1:2:3:4:5:6:7:1.2.3.4]:80", "[1:2:3:4:5:6::1.2.3.4]:80", "[::ffff:10.0.0.01]:80", "[g::1]:80",
  ];
  for (const text of invalid) {
    test(`rejects ${JSON.stringify(text)} with a UsageError`, () => {
      assert.throws(() => parseSchedulerAddr(text), (err: unknown) => err instanceof UsageError && err.message.includes(JSON.stringify(text)));
    });
  }
});

describe("ring edge cases", () => {
  test("an empty ring has no owner and no candidates", () => {
    assert.equal(ringOwner([], TASK_A689E), undefined);
    assert.deepEqual(ringCandidates([], TASK_A689E), []);
  });

  test("unparsable addresses are skipped, as the Rust client skips them", () => {
    assert.deepEqual(ringCandidates(["not-an-addr", S1, "10.0.0.9"], TASK_A689E), [S1]);
    assert.equal(ringOwner(["nope"], TASK_A689E), undefined);
  });

  test("duplicates, also differently spelled, count once under their first spelling", () => {
    const got = ringCandidates([S1, S1, "[FD00:0::5]:8002", "[fd00::5]:8002", S2], TASK_A689E);
    assert.equal(got.length, 3);
    assert.deepEqual([...got].sort(), [S1, S2, "[FD00:0::5]:8002"].sort());
  });
});

/** Deterministic PRNG (mulberry32) so a failure is reproducible. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("fallback order property", () => {
  test("for 10,000 random tasks, candidate n is the owner of the ring without candidates 1..n-1", () => {
    const random = prng(0x5eed);
    const int = (n: number): number => Math.floor(random() * n);
    const pool: string[] = [];
    for (let i = 0; i < 40; i++) pool.push(`10.${int(256)}.${int(256)}.${1 + int(254)}:${8000 + int(10)}`);
    for (let i = 0; i < 24; i++) pool.push(`[fd00:${int(0xffff).toString(16)}::${int(0xffff).toString(16)}]:${8000 + int(10)}`);
    const keyOf = new Map(pool.map((addr) => [addr, schedulerKey(addr)]));

    for (let round = 0; round < 10_000; round++) {
      const taskId = Array.from({ length: 64 }, () => "0123456789abcdef"[int(16)]).join("");
      const size = 1 + int(8);
      const set = [...new Set(Array.from({ length: size }, () => pool[int(pool.length)] as string))];
      const candidates = ringCandidates(set, taskId);
      assert.deepEqual([...candidates].sort(), [...set].sort(), "every scheduler appears exactly once");

      // Owner by brute force: the smallest key ≥ the task key, else the smallest key.
      const k = taskKey(taskId);
      const byKey = [...set].sort((a, b) => ((keyOf.get(a) as bigint) < (keyOf.get(b) as bigint) ? -1 : 1));
      const bruteOwner = byKey.find((addr) => (keyOf.get(addr) as bigint) >= k) ?? byKey[0];
      assert.equal(candidates[0], bruteOwner);

      for (let n = 1; n < candidates.length; n++) {
        const rest = set.filter((addr) => !candidates.slice(0, n).includes(addr));
        assert.equal(ringOwner(rest, taskId), candidates[n], `task ${taskId}, set ${set.join(",")}, n=${n}`);
      }
      assert.deepEqual(ringCandidates([...set].reverse(), taskId), candidates, "insertion order does not matter");
    }
  });
});
