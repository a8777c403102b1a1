// The vortex TLV protocol that carries piece bytes between peers over TCP (client
// reference §5.2, wire spec §8.3; crate vortex-protocol 0.1.x). Pure codec: no sockets.
//
// Frame: packet id u8 (random) | tag u8 | value length u32 BE | value.
// One request per connection: DownloadPiece → PieceContent (+ raw bytes) or Error.
// All integers are big-endian. u64 offsets and lengths are JS numbers: a piece or file
// beyond 2^53-1 bytes cannot occur, and decoding rejects such values instead of rounding.
import { randomInt } from "node:crypto";
import { DfgetError } from "../errors.js";

export const VORTEX_HEADER_BYTES = 6;
export const VORTEX_TASK_ID_BYTES = 64;
/** DownloadPiece value: 64-byte task id + u32 piece number. */
export const VORTEX_DOWNLOAD_PIECE_VALUE_BYTES = VORTEX_TASK_ID_BYTES + 4;
/** Caps checked before anything is allocated; a real metadata block is ~100 bytes. */
export const VORTEX_MAX_METADATA_BYTES = 64 * 1024;
export const VORTEX_MAX_ERROR_MESSAGE_BYTES = 64 * 1024;
/** number, offset, length, digest len, parent id len, traffic type, cost, created_at. */
const METADATA_FIXED_BYTES = 4 + 8 + 8 + 4 + 4 + 1 + 8 + 8;

/** Tags 2–7 (persistent / cache pieces) are named so they are recognised, not served. */
export const VortexTag = {
  DownloadPiece: 0,
  PieceContent: 1,
  DownloadPersistentPiece: 2,
  PersistentPieceContent: 3,
  DownloadPersistentCachePiece: 4,
  PersistentCachePieceContent: 5,
  DownloadCachePiece: 6,
  CachePieceContent: 7,
  Close: 254,
  Error: 255,
} as const;
export type VortexTagValue = (typeof VortexTag)[keyof typeof VortexTag];

export const VortexErrorCode = { Unknown: 0, InvalidArgument: 1, NotFound: 2, Internal: 3 } as const;
export type VortexErrorCodeValue = (typeof VortexErrorCode)[keyof typeof VortexErrorCode];

const KNOWN_TAGS: ReadonlySet<number> = new Set(Object.values(VortexTag));
const TAG_NAMES = new Map<number, string>(Object.entries(VortexTag).map(([name, tag]) => [tag, name]));
const ERROR_CODE_NAMES = new Map<number, string>(Object.entries(VortexErrorCode).map(([name, c]) => [c, name]));

export function vortexTagName(tag: number): string {
  return TAG_NAMES.get(tag) ?? `tag ${tag}`;
}

export function vortexErrorCodeName(code: number): string {
  return ERROR_CODE_NAMES.get(code) ?? `code ${code}`;
}

/** What was wrong with the bytes; branch on this, never on the message. */
export type VortexProtocolFailure = "truncated" | "oversized" | "bad-tag" | "malformed" | "mismatch" | "encode";

/** Bytes on a vortex connection (or bytes we were asked to send) break the protocol. */
export class VortexProtocolError extends DfgetError {
  readonly reason: VortexProtocolFailure;
  constructor(reason: VortexProtocolFailure, message: string, options?: { cause?: unknown }) {
    super(message, "ERR_VORTEX_PROTOCOL", undefined, options);
    this.name = "VortexProtocolError";
    this.reason = reason;
  }
}

/** The other side answered with an Error frame; `vortexCode` is its code (2 = NotFound). */
export class VortexRemoteError extends DfgetError {
  readonly vortexCode: number;
  constructor(vortexCode: number, message: string) {
    super(message, "ERR_VORTEX_REMOTE");
    this.name = "VortexRemoteError";
    this.vortexCode = vortexCode;
  }
}

export function isVortexNotFound(err: unknown): boolean {
  return err instanceof VortexRemoteError && err.vortexCode === VortexErrorCode.NotFound;
}

export interface VortexHeader {
  packetId: number;
  tag: number;
  /** Length of the value that follows (PieceContent raw bytes are not counted). */
  length: number;
}

export interface PieceMetadata {
  number: number;
  /** u64 on the wire; safe integer here. */
  offset: number;
  /** u64 on the wire; safe integer here. The raw bytes that follow are exactly this long. */
  length: number;
  /** `crc32:<decimal>` from a Rust parent; may be empty. */
  digest: string;
  /** The serving peer's own parent peer id, or "". */
  parentId: string;
  /** common.v2.TrafficType; parents send REMOTE_PEER = 1. */
  trafficType: number;
  /** u64 seconds. */
  costSeconds: bigint;
  /** i64 Unix seconds. */
  createdAtSeconds: bigint;
}

