// "host:port" in one place: how dfget parses, formats and resolves the addresses of
// schedulers, managers and peers. Three spellings: IPv4 "10.0.0.1:8002", IPv6
// "[fd00::1]:8002" (brackets required — "fd00::1:8002" is ambiguous) and a DNS name
// "scheduler.local:8002". IP text is checked by node:net (strict: no leading zeros, no
// octal) and turned into octets by ipaddr.js; zone ids ("%eth0") are refused, as Rust's
// `SocketAddr::from_str` refuses them, because the scheduler ring hashes the octets.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import type { Timer } from "../clock.js";
import { messageOf, UsageError } from "../errors.js";

export interface HostPort {
  /** IP text as written (no brackets), or a lowercased DNS name. */
  host: string;
  kind: "ipv4" | "ipv6" | "name";
  port: number;
}

/** An IP socket address as the scheduler ring hashes it. */
export interface IpEndpoint {
  /** Canonical text: dotted quad, or RFC 5952 IPv6 (an IPv4-mapped one ends dotted). */
  ip: string;
  family: 4 | 6;
  port: number;
  /** 4 or 16 octets in network order. */
  octets: Uint8Array;
}

const HOSTNAME_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const PORT = /^[1-9][0-9]{0,4}$/;

export class InvalidAddressError extends UsageError {
  constructor(text: string, why: string) {
    super(`invalid address ${JSON.stringify(text)} (${why})`);
  }
}

/** Parses "ip:port", "[ipv6]:port" or "name:port" strictly; throws InvalidAddressError. */
export function parseHostPort(text: string): HostPort {
  const invalid = (why: string): InvalidAddressError => new InvalidAddressError(text, why);
  let host: string;
  let portText: string;
  let kind: HostPort["kind"];
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") throw invalid("expected [IPv6]:PORT");
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIP(host) !== 6 || host.includes("%")) throw invalid(`${JSON.stringify(host)} is not an IPv6 address`);
    kind = "ipv6";
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw invalid("expected HOST:PORT");
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) throw invalid("an IPv6 address needs brackets: [addr]:PORT");
    if (host === "") throw invalid("empty host");
    if (/^[0-9.]+$/.test(host) || /^0x/i.test(host)) {
      if (isIP(host) !== 4) throw invalid(`${JSON.stringify(host)} is not an IPv4 address`);
      kind = "ipv4";
    } else {
      if (host.length > 253 || !host.split(".").every((label) => HOSTNAME_LABEL.test(label))) {
        throw invalid(`${JSON.stringify(host)} is not a valid hostname`);
      }
      host = host.toLowerCase();
      kind = "name";
    }
  }
  if (!PORT.test(portText) || Number(portText) > 65535) throw invalid("port must be a number from 1 to 65535");
  return { host, kind, port: Number(portText) };
}

/** Like parseHostPort, but undefined instead of an error. */
export function tryParseHostPort(text: string): HostPort | undefined {
  try {
    return parseHostPort(text);
  } catch {
    return undefined;
  }
}

/** "host:port", with brackets around an IPv6 address. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Why a peer's address as a scheduler or a parent gave it cannot be dialled — an empty IP
 * (Node would dial localhost), a port outside 1..65535 (Node throws) — or undefined.
 */
export function peerAddressProblem(ip: string, port: number | undefined): string | undefined {
  if (ip.trim() === "") return "empty IP";
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return `port ${String(port)} outside 1..65535`;
  return undefined;
}

/** The address in the form the rest of dfget keys things by (names lowercased). */
export function canonicalHostPort(text: string): string {
  const { host, port } = parseHostPort(text);
  return formatHostPort(host, port);
}

function canonicalIpv6(address: ipaddr.IPv6): string {
  // RFC 5952 §5 and Rust's Display print an IPv4-mapped address with its IPv4 part dotted.
  return address.isIPv4MappedAddress() ? `::ffff:${address.toIPv4Address().toString()}` : address.toRFC5952String();
}

/** An IP socket address (no names) with its octets; throws InvalidAddressError. */
export function parseIpEndpoint(text: string): IpEndpoint {
  const { host, kind, port } = parseHostPort(text);
  if (kind === "name") throw new InvalidAddressError(text, "a DNS name, not an IP address");
  if (kind === "ipv4") {
    return { ip: host, family: 4, port, octets: Uint8Array.from(ipaddr.IPv4.parse(host).toByteArray()) };
  }
  const address = ipaddr.IPv6.parse(host);
  return { ip: canonicalIpv6(address), family: 6, port, octets: Uint8Array.from(address.toByteArray()) };
}

/** Name → its addresses (A and AAAA). Rejects when the name does not resolve. */
export type Resolver = (name: string) => Promise<string[]>;

