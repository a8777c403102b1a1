#!/usr/bin/env python3
# Test-only, independent of src/: SipHash-2-4 (keys 0/0) and the Rust SocketAddr hash
# layout of ../../shared/reference/dragonfly-client.md §7, written from the SipHash paper.
# It checks itself against §7's worked example, then prints the ring orders that the
# tests hard-code. Run: python3 test/vectors/ring_vectors.py
import struct

M = (1 << 64) - 1

def rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M

def siphash24(data: bytes) -> int:
    v0, v1, v2, v3 = 0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573
    def rounds(n):
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & M; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
            v2 = (v2 + v3) & M; v3 = rotl(v3, 16); v3 ^= v2
            v0 = (v0 + v3) & M; v3 = rotl(v3, 21); v3 ^= v0
            v2 = (v2 + v1) & M; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    tail = len(data) % 8
    for i in range(0, len(data) - tail, 8):
        m = struct.unpack("<Q", data[i:i + 8])[0]
        v3 ^= m; rounds(2); v0 ^= m
    last = (len(data) & 0xFF) << 56
    for i, byte in enumerate(data[len(data) - tail:]):
        last |= byte << (8 * i)
    v3 ^= last; rounds(2); v0 ^= last
    v2 ^= 0xFF; rounds(4)
    return v0 ^ v1 ^ v2 ^ v3

def v4_key(ip: str, port: int) -> int:
    return siphash24(bytes(8) + bytes(int(o) for o in ip.split(".")) + struct.pack("<H", port))

def task_key(task_id: str) -> int:
    return siphash24(task_id[:5].encode() + b"\xff")

def order(nodes, task_id):
    ring = sorted(nodes, key=lambda n: v4_key(*n))
    k = task_key(task_id)
    start = next((i for i, n in enumerate(ring) if v4_key(*n) >= k), 0)
    return [f"{ip}:{port}" for ip, port in ring[start:] + ring[:start]]

# §7's worked example, exactly.
assert v4_key("10.0.0.1", 8002) == 11045254673571024366
assert v4_key("10.0.0.2", 8002) == 4348847603351778578
assert v4_key("10.0.0.3", 8002) == 4589980318568480855
assert task_key("5844f") == 17288273808646522682
assert task_key("a689e") == 12586143786461745748
assert task_key("b3cc7") == 7799035881376149418
assert task_key("ed875") == 4363824305234515132
three = [("10.0.0.1", 8002), ("10.0.0.2", 8002), ("10.0.0.3", 8002)]
assert order(three, "a689e")[0] == "10.0.0.2:8002"
assert order(three, "b3cc7")[0] == "10.0.0.1:8002"
assert order(three, "ed875")[0] == "10.0.0.3:8002"

if __name__ == "__main__":
    import sys
    task = sys.argv[1] if len(sys.argv) > 1 else "a689e"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8002
    ips = sys.argv[3].split(",") if len(sys.argv) > 3 else ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    print(order([(ip, port) for ip in ips], task))