const MAX_U32 = 0xffff_ffff;
const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function randomPacketId(): number {
  return randomInt(0, 256);
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw new VortexProtocolError("encode", `${what} ${value} is not a u32`);
  }
}

export function encodeHeader(tag: number, length: number, packetId: number = randomPacketId()): Buffer {
  if (!Number.isInteger(packetId) || packetId < 0 || packetId > 255) {
    throw new VortexProtocolError("encode", `packet id ${packetId} is not a u8`);
  }
  if (!KNOWN_TAGS.has(tag)) throw new VortexProtocolError("encode", `unknown vortex tag ${tag}`);
  checkU32(length, "value length");
  const header = Buffer.allocUnsafe(VORTEX_HEADER_BYTES);
  header.writeUInt8(packetId, 0);
  header.writeUInt8(tag, 1);
  header.writeUInt32BE(length, 2);
  return header;
}

/** Decodes the 6 header bytes; an unknown tag (8–253) is a protocol error. */
export function decodeHeader(bytes: Buffer): VortexHeader {
  if (bytes.length < VORTEX_HEADER_BYTES) {
    throw new VortexProtocolError("truncated", `vortex header: ${bytes.length} of ${VORTEX_HEADER_BYTES} bytes`);
  }
  const tag = bytes.readUInt8(1);
  if (!KNOWN_TAGS.has(tag)) throw new VortexProtocolError("bad-tag", `vortex header: unknown tag ${tag}`);
  return { packetId: bytes.readUInt8(0), tag, length: bytes.readUInt32BE(2) };
}

/** Task ids are 64 ASCII characters (lowercase sha256 hex); anything else cannot be sent. */
function taskIdBytes(taskId: string): Buffer {
  const bytes = Buffer.from(taskId, "latin1");
  if (taskId.length !== VORTEX_TASK_ID_BYTES || bytes.some((b) => b < 0x21 || b > 0x7e)) {
    throw new VortexProtocolError("encode", `task id must be ${VORTEX_TASK_ID_BYTES} printable ASCII characters, got ${JSON.stringify(taskId)}`);
  }
  return bytes;
}

/** A complete DownloadPiece frame: 6-byte header (length 68) + task id + piece number. 74 bytes. */
export function encodeDownloadPiece(taskId: string, pieceNumber: number, packetId?: number): Buffer {
  const id = taskIdBytes(taskId);
  checkU32(pieceNumber, "piece number");
  const frame = Buffer.allocUnsafe(VORTEX_HEADER_BYTES + VORTEX_DOWNLOAD_PIECE_VALUE_BYTES);
  encodeHeader(VortexTag.DownloadPiece, VORTEX_DOWNLOAD_PIECE_VALUE_BYTES, packetId).copy(frame, 0);
  id.copy(frame, VORTEX_HEADER_BYTES);
  frame.writeUInt32BE(pieceNumber, VORTEX_HEADER_BYTES + VORTEX_TASK_ID_BYTES);
  return frame;
}

export function decodeDownloadPiece(value: Buffer): { taskId: string; pieceNumber: number } {
  if (value.length !== VORTEX_DOWNLOAD_PIECE_VALUE_BYTES) {
    throw new VortexProtocolError("malformed", `DownloadPiece: value is ${value.length} bytes, expected ${VORTEX_DOWNLOAD_PIECE_VALUE_BYTES}`);
  }
  const id = value.subarray(0, VORTEX_TASK_ID_BYTES);
  if (id.some((b) => b < 0x21 || b > 0x7e)) {
    throw new VortexProtocolError("malformed", "DownloadPiece: task id is not printable ASCII");
  }
  return { taskId: id.toString("latin1"), pieceNumber: value.readUInt32BE(VORTEX_TASK_ID_BYTES) };
}

