// Who we are on the network: the advertise IP and the DNS-safe hostname the Go
// scheduler and manager accept (host.ip / host.hostname override both).
import { hostname as osHostname, networkInterfaces } from "node:os";
import { sanitizeHostname } from "../cluster/hostname.js";

export interface LocalIdentity {
  ip: string;
  hostname: string;
}

export function localIdentity(host: { ip: string; hostname: string }): LocalIdentity {
  return { ip: host.ip || advertiseIp(), hostname: sanitizeHostname(host.hostname || osHostname()) };
}

/** First non-internal IPv4, as dfdaemon's default advertise IP; loopback when there is none. */
function advertiseIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) if (addr.family === "IPv4" && !addr.internal) return addr.address;
  }
  return "127.0.0.1";
}
