// "host:port" strings as the rest of dfget writes them: IPv4 "10.0.0.1:8002", IPv6
// "[fd00::1]:8002", or a DNS name "scheduler.local:8002". grpc-js accepts all three as a
// channel target; the raw TCP pre-classification in health.ts needs them split.
import { isIP } from "node:net";

export interface HostPort {
  host: string;
  port: number;
}

/** Splits "host:port" / "[v6]:port". Returns undefined when the string is not one. */
export function splitHostPort(addr: string): HostPort | undefined {
  let host: string;
  let portText: string;
  if (addr.startsWith("[")) {
    const close = addr.indexOf("]");
    if (close < 0 || addr[close + 1] !== ":") return undefined;
    host = addr.slice(1, close);
    portText = addr.slice(close + 2);
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = addr.lastIndexOf(":");
    if (colon <= 0) return undefined;
    host = addr.slice(0, colon);
    portText = addr.slice(colon + 1);
    // A bare IPv6 literal without brackets is ambiguous ("fd00::1:8002").
    if (host.includes(":")) return undefined;
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** "ip:port", with brackets around an IPv6 address. */
export function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
