// Which scheduler owns a task: the Rust dfdaemon's hash ring, reproduced bit for bit
// (../shared/reference/dragonfly-client.md §7; architecture.md "Decisions already made").
// One ring point per scheduler at SipHash-2-4(keys 0/0) of the bytes Rust's derived
// `Hash` writes for its `SocketAddr`; the lookup key is the task id's first 5 characters
// hashed as a Rust `String` (bytes + 0xFF); lower-bound search, wrapping to index 0.
// Peers only meet when they register at the same scheduler, so a mixed cluster of Rust
// peers and ours depends on these bytes being exact.
//
// Pure functions: no I/O, clock or cooldown. Unparsable addresses are skipped, as the
// Rust client skips schedulers whose ip it cannot parse; callers that want to report
// them validate first with parseSchedulerAddr (which throws a UsageError).
import { DfgetError, UsageError } from "../errors.js";
import { sipHash24 } from "./siphash.js";

export interface SchedulerAddr {
  /** Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as ::). */
  ip: string;
  family: 4 | 6;
  port: number;
  /** 4 or 16 octets in network order. */
  octets: Uint8Array;
}

const IPV4_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;
const PORT = /^[1-9][0-9]{0,4}$/;

/** Dotted quad, four decimal octets, no leading zeros (Rust's `Ipv4Addr::from_str`). */
function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const octets = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!IPV4_OCTET.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    octets[i] = value;
  }
  return octets;
}

/**
 * The 16-bit groups of one side of an IPv6 address (before or after `::`). A dotted
 * quad counts as two groups and is allowed only as the address's final piece.
 */
function parseIpv6Groups(part: string, mayEndWithIpv4: boolean): number[] | undefined {
  if (part === "") return [];
  const pieces = part.split(":");
  const groups: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as string;
    if (IPV6_GROUP.test(piece)) {
      groups.push(parseInt(piece, 16));
      continue;
    }
    if (!mayEndWithIpv4 || i !== pieces.length - 1) return undefined;
    const v4 = parseIpv4(piece);
    if (v4 === undefined) return undefined;
    groups.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
  }
  return groups;
}

/**
 * RFC 4291 text form as Rust's `Ipv6Addr::from_str` accepts it: eight groups, or fewer
 * with one `::` standing for at least one zero group; an embedded IPv4 only at the end.
 * Zone ids (`%eth0`) are refused: Rust's `IpAddr::from_str` refuses them too.
 */
function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 1) {
    const all = parseIpv6Groups(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    groups = all;
  } else {
    const head = parseIpv6Groups(halves[0] as string, false);
    const tail = parseIpv6Groups(halves[1] as string, true);
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const octets = new Uint8Array(16);
  groups.forEach((group, i) => {
    octets[2 * i] = group >> 8;
    octets[2 * i + 1] = group & 0xff;
  });
  return octets;
}

function formatIpv6(octets: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((octets[i] as number) << 8) | (octets[i + 1] as number));
  // IPv4-mapped addresses print their IPv4 part dotted, as Rust and RFC 5952 do.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${Array.from(octets.subarray(12)).join(".")}`;
  }
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed (RFC 5952 §4.2.2)
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

function invalidAddr(text: string, why: string): UsageError {
  return new UsageError(`invalid scheduler address "${text}": ${why}`);
}

/**
 * Parses "a.b.c.d:port" or "[ipv6]:port" strictly. Throws UsageError naming the input.
 * Ports are 1–65535 in plain decimal; IPv6 needs brackets.
 */
export function parseSchedulerAddr(text: string): SchedulerAddr {
  let host: string;
  let portText: string;
  let family: 4 | 6;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw invalidAddr(text, "missing ']'");
    if (text[close + 1] !== ":") throw invalidAddr(text, "expected [ipv6]:port");
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    family = 6;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw invalidAddr(text, "expected ip:port");
    host = text.slice(0, colon);
    if (host.includes(":")) throw invalidAddr(text, "IPv6 addresses must be written as [ipv6]:port");
    portText = text.slice(colon + 1);
    family = 4;
  }
  if (!PORT.test(portText) || Number(portText) > 65535) {
    throw invalidAddr(text, "port must be a decimal number from 1 to 65535");
  }
  const octets = family === 4 ? parseIpv4(host) : parseIpv6(host);
  if (octets === undefined) throw invalidAddr(text, family === 4 ? "not an IPv4 address" : "not an IPv6 address");
  const ip = family === 4 ? Array.from(octets).join(".") : formatIpv6(octets);
  return { ip, family, port: Number(portText), octets };
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
