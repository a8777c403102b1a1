// gRPC channels: credentials from TLS files, one shared grpc-js Channel per address, and
// the deadline helpers every call uses. Clients of different services (Health, Scheduler,
// Manager, DfdaemonUpload) to the same address share one Channel, so the connection a
// health probe opened is the one the AnnouncePeer stream then runs on.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { UsageError } from "../errors.js";
import type { TlsFiles } from "../config/types.js";
import { systemClock, type Clock } from "../clock.js";

// ---------------------------------------------------------------------------------------
// Credentials

/**
 * No files → plaintext h2c (Dragonfly's default). caCert + cert + key → mTLS.
 * caCert only → TLS verified against that CA. cert + key without caCert → mTLS verified
 * against the system roots. cert without key (or key without cert) is a usage error, as
 * is a file that cannot be read; `scope` ("manager", "scheduler") prefixes the key name
 * in the message so the user knows which setting to fix.
 */
export function createChannelCredentials(tls: TlsFiles, scope = "tls"): grpc.ChannelCredentials {
  const { caCert, cert, key } = tls;
  if (!caCert && !cert && !key) return grpc.credentials.createInsecure();
  if (Boolean(cert) !== Boolean(key)) {
    throw new UsageError(`${scope}: cert and key must be given together (cert=${cert ?? "unset"}, key=${key ?? "unset"})`);
  }
  const ca = caCert ? readTlsFile(caCert, `${scope}.caCert`) : null;
  const certChain = cert ? readTlsFile(cert, `${scope}.cert`) : null;
  const privateKey = key ? readTlsFile(key, `${scope}.key`) : null;
  try {
    return grpc.credentials.createSsl(ca, privateKey, certChain, { checkServerIdentity: checkIdentityOf });
  } catch (err) {
    // grpc-js parses the PEM here; a malformed file surfaces as a plain Error.
    throw new UsageError(`${scope}: invalid TLS material: ${(err as Error).message}`, { cause: err });
  }
}

// An IP-literal address and TLS: grpc-js always sets the TLS ServerName (SNI) to the
// target's host, and Node warns (DEP0123) that an IP there is not permitted by RFC 6066 —
// printed on every mTLS run against schedulers addressed by IP, which is how Dragonfly
// clusters are addressed. Go and Rust clients send no SNI for an IP and check the
// certificate's IP SANs. Here the channel gets a stand-in name under the reserved
// `.invalid` TLD (RFC 6761) that encodes the IP, and the identity check decodes it and
// verifies the certificate against the IP itself, as before.
const IP_STAND_IN = /^ip-([0-9a-f]+)\.dfget\.invalid$/;

/** `10.0.0.1` → `ip-0a000001.dfget.invalid`; IPv6 the same with 32 hex digits. */
export function ipStandInName(ip: string): string {
  const bytes = isIP(ip) === 4 ? ip.split(".").map(Number) : ipv6Bytes(ip);
  return `ip-${Buffer.from(bytes).toString("hex")}.dfget.invalid`;
}

function ipv6Bytes(ip: string): number[] {
  const [head, tail = ""] = ip.split("::");
  const parse = (part: string): number[] => (part === "" ? [] : part.split(":").flatMap((group) => {
    if (group.includes(".")) return group.split(".").map(Number);
    const n = parseInt(group, 16);
    return [n >> 8, n & 0xff];
  }));
  const front = parse(head);
  const back = ip.includes("::") ? parse(tail) : [];
  return [...front, ...new Array<number>(16 - front.length - back.length).fill(0), ...back];
}

function ipFromStandIn(hex: string): string {
  const bytes = Buffer.from(hex, "hex");
  if (bytes.length === 4) return [...bytes].join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(":");
}

/** Node's own check, against the IP when the name is a stand-in for one. */
export function checkIdentityOf(host: string, cert: PeerCertificate): Error | undefined {
  const standIn = IP_STAND_IN.exec(host);
  return checkServerIdentity(standIn ? ipFromStandIn(standIn[1]) : host, cert);
}

/** Channel options for `addr` over `creds`: the stand-in server name for a TLS IP target. */
function tlsNameOptions(addr: string, creds: grpc.ChannelCredentials): grpc.ChannelOptions {
  if (!creds._isSecure()) return {};
  const host = addr.startsWith("[") ? addr.slice(1, addr.indexOf("]")) : addr.slice(0, addr.lastIndexOf(":"));
  return isIP(host) ? { "grpc.ssl_target_name_override": ipStandInName(host) } : {};
}

