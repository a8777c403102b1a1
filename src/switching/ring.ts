// Which scheduler owns a task: the Rust dfdaemon's hash ring, reproduced bit for bit
// (../shared/reference/dragonfly-client.md §7; architecture.md "Decisions already made").
// One ring point per scheduler at SipHash-2-4(keys 0/0) of the bytes Rust's derived
// `Hash` writes for its `SocketAddr`; the lookup key is the task id's first 5 characters
// hashed as a Rust `String` (bytes + 0xFF); lower-bound search, wrapping to index 0.
// Peers only meet when they register at the same scheduler, so a mixed cluster of Rust
// peers and ours depends on these bytes being exact.
//
// Pure functions: no I/O, clock or cooldown. Unparsable addresses (and names not yet
// resolved) are skipped, as the Rust client skips schedulers whose ip it cannot parse;
// cluster/ resolves names first and reports the ones that do not resolve.
import { DfgetError } from "../errors.js";
import { parseIpEndpoint, type IpEndpoint } from "../net/address.js";
import { sipHash24 } from "./siphash.js";

/** A ring node: an IP socket address (net/address.ts parses it). */
export type SchedulerAddr = IpEndpoint;

/**
 * Parses "a.b.c.d:port" or "[ipv6]:port" strictly, as Rust's `SocketAddr::from_str`.
 * Throws a UsageError naming the input; DNS names are resolved before the ring
 * (cluster/), never here.
 */
export function parseSchedulerAddr(text: string): SchedulerAddr {
  return parseIpEndpoint(text);
}

/**
 * The bytes Rust (≥ 1.82, 64-bit) feeds the hasher for `SocketAddr`: the enum
 * discriminant as isize LE (0 = V4, 1 = V6), the octets, the port as u16 LE, and for V6
 * flowinfo and scope_id as u32 LE (always 0 for `SocketAddr::new`).
 */
export function socketAddrHashInput(addr: SchedulerAddr): Uint8Array {
  const bytes = new Uint8Array(addr.family === 4 ? 14 : 34);
  bytes[0] = addr.family === 4 ? 0 : 1;
  bytes.set(addr.octets, 8);
  const portAt = 8 + addr.octets.length;
  bytes[portAt] = addr.port & 0xff;
  bytes[portAt + 1] = addr.port >> 8;
  return bytes; // V6 flowinfo and scope_id stay zero
}

/**
 * The bytes Rust hashes for the lookup key `task_id[0..5].to_string()`: the first 5
 * bytes of the id (UTF-8; task ids are ASCII hex) followed by 0xFF (`str`'s Hash).
 * Rust panics on an id shorter than 5 bytes or cut inside a character; we throw.
 */
export function taskKeyHashInput(taskId: string): Uint8Array {
  const utf8 = new TextEncoder().encode(taskId);
  if (utf8.length < 5 || (utf8.length > 5 && ((utf8[5] as number) & 0xc0) === 0x80)) {
    throw new DfgetError(`task id "${taskId}" has no 5-byte prefix for the scheduler ring`, "ERR_TASK_ID");
  }
  const bytes = new Uint8Array(6);
  bytes.set(utf8.subarray(0, 5));
  bytes[5] = 0xff;
  return bytes;
}

/** Ring position of a scheduler address. Throws UsageError when it does not parse. */
export function schedulerKey(addr: string): bigint {
  return sipHash24(socketAddrHashInput(parseSchedulerAddr(addr)));
}

/** Ring position looked up for a task. */
export function taskKey(taskId: string): bigint {
  return sipHash24(taskKeyHashInput(taskId));
}

interface RingPoint {
  /** The caller's spelling, returned as is so it can key the cooldown ledger. */
  addr: string;
  /** Family, canonical ip and port: two spellings of one socket are one point. */
  identity: string;
  key: bigint;
}

// BigInt SipHash costs ~20 µs per address and the ring is rebuilt on every lookup, so
// parsed points are memoised per spelling (null = unparsable). Bounded: cleared when full.
const pointCache = new Map<string, Omit<RingPoint, "addr"> | null>();
const POINT_CACHE_LIMIT = 4096;

function ringPoint(addr: string): RingPoint | undefined {
  let cached = pointCache.get(addr);
  if (cached === undefined) {
    try {
      const parsed = parseSchedulerAddr(addr);
      cached = { identity: `${parsed.family}|${parsed.ip}|${parsed.port}`, key: sipHash24(socketAddrHashInput(parsed)) };
    } catch {
      cached = null;
    }
    if (pointCache.size >= POINT_CACHE_LIMIT) pointCache.clear();
    pointCache.set(addr, cached);
  }
  return cached === null ? undefined : { addr, ...cached };
}

/** One point per distinct socket (first spelling wins), sorted by unsigned u64 key. */
function buildRing(addrs: readonly string[]): RingPoint[] {
  const seen = new Set<string>();
  const points: RingPoint[] = [];
  for (const addr of addrs) {
    const point = ringPoint(addr);
    if (point === undefined || seen.has(point.identity)) continue;
    seen.add(point.identity);
    points.push(point);
  }
  // Keys are BigInts in [0, 2^64), so comparing them is the unsigned u64 order. A tie
  // (two sockets with one 64-bit hash) is broken by identity so input order never matters.
  return points.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.identity < b.identity ? -1 : 1));
}

/** Index of the first point whose key is ≥ k, wrapping past the end to 0. */
function ownerIndex(ring: readonly RingPoint[], k: bigint): number {
  let low = 0;
  let high = ring.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((ring[mid] as RingPoint).key < k) low = mid + 1;
    else high = mid;
  }
  return low === ring.length ? 0 : low;
}

/** The scheduler a Rust dfdaemon would pick for this task; undefined for an empty ring. */
export function ringOwner(addrs: readonly string[], taskId: string): string | undefined {
  const ring = buildRing(addrs);
  if (ring.length === 0) return undefined;
  return (ring[ownerIndex(ring, taskKey(taskId))] as RingPoint).addr;
}

/**
 * Fallback order: the ring walked clockwise from the owner. The n-th candidate is the
 * owner of the ring rebuilt without the first n-1 — where a Rust dfdaemon goes once its
 * dynconfig refresh has dropped the failed schedulers. Duplicates and unparsable
 * addresses are left out.
 */
export function ringCandidates(addrs: readonly string[], taskId: string): string[] {
  const ring = buildRing(addrs);
  if (ring.length === 0) return [];
  const start = ownerIndex(ring, taskKey(taskId));
  return ring.map((_, i) => (ring[(start + i) % ring.length] as RingPoint).addr);
}
