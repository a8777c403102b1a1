// A tiny, independent protobuf wire encoder for the wire tests.
//
// The wire tests build their expected bytes with these helpers from the field tables in
// shared/reference/dragonfly-wire.md (§1 wire basics, §3 messages), never with the
// generated code or @bufbuild/protobuf. That way a wrong field number or type in proto/
// shows up as a byte difference instead of being "confirmed" by the code it generated.
import assert from "node:assert/strict";

/** Protobuf wire types (proto3 uses no groups). */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

const UINT64_LIMIT = 1n << 64n;

/**
 * Base-128 varint. Negative numbers are taken as int32/int64 and sign-extended to 64 bits,
 * which is why a negative int32 costs ten bytes on the wire.
 */
export function varint(value: number | bigint): Uint8Array {
  let remaining = typeof value === "bigint" ? value : BigInt(value);
  if (remaining < 0n) remaining = BigInt.asUintN(64, remaining);
  if (remaining >= UINT64_LIMIT) throw new RangeError(`varint out of range: ${value}`);
  const out: number[] = [];
  while (remaining >= 0x80n) {
    out.push(Number(remaining & 0x7fn) | 0x80);
    remaining >>= 7n;
  }
  out.push(Number(remaining));
  return Uint8Array.from(out);
}

/** Field key: varint of (field << 3) | wireType. */
export function tag(field: number, wireType: WireType): Uint8Array {
  if (!Number.isInteger(field) || field < 1) throw new RangeError(`bad field number ${field}`);
  return varint((BigInt(field) << 3n) | BigInt(wireType));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** uint32/uint64/int32/int64/enum field (always emitted: callers decide presence). */
export function varintField(field: number, value: number | bigint): Uint8Array {
  return concat(tag(field, WireType.VARINT), varint(value));
}

export function boolField(field: number, value: boolean): Uint8Array {
  return varintField(field, value ? 1 : 0);
}

/** A LEN field carrying raw bytes (bytes fields, sub-messages, packed runs). */
export function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  return concat(tag(field, WireType.LEN), varint(payload.length), payload);
}

export function stringField(field: number, value: string): Uint8Array {
  return lengthDelimited(field, new TextEncoder().encode(value));
}

/** A sub-message: its own fields (already encoded) wrapped in one LEN field. */
export function messageField(field: number, ...fields: Uint8Array[]): Uint8Array {
  return lengthDelimited(field, concat(...fields));
}

/** proto3 default for repeated scalars: one LEN field holding the varints back to back. */
export function packedVarints(field: number, values: readonly (number | bigint)[]): Uint8Array {
  return lengthDelimited(field, concat(...values.map((value) => varint(value))));
}

/** The same repeated scalar, one key per element (legal input a decoder must accept). */
export function unpackedVarints(field: number, values: readonly (number | bigint)[]): Uint8Array {
  return concat(...values.map((value) => varintField(field, value)));
}

/** map<string,string> entry = repeated message {1 key string, 2 value string}. */
export function mapEntryField(field: number, key: string, value: string): Uint8Array {
  return messageField(field, stringField(1, key), stringField(2, value));
}

/** double = 8 bytes little-endian IEEE 754 under wire type I64. */
export function doubleField(field: number, value: number): Uint8Array {
  const payload = new Uint8Array(8);
  new DataView(payload.buffer).setFloat64(0, value, true);
  return concat(tag(field, WireType.I64), payload);
}

export function fixed32Field(field: number, value: number): Uint8Array {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setUint32(0, value, true);
  return concat(tag(field, WireType.I32), payload);
}

/**
 * google.protobuf.Duration / Timestamp body = {1 seconds int64, 2 nanos int32}; both are
 * plain proto3 scalars, so zero parts are left out (an all-zero value is an empty body).
 */
function secondsNanos(seconds: bigint, nanos: number): Uint8Array {
  return concat(
    seconds !== 0n ? varintField(1, seconds) : new Uint8Array(0),
    nanos !== 0 ? varintField(2, nanos) : new Uint8Array(0),
  );
}

export function durationField(field: number, seconds: bigint, nanos = 0): Uint8Array {
  return lengthDelimited(field, secondsNanos(seconds, nanos));
}

/** A Timestamp field for a JS Date (millisecond precision, so nanos = ms * 1e6). */
export function timestampField(field: number, at: Date): Uint8Array {
  const millis = at.getTime();
  const seconds = Math.floor(millis / 1000);
  const nanos = (millis - seconds * 1000) * 1_000_000;
  return lengthDelimited(field, secondsNanos(BigInt(seconds), nanos));
}

/** Space-separated lowercase hex, so a failing comparison shows a readable byte diff. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(" ");
}

/** Inverse of toHex; spaces are optional. */
export function fromHex(hex: string): Uint8Array {
  const digits = hex.replace(/\s+/g, "");
  if (digits.length % 2 !== 0 || /[^0-9a-f]/i.test(digits)) throw new Error(`bad hex: ${hex}`);
  return Uint8Array.from(digits.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/** The part of a ts-proto MessageFns these checks need. */
export interface WireCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** Generated encoder output must equal the hand-built bytes exactly. */
export function assertEncodesTo<T>(codec: WireCodec<T>, message: T, expected: Uint8Array): void {
  assert.equal(toHex(codec.encode(message).finish()), toHex(expected));
}

/** Both directions: encode(message) === expected, and decode(expected) deep-equals message. */
export function assertWireRoundTrip<T>(codec: WireCodec<T>, message: T, expected: Uint8Array): void {
  assertEncodesTo(codec, message, expected);
  assert.deepEqual(codec.decode(expected), message);
}