/** The system resolver (getaddrinfo: /etc/hosts, search domains), every address, as given. */
export const systemResolver: Resolver = async (name) =>
  (await lookup(name, { all: true, order: "verbatim" })).map((entry) => entry.address);

export interface ResolveOptions {
  resolver: Resolver;
  /** Per name; dns.lookup cannot be cancelled, so it is raced against this. */
  timeoutMs: number;
  timer: Timer;
}

export interface UnresolvedName {
  /** "name:port" as listed. */
  addr: string;
  reason: string;
  ms: number;
}

export interface ResolvedAddrs {
  /** IP:PORT in list order, each name replaced by all its addresses; duplicates dropped. */
  addrs: string[];
  /** "name:port" → ["ip:port", …], for every name that resolved. */
  resolved: Record<string, string[]>;
  unresolved: UnresolvedName[];
}

/**
 * Replaces DNS names in an address list by every address they resolve to, all names at
 * once. IP addresses pass through untouched; a name that fails or misses the deadline is
 * reported in `unresolved`, never thrown.
 */
export async function resolveHostPorts(addrs: readonly string[], opts: ResolveOptions): Promise<ResolvedAddrs> {
  const parsed = addrs.map((addr) => ({ addr, hostPort: tryParseHostPort(addr) }));
  const lookups = new Map<string, Promise<string[] | UnresolvedName>>();
  for (const { addr, hostPort } of parsed) {
    if (hostPort?.kind === "name" && !lookups.has(addr)) lookups.set(addr, lookupWithin(addr, hostPort, opts));
  }
  const answers = new Map<string, string[] | UnresolvedName>();
  for (const [addr, answer] of lookups) answers.set(addr, await answer);

  const out: ResolvedAddrs = { addrs: [], resolved: {}, unresolved: [] };
  const seen = new Set<string>();
  const add = (addr: string): void => {
    if (!seen.has(addr)) out.addrs.push(addr);
    seen.add(addr);
  };
  for (const { addr, hostPort } of parsed) {
    const answer = answers.get(addr);
    if (answer === undefined) add(addr);
    else if (Array.isArray(answer)) answer.forEach(add);
    else if (hostPort && !out.unresolved.some((u) => u.addr === addr)) out.unresolved.push(answer);
    if (Array.isArray(answer)) out.resolved[addr] = answer;
  }
  return out;
}

async function lookupWithin(addr: string, hostPort: HostPort, opts: ResolveOptions): Promise<string[] | UnresolvedName> {
  const started = opts.timer.now();
  const failed = (reason: string): UnresolvedName => ({ addr, reason, ms: opts.timer.now() - started });
  let cancel: (() => void) | undefined;
  const deadline = new Promise<UnresolvedName>((resolve) => {
    cancel = opts.timer.setTimeout(() => resolve(failed(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
  });
  const answer = opts.resolver(hostPort.host).then(
    (ips) => {
      const usable = [...new Set(ips.filter((ip) => isIP(ip) !== 0 && !ip.includes("%")))];
      return usable.length > 0 ? usable.map((ip) => formatHostPort(ip, hostPort.port)) : failed("no addresses");
    },
    (err: unknown) => failed(errorCodeOf(err) ?? messageOf(err)),
  );
  try {
    return await Promise.race([answer, deadline]);
  } finally {
    cancel?.();
  }
}

function errorCodeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * A resolver answering from a fixed table only (unknown names: ENOTFOUND), never asking
 * DNS. The CLI takes it from DFGET_TEST_HOSTS so end-to-end tests can give names
 * loopback addresses without touching the system's resolver.
 */
export function tableResolver(table: Readonly<Record<string, readonly string[]>>): Resolver {
  return async (name) => {
    const ips = table[name.toLowerCase()];
    if (ips === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: "ENOTFOUND" });
    return [...ips];
  };
}

/** DFGET_TEST_HOSTS='{"sched.test":["127.0.0.2","127.0.0.3"]}' → a table resolver; unset → undefined. */
export function resolverFromEnv(text: string | undefined): Resolver | undefined {
  if (text === undefined || text === "") return undefined;
  let table: unknown;
  try {
    table = JSON.parse(text);
  } catch {
    throw new UsageError("DFGET_TEST_HOSTS: not JSON");
  }
  const valid = typeof table === "object" && table !== null && !Array.isArray(table) &&
    Object.values(table).every((ips) => Array.isArray(ips) && ips.every((ip) => typeof ip === "string"));
  if (!valid) throw new UsageError('DFGET_TEST_HOSTS: expected {"name": ["ip", …]}');
  return tableResolver(table as Record<string, string[]>);
}
