// Small helpers shared by the CLI contract tests (test/e2e/cli-*.test.ts): digests of
// what was served, a port nothing listens on, leftovers of a run in a directory, and a
// poll that gives up instead of hanging (re-exported from wait.ts).
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import net from "node:net";
import type { FakeOrigin, RecordedRequest } from "./origin.js";

export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

export async function sha256OfFile(path: string): Promise<string> {
  return sha256(await readFile(path));
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Files a run leaves beside its output: the resumable `.<name>.dfget.part` / `.json` /
 *  `.lock`, or an older random `.<name>.dfget-<random>.part`. Sorted. */
export async function partFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => /^\..*\.dfget([-.].*)?\.(part|json|lock)$/.test(name)).sort();
}

/** What a resumable failure (7, 18 cut short, 23, 28, 130, 143) keeps beside `out.bin`. */
export const KEPT_FOR_RESUME = [".out.bin.dfget.json", ".out.bin.dfget.part"];

/** A 127.0.0.1 port that was free a moment ago: connecting to it is refused. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export { waitFor } from "./wait.js";

/** Requests the origin recorded for one path (query string ignored). */
export function requestsFor(origin: FakeOrigin, path: string): RecordedRequest[] {
  return origin.requests.filter((r) => r.path.split("?")[0] === path);
}

/** CSI/OSC escapes and bare carriage returns: what must never reach a pipe uncoloured. */
export const ANSI_ESCAPE = /\x1b/;
export const CARRIAGE_RETURN = /\r/;

/** CRC-32/IEEE (zlib polynomial), written out here so the test does not trust src's library. */
export function crc32Decimal(data: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return String((crc ^ 0xffffffff) >>> 0);
}

export const TASK_ID = /^[0-9a-f]{64}$/;
