// What one bench run shares between its figures: the knobs (environment), the tools that
// are installed, the test files (random bytes, in memory for the seed parents and on disk
// for the origin), the origin, and a scratch directory that is deleted at the end.
import { createReadStream } from "node:fs";
import { stat, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import type { BenchOrigin } from "./origin.js";

export const MiB = 1024 * 1024;

export interface Knobs {
  runs: number;
  /** Size of the big file (figures 1, 2, 3, 6). */
  size: number;
  /** Size of the small file of the memory figure. */
  smallSize: number;
  /** Size of the file of the failover-cost figure. */
  failoverSize: number;
  /** scheduler.connectTimeout given to the failover runs, in ms. */
  connectTimeoutMs: number;
  quick: boolean;
}

export class KnobError extends Error {
  override name = "KnobError";
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new KnobError(`${name}=${text}: expected a positive integer`);
  return value;
}

export function knobsFrom(env: NodeJS.ProcessEnv): Knobs {
  const quick = env.BENCH_QUICK === "1";
  const runs = positiveInt(env, "BENCH_RUNS", quick ? 1 : 5);
  const size = positiveInt(env, "BENCH_SIZE_MIB", quick ? 64 : 1024) * MiB;
  // Files of 4 MiB and less skip the cluster, so every size stays above that.
  if (size <= 8 * MiB) throw new KnobError(`BENCH_SIZE_MIB=${size / MiB}: must be more than 8`);
  const smallSize = size > 64 * MiB ? 64 * MiB : Math.max(8 * MiB, Math.floor(size / 4 / MiB) * MiB);
  return { runs, size, smallSize, failoverSize: 8 * MiB, connectTimeoutMs: 2000, quick };
}

export interface Tools {
  curl: string | undefined;
  aria2c: string | undefined;
  nginx: string | undefined;
}

export interface TestFile {
  /** URL path on the origin, e.g. "/large.bin". */
  path: string;
  content: Buffer;
}

export interface BenchContext {
  knobs: Knobs;
  tools: Tools;
  /** Scratch directory of this run (outputs, state dirs, origin files). */
  work: string;
  large: TestFile;
  small: TestFile;
  failover: TestFile;
  /** One byte: the start-up figure's smallest real download. */
  oneByte: TestFile;
  origin: BenchOrigin;
  log(line: string): void;
}

/** Deadline for one download of `bytes`: generous (4 MiB/s) but finite. */
export function deadlineFor(bytes: number): number {
  return 60_000 + Math.ceil(bytes / (4 * MiB)) * 1000;
}

/** Random, so no layer can compress or dedupe it. */
export function makeContent(bytes: number): Buffer {
  const chunk = 256 * MiB;
  if (bytes <= chunk) return randomBytes(bytes);
  const out = Buffer.allocUnsafe(bytes);
  for (let offset = 0; offset < bytes; offset += chunk) randomBytes(Math.min(chunk, bytes - offset)).copy(out, offset);
  return out;
}

export class OutputError extends Error {
  override name = "OutputError";
}

/** Throws unless `path` holds exactly `bytes` bytes; then deletes it. */
export async function checkAndRemove(label: string, path: string, bytes: number): Promise<void> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    throw new OutputError(`${label}: no output file at ${path}`);
  }
  await unlink(path);
  if (size !== bytes) throw new OutputError(`${label}: wrote ${size} bytes, expected ${bytes}`);
}

/** Throws unless the file at `path` holds exactly `content` (streamed, compared chunk by chunk). */
export async function checkSameBytes(label: string, path: string, content: Buffer): Promise<void> {
  let offset = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB }) as AsyncIterable<Buffer>) {
    if (offset + chunk.length > content.length || !chunk.equals(content.subarray(offset, offset + chunk.length))) {
      throw new OutputError(`${label}: output differs from the origin's file near byte ${offset}`);
    }
    offset += chunk.length;
  }
  if (offset !== content.length) throw new OutputError(`${label}: output has ${offset} bytes, expected ${content.length}`);
}