function encodeMetadata(meta: PieceMetadata): Buffer {
  checkU32(meta.number, "piece number");
  for (const [what, v] of [["offset", meta.offset], ["length", meta.length]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new VortexProtocolError("encode", `piece ${what} ${v} is not a safe u64`);
  }
  if (!Number.isInteger(meta.trafficType) || meta.trafficType < 0 || meta.trafficType > 255) {
    throw new VortexProtocolError("encode", `traffic type ${meta.trafficType} is not a u8`);
  }
  if (meta.costSeconds < 0n || meta.costSeconds > MAX_U64) throw new VortexProtocolError("encode", `cost ${meta.costSeconds} s is not a u64`);
  if (meta.createdAtSeconds < MIN_I64 || meta.createdAtSeconds > MAX_I64) {
    throw new VortexProtocolError("encode", `created_at ${meta.createdAtSeconds} is not an i64`);
  }
  const digest = Buffer.from(meta.digest, "utf8");
  const parentId = Buffer.from(meta.parentId, "utf8");
  const size = METADATA_FIXED_BYTES + digest.length + parentId.length;
  if (size > VORTEX_MAX_METADATA_BYTES) {
    throw new VortexProtocolError("encode", `piece metadata is ${size} bytes, above ${VORTEX_MAX_METADATA_BYTES}`);
  }
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt32BE(meta.number, 0);
  at = out.writeBigUInt64BE(BigInt(meta.offset), at);
  at = out.writeBigUInt64BE(BigInt(meta.length), at);
  at = out.writeUInt32BE(digest.length, at);
  at += digest.copy(out, at);
  at = out.writeUInt32BE(parentId.length, at);
  at += parentId.copy(out, at);
  at = out.writeUInt8(meta.trafficType, at);
  at = out.writeBigUInt64BE(meta.costSeconds, at);
  out.writeBigInt64BE(meta.createdAtSeconds, at);
  return out;
}

/**
 * Header (length 4+M) + M (u32) + metadata. The `meta.length` raw piece bytes are sent
 * after this, outside the framed length, by the caller.
 */
export function encodePieceContentHeader(meta: PieceMetadata, packetId?: number): Buffer {
  const metadata = encodeMetadata(meta);
  const header = encodeHeader(VortexTag.PieceContent, 4 + metadata.length, packetId);
  const size = Buffer.allocUnsafe(4);
  size.writeUInt32BE(metadata.length, 0);
  return Buffer.concat([header, size, metadata], VORTEX_HEADER_BYTES + 4 + metadata.length);
}

/** Reads the metadata fields; trailing bytes are ignored, as the Rust decoder does. */
export function decodePieceMetadata(buf: Buffer): PieceMetadata {
  let at = 0;
  const need = (n: number, what: string): void => {
    if (at + n > buf.length) {
      throw new VortexProtocolError("malformed", `piece metadata: ${what} needs ${n} bytes at offset ${at}, only ${buf.length - at} left`);
    }
  };
  const u64 = (what: string): number => {
    need(8, what);
    const v = buf.readBigUInt64BE(at);
    at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new VortexProtocolError("malformed", `piece metadata: ${what} ${v} exceeds 2^53-1`);
    return Number(v);
  };
  const text = (what: string): string => {
    need(4, `${what} length`);
    const n = buf.readUInt32BE(at);
    at += 4;
    need(n, what);
    const slice = buf.subarray(at, at + n);
    at += n;
    try {
      return strictUtf8.decode(slice);
    } catch (err) {
      throw new VortexProtocolError("malformed", `piece metadata: ${what} is not UTF-8`, { cause: err });
    }
  };
  need(4, "number");
  const number = buf.readUInt32BE(at);
  at += 4;
  const offset = u64("offset");
  const length = u64("length");
  const digest = text("digest");
  const parentId = text("parent id");
  need(1 + 8 + 8, "traffic type, cost and created_at");
  const trafficType = buf.readUInt8(at);
  const costSeconds = buf.readBigUInt64BE(at + 1);
  const createdAtSeconds = buf.readBigInt64BE(at + 9);
  return { number, offset, length, digest, parentId, trafficType, costSeconds, createdAtSeconds };
}

/** A PieceContent value: M (u32) then exactly M metadata bytes. */
export function decodePieceContentValue(value: Buffer): PieceMetadata {
  if (value.length < 4) throw new VortexProtocolError("malformed", `PieceContent: value is ${value.length} bytes`);
  const size = value.readUInt32BE(0);
  if (value.length !== 4 + size) {
    throw new VortexProtocolError("malformed", `PieceContent: metadata length ${size} does not match value length ${value.length}`);
  }
  return decodePieceMetadata(value.subarray(4));
}

/** A complete Error frame: header + code u8 + UTF-8 message. */
export function encodeError(code: number, message: string, packetId?: number): Buffer {
  if (!Number.isInteger(code) || code < 0 || code > 255) throw new VortexProtocolError("encode", `error code ${code} is not a u8`);
  // Cut an overlong message rather than refuse to report the error (readers cap at this size).
  const text = Buffer.from(message, "utf8").subarray(0, VORTEX_MAX_ERROR_MESSAGE_BYTES);
  const header = encodeHeader(VortexTag.Error, 1 + text.length, packetId);
  return Buffer.concat([header, Buffer.of(code), text]);
}

/** An Error value. Unknown codes are kept as numbers (they still mean failure). */
export function decodeError(value: Buffer): { code: number; message: string } {
  if (value.length < 1) throw new VortexProtocolError("malformed", "Error: empty value");
  return { code: value.readUInt8(0), message: value.subarray(1).toString("utf8") };
}

/** Accepted value lengths per tag; a frame whose tag is not listed is refused. */
export type VortexFrameLimits = ReadonlyMap<number, { min: number; max: number }>;

/** What a client accepts in answer to DownloadPiece. */
export const PIECE_RESPONSE_LIMITS: VortexFrameLimits = new Map([
  [VortexTag.PieceContent, { min: 4 + METADATA_FIXED_BYTES, max: 4 + VORTEX_MAX_METADATA_BYTES }],
  [VortexTag.Error, { min: 1, max: 1 + VORTEX_MAX_ERROR_MESSAGE_BYTES }],
]);

/** What a piece server accepts as a request. */
export const PIECE_REQUEST_LIMITS: VortexFrameLimits = new Map([
  [VortexTag.DownloadPiece, { min: VORTEX_DOWNLOAD_PIECE_VALUE_BYTES, max: VORTEX_DOWNLOAD_PIECE_VALUE_BYTES }],
]);

export interface VortexFrame extends VortexHeader {
  value: Buffer;
}

/**
 * Pulls exact byte counts out of a chunk stream (a net.Socket is one). Bytes left over
 * after the last read stay unread. A source that ends early gives a "truncated" error;
 * a source that throws (socket reset, our own deadline) passes its error through.
 */
export class VortexReader {
  private readonly source: AsyncIterator<Uint8Array>;
  private pending: Buffer = Buffer.alloc(0);

  constructor(source: AsyncIterable<Uint8Array>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** Header, tag and length checks against `limits` happen before the value is allocated. */
  async readFrame(limits: VortexFrameLimits): Promise<VortexFrame> {
    const header = decodeHeader(await this.readExact(VORTEX_HEADER_BYTES, "vortex header"));
    const name = vortexTagName(header.tag);
    const limit = limits.get(header.tag);
    if (!limit) throw new VortexProtocolError("bad-tag", `unexpected ${name} frame`);
    if (header.length > limit.max) {
      throw new VortexProtocolError("oversized", `${name} frame claims ${header.length} bytes, limit ${limit.max}`);
    }
    if (header.length < limit.min) {
      throw new VortexProtocolError("malformed", `${name} frame claims ${header.length} bytes, minimum ${limit.min}`);
    }
    return { ...header, value: await this.readExact(header.length, `${name} value`) };
  }

  async readExact(byteCount: number, what: string): Promise<Buffer> {
    const out = Buffer.allocUnsafe(byteCount);
    await this.readInto(out, what);
    return out;
  }

  /**
   * Hands the next `byteCount` bytes to `onChunk` as they arrive, in the stream's own
   * chunks (no copy), each awaited before the next is read. Bytes past them stay unread.
   */
  async readChunks(byteCount: number, what: string, onChunk: (chunk: Buffer) => Promise<void> | void): Promise<void> {
    let done = 0;
    while (done < byteCount) {
      if (this.pending.length === 0) {
        const next = await this.source.next();
        if (next.done) throw new VortexProtocolError("truncated", `${what}: stream ended after ${done} of ${byteCount} bytes`);
        const chunk = next.value;
        this.pending = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        continue;
      }
      const n = Math.min(this.pending.length, byteCount - done);
      const chunk = this.pending.subarray(0, n);
      this.pending = this.pending.subarray(n);
      done += n;
      await onChunk(chunk);
    }
  }

  /** Fills `target` completely, copying each chunk once. */
  async readInto(target: Buffer, what: string): Promise<void> {
    let filled = 0;
    while (filled < target.length) {
      if (this.pending.length === 0) {
        const next = await this.source.next();
        if (next.done) {
          throw new VortexProtocolError("truncated", `${what}: stream ended after ${filled} of ${target.length} bytes`);
        }
        const chunk = next.value;
        this.pending = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        continue;
      }
      const n = Math.min(this.pending.length, target.length - filled);
      this.pending.copy(target, filled, 0, n);
      this.pending = this.pending.subarray(n);
      filled += n;
    }
  }
}