function readTlsFile(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code ?? "error";
    throw new UsageError(`${setting}: cannot read ${path} (${errno})`, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------
// Channel options

/**
 * Why each option:
 * - retries off: switching/ decides what a failure means; grpc-js must not replay calls.
 * - keepalive 6 min: Go servers enforce a 5 min minimum between pings and answer more
 *   frequent ones with GOAWAY too_many_pings; 6 min leaves margin for timer jitter, and
 *   no pings are sent without an active call (a long AnnouncePeer stream is one).
 * - short reconnect backoff: a probe after a failure must not wait out grpc-js's 1 s
 *   default before the next connect attempt.
 * - local subchannel pool: the pool below already shares one Channel per address; a
 *   process-global subchannel could carry a stale TRANSIENT_FAILURE from a closed channel.
 * - unlimited message size: as Go servers and the Rust client.
 * - no service config from DNS TXT and no HTTP proxy from the environment: the Rust
 *   client uses neither, and an http_proxy meant for the origin must not capture gRPC.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.enable_retries": 0,
  "grpc.keepalive_time_ms": 360_000,
  "grpc.keepalive_timeout_ms": 20_000,
  "grpc.keepalive_permit_without_calls": 0,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 2_000,
  "grpc.use_local_subchannel_pool": 1,
  "grpc.max_receive_message_length": -1,
  "grpc.max_send_message_length": -1,
  "grpc.service_config_disable_resolution": 1,
  "grpc.enable_http_proxy": 0,
};

// ---------------------------------------------------------------------------------------
// Pool

/** A ts-proto generated client class (SchedulerClient, ManagerClient, HealthClient...). */
export type ClientConstructor<T extends grpc.Client> = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: Partial<grpc.ClientOptions>,
) => T;

interface PoolEntry {
  addr: string;
  channel: grpc.Channel;
  clients: Map<ClientConstructor<grpc.Client>, grpc.Client>;
}

const credentialIds = new WeakMap<grpc.ChannelCredentials, number>();
let nextCredentialId = 1;
function credentialId(creds: grpc.ChannelCredentials): number {
  let id = credentialIds.get(creds);
  if (id === undefined) {
    id = nextCredentialId++;
    credentialIds.set(creds, id);
  }
  return id;
}

/**
 * One grpc-js Channel per (address, credentials); clients are cached per constructor.
 * Close channels through the pool only: `client.close()` would close the shared channel
 * under the other clients.
 */
export class ChannelPool {
  private readonly entries = new Map<string, PoolEntry>();
  private readonly options: grpc.ChannelOptions;

  constructor(options: grpc.ChannelOptions = {}) {
    this.options = { ...CHANNEL_OPTIONS, ...options };
  }

  /** The shared channel for `addr`, created (IDLE, not yet connecting) on first use. */
  channel(addr: string, creds: grpc.ChannelCredentials): grpc.Channel {
    return this.entry(addr, creds).channel;
  }

  openClient<T extends grpc.Client>(ctor: ClientConstructor<T>, addr: string, creds: grpc.ChannelCredentials): T {
    const entry = this.entry(addr, creds);
    const cached = entry.clients.get(ctor);
    if (cached) return cached as T;
    const client = new ctor(addr, creds, { channelOverride: entry.channel });
    entry.clients.set(ctor, client);
    return client;
  }

  has(addr: string): boolean {
    for (const entry of this.entries.values()) if (entry.addr === addr) return true;
    return false;
  }

  /** Closes every channel to `addr` (any credentials); open calls on them fail CANCELLED/UNAVAILABLE. */
  close(addr: string): void {
    for (const [key, entry] of this.entries) {
      if (entry.addr !== addr) continue;
      this.entries.delete(key);
      entry.channel.close();
    }
  }

  closeAll(): void {
    for (const entry of this.entries.values()) entry.channel.close();
    this.entries.clear();
  }

  private entry(addr: string, creds: grpc.ChannelCredentials): PoolEntry {
    const key = `${credentialId(creds)}|${addr}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { addr, channel: new grpc.Channel(addr, creds, { ...this.options, ...tlsNameOptions(addr, creds) }), clients: new Map() };
      this.entries.set(key, entry);
    }
    return entry;
  }
}

// ---------------------------------------------------------------------------------------
// Deadlines and status codes

/**
 * Absolute deadline in epoch milliseconds (grpc-js's `Deadline` as a number; Infinity =
 * none). grpc-js compares it with the wall clock, so it is always taken from one.
 */
export type Deadline = number;

export function deadlineIn(ms: number, clock: Clock = systemClock): Deadline {
  return clock.now() + ms;
}

/** The earliest of the given deadlines; undefined entries are ignored; none → Infinity. */
export function minDeadline(...deadlines: Array<Deadline | Date | undefined>): Deadline {
  let earliest = Infinity;
  for (const d of deadlines) {
    if (d === undefined) continue;
    const ms = d instanceof Date ? d.getTime() : d;
    if (ms < earliest) earliest = ms;
  }
  return earliest;
}

/** Milliseconds until `deadline`, never negative. */
export function remainingMs(deadline: Deadline, clock: Clock = systemClock): number {
  return Math.max(0, deadline - clock.now());
}

/** The gRPC status code of a grpc-js ServiceError (numeric `code`); undefined otherwise. */
export function grpcCodeOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" && Number.isInteger(code) && code >= 0 && code <= 16 ? code : undefined;
}

/** "UNAVAILABLE", "DEADLINE_EXCEEDED"... for messages. */
export function statusName(code: number): string {
  return grpc.status[code] ?? `CODE_${code}`;
}

/** "UNAVAILABLE: <details>" for a grpc-js error, the message for anything else. */
export function describeGrpcError(err: unknown): string {
  const code = grpcCodeOf(err);
  if (code === undefined) return err instanceof Error ? err.message : String(err);
  const details = (err as { details?: unknown }).details;
  return typeof details === "string" && details !== "" ? `${statusName(code)}: ${details}` : statusName(code);
}
