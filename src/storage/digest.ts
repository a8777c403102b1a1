// Whole-file digests (--digest) and per-piece digests. Piece digests must be exactly the
// strings a Rust parent puts in PieceContent metadata (`crc32:<decimal u32>`, crc32fast =
// CRC-32/IEEE, the zlib polynomial), since they are compared as strings.
import { createHash, type Hash } from "node:crypto";
import { open } from "node:fs/promises";
import { crc32 } from "./crc32.js";
import type { IHasher } from "./blake3.js";
import { UsageError } from "../errors.js";

export type DigestAlgorithm = "sha256" | "sha512" | "crc32" | "blake3";

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lowercase hex, or the decimal u32 for crc32 (no leading zeros). */
  value: string;
}

/** An incremental hash whose `digest()` is "alg:value", comparable to `formatDigest`. */
export interface Hasher {
  update(buf: Buffer): void;
  digest(): string;
}

const HEX_LENGTH: Record<Exclude<DigestAlgorithm, "crc32">, number> = {
  sha256: 64,
  sha512: 128,
  blake3: 64,
};
const MAX_U32 = 4294967295;

function isDigestAlgorithm(name: string): name is DigestAlgorithm {
  return name === "sha256" || name === "sha512" || name === "crc32" || name === "blake3";
}

/**
 * Parses `ALG:VALUE`. Algorithm names and hex are accepted in any case and returned in
 * lowercase (our own comparison is then exact); crc32 is Dragonfly's decimal form, any
 * u32 (Dragonfly itself insists on exactly 10 digits; we do not).
 */
export function parseDigest(s: string): ParsedDigest {
  const colon = s.indexOf(":");
  if (colon < 0) throw new UsageError(`invalid digest "${s}": expected ALG:VALUE, e.g. sha256:<64 hex>`);
  const name = s.slice(0, colon).toLowerCase();
  const raw = s.slice(colon + 1);
  if (!isDigestAlgorithm(name)) {
    throw new UsageError(`invalid digest "${s}": unknown algorithm "${s.slice(0, colon)}" (use sha256, sha512, crc32 or blake3)`);
  }
  if (name === "crc32") {
    if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) > MAX_U32) {
      throw new UsageError(`invalid digest "${s}": crc32 must be a decimal number from 0 to ${MAX_U32}`);
    }
    return { algorithm: name, value: String(Number(raw)) };
  }
  const length = HEX_LENGTH[name];
  const value = raw.toLowerCase();
  if (value.length !== length || !/^[0-9a-f]+$/.test(value)) {
    throw new UsageError(`invalid digest "${s}": ${name} must be ${length} hex characters`);
  }
  return { algorithm: name, value };
}

/** "alg:value", the form every Hasher produces. */
export function formatDigest(d: ParsedDigest): string {
  return `${d.algorithm}:${d.value}`;
}

class NodeHasher implements Hasher {
  private readonly hash: Hash;
  constructor(private readonly algorithm: "sha256" | "sha512") {
    this.hash = createHash(algorithm);
  }
  update(buf: Buffer): void {
    this.hash.update(buf);
  }
  digest(): string {
    return `${this.algorithm}:${this.hash.digest("hex")}`;
  }
}

class Crc32Hasher implements Hasher {
  private state = 0;
  update(buf: Buffer): void {
    this.state = crc32(buf, this.state);
  }
  digest(): string {
    return `crc32:${this.state >>> 0}`;
  }
}

// blake3: see blake3.ts.
class Blake3StreamHasher implements Hasher {
  constructor(private readonly hash: IHasher) {}
  update(buf: Buffer): void {
    this.hash.update(buf);
  }
  digest(): string {
    return `blake3:${this.hash.digest("hex")}`;
  }
}

/**
 * An incremental hasher; async because blake3's WebAssembly module loads on first use
 * (and its code is imported only then: compiling it cost every run's start-up).
 */
export async function createHasher(algorithm: DigestAlgorithm): Promise<Hasher> {
  switch (algorithm) {
    case "sha256":
    case "sha512":
      return new NodeHasher(algorithm);
    case "crc32":
      return new Crc32Hasher();
    case "blake3":
      return new Blake3StreamHasher(await (await import("./blake3.js")).createBlake3Hash());
  }
}

/** The piece digest, incrementally: for bytes hashed as they stream in. */
export function createCrc32Hasher(): Hasher {
  return new Crc32Hasher();
}

/** The digest a Rust parent reports for a piece: `crc32:<decimal u32>`. */
export function pieceDigest(buf: Buffer): string {
  return `crc32:${crc32(buf) >>> 0}`;
}

const HASH_READ_SIZE = 4 * 1024 * 1024;

/** Streams the file through the hasher with large reads; resolves to "alg:value". */
export async function hashFile(path: string, algorithm: DigestAlgorithm): Promise<string> {
  const hasher = await createHasher(algorithm);
  const file = await open(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(HASH_READ_SIZE);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      // Every hasher consumes the bytes synchronously, so the buffer can be reused.
      hasher.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hasher.digest();
}
