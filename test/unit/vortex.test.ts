import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  VortexErrorCode,
  VortexProtocolError,
  VortexReader,
  VortexTag,
  PIECE_REQUEST_LIMITS,
  PIECE_RESPONSE_LIMITS,
  decodeDownloadPiece,
  decodeError,
  decodeHeader,
  decodePieceContentValue,
  decodePieceMetadata,
  encodeDownloadPiece,
  encodeError,
  encodePieceContentHeader,
  type PieceMetadata,
} from "../../src/transport/vortex-codec.js";

const TASK_ID = "0123456789abcdef".repeat(4);
// "0123456789abcdef" as ASCII bytes.
const TASK_ID_HEX = "30313233343536373839616263646566".repeat(4);

async function* chunks(...parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield part;
}

/** Yields the parts, then never ends: a reader that wants more would hang. */
async function* stalled(...parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield part;
  await new Promise<never>(() => {});
}

function reasonOf(err: unknown): string {
  assert.ok(err instanceof VortexProtocolError, `expected VortexProtocolError, got ${String(err)}`);
  assert.equal(err.code, "ERR_VORTEX_PROTOCOL");
  return err.reason;
}

/** Runs fn while recording the largest Buffer allocation requested. */
async function largestAllocationDuring(fn: () => Promise<unknown>): Promise<number> {
  const { alloc, allocUnsafe } = Buffer;
  let largest = 0;
  Buffer.alloc = ((size: number, ...rest: never[]) => {
    largest = Math.max(largest, size);
    return alloc(size, ...rest);
  }) as typeof Buffer.alloc;
  Buffer.allocUnsafe = ((size: number) => {
    largest = Math.max(largest, size);
    return allocUnsafe(size);
  }) as typeof Buffer.allocUnsafe;
  try {
    await fn().catch(() => {});
  } finally {
    Buffer.alloc = alloc;
    Buffer.allocUnsafe = allocUnsafe;
  }
  return largest;
}

describe("DownloadPiece", () => {
  test("encodes byte-exact: id, tag 0, length 68, 64 ASCII task id, piece u32 BE", () => {
    const frame = encodeDownloadPiece(TASK_ID, 5, 0x2a);
    assert.equal(frame.length, 74);
    assert.equal(frame.toString("hex"), "2a" + "00" + "00000044" + TASK_ID_HEX + "00000005");
  });

  test("a large piece number is written big-endian", () => {
    const frame = encodeDownloadPiece(TASK_ID, 0x01020304, 0);
    assert.equal(frame.subarray(70).toString("hex"), "01020304");
  });

  test("decodes its own value", () => {
    const frame = encodeDownloadPiece(TASK_ID, 4294967295, 7);
    assert.deepEqual(decodeHeader(frame), { packetId: 7, tag: VortexTag.DownloadPiece, length: 68 });
    assert.deepEqual(decodeDownloadPiece(frame.subarray(6)), { taskId: TASK_ID, pieceNumber: 4294967295 });
  });

  test("a random packet id is a u8", () => {
    for (let i = 0; i < 20; i++) {
      const id = encodeDownloadPiece(TASK_ID, 0)[0]!;
      assert.ok(id >= 0 && id <= 255);
    }
  });

  test("refuses task ids that are not 64 ASCII characters and bad piece numbers", () => {
    assert.equal(reasonOf(catchSync(() => encodeDownloadPiece(TASK_ID.slice(1), 0))), "encode");
    assert.equal(reasonOf(catchSync(() => encodeDownloadPiece(TASK_ID + "0", 0))), "encode");
    assert.equal(reasonOf(catchSync(() => encodeDownloadPiece("é" + TASK_ID.slice(1), 0))), "encode");
    assert.equal(reasonOf(catchSync(() => encodeDownloadPiece(TASK_ID, -1))), "encode");
    assert.equal(reasonOf(catchSync(() => encodeDownloadPiece(TASK_ID, 2 ** 32))), "encode");
    assert.equal(reasonOf(catchSync(() => encodeDownloadPiece(TASK_ID, 1.5))), "encode");
  });

  test("decoding refuses a value of the wrong size", () => {
    assert.equal(reasonOf(catchSync(() => decodeDownloadPiece(Buffer.alloc(67, 0x61)))), "malformed");
  });
});

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail("expected a throw");
}

describe("PieceContent", () => {
  const meta: PieceMetadata = {
    number: 3,
    offset: 8 * 1024 * 1024,
    length: 4 * 1024 * 1024,
    digest: "crc32:1475635037",
    parentId: "",
    trafficType: 1,
    costSeconds: 2n,
    createdAtSeconds: 1_700_000_000n,
  };
  const expectedHex =
    "07" + "01" + "00000041" + // header: id 7, tag 1, value 4 + 61
    "0000003d" + // metadata length 61
    "00000003" + // number
    "0000000000800000" + // offset 8 MiB
    "0000000000400000" + // length 4 MiB
    "00000010" + "63726333323a31343735363335303337" + // "crc32:1475635037"
    "00000000" + // parent id ""
    "01" + // traffic type REMOTE_PEER
    "0000000000000002" + // cost 2 s
    "000000006553f100"; // created_at 1700000000

  test("header + metadata are byte-exact", () => {
    assert.equal(encodePieceContentHeader(meta, 7).toString("hex"), expectedHex);
  });

  test("hand-written bytes decode to the metadata", () => {
    const frame = Buffer.from(expectedHex, "hex");
    assert.deepEqual(decodeHeader(frame), { packetId: 7, tag: VortexTag.PieceContent, length: 65 });
    assert.deepEqual(decodePieceContentValue(frame.subarray(6)), meta);
  });

  test("parent id, negative created_at and large values round-trip", () => {
    const other: PieceMetadata = {
      ...meta,
      number: 4294967295,
      offset: Number.MAX_SAFE_INTEGER,
      parentId: "127.0.0.1-parent-6f1c-seed",
      digest: "",
      costSeconds: (1n << 64n) - 1n,
      createdAtSeconds: -5n,
    };
    const frame = encodePieceContentHeader(other);
    assert.deepEqual(decodePieceContentValue(frame.subarray(6)), other);
  });

  test("an offset beyond 2^53-1 is refused, not rounded", () => {
    const value = Buffer.from(expectedHex, "hex").subarray(6);
    value.writeBigUInt64BE(1n << 60n, 8);
    assert.equal(reasonOf(catchSync(() => decodePieceContentValue(value))), "malformed");
  });

  test("a digest length past the end is malformed", () => {
    const metadata = Buffer.from(expectedHex, "hex").subarray(10);
    metadata.writeUInt32BE(1000, 20);
    assert.equal(reasonOf(catchSync(() => decodePieceMetadata(metadata))), "malformed");
  });

  test("a metadata length that disagrees with the value is malformed", () => {
    const value = Buffer.from(expectedHex, "hex").subarray(6);
    value.writeUInt32BE(60, 0);
    assert.equal(reasonOf(catchSync(() => decodePieceContentValue(value))), "malformed");
  });
});

describe("Error frames", () => {
  test("encode byte-exact: tag 255, code u8, UTF-8 message", () => {
    const frame = encodeError(VortexErrorCode.NotFound, "piece x not found", 0x10);
    assert.equal(frame.toString("hex"), "10" + "ff" + "00000012" + "02" + "7069656365207820" + "6e6f7420666f756e64");
  });

  test("decode code and message", () => {
    assert.deepEqual(decodeError(Buffer.from("03626f6f6d", "hex")), { code: 3, message: "boom" });
    assert.equal(reasonOf(catchSync(() => decodeError(Buffer.alloc(0)))), "malformed");
  });
});

describe("VortexReader", () => {
  test("reads a frame split into 1-byte chunks", async () => {
    const frame = encodeError(VortexErrorCode.Internal, "x", 1);
    const reader = new VortexReader(chunks(...[...frame].map((b) => Buffer.of(b))));
    const got = await reader.readFrame(PIECE_RESPONSE_LIMITS);
    assert.equal(got.tag, VortexTag.Error);
    assert.deepEqual(decodeError(got.value), { code: 3, message: "x" });
  });

  test("a truncated header is a clear error", async () => {
    const reader = new VortexReader(chunks(Buffer.from("0101000000", "hex")));
    const err = await reader.readFrame(PIECE_RESPONSE_LIMITS).catch((e: unknown) => e);
    assert.equal(reasonOf(err), "truncated");
    assert.match((err as Error).message, /5 of 6 bytes/);
  });

  test("a truncated value is a clear error", async () => {
    const frame = encodePieceContentHeader({
      number: 0, offset: 0, length: 1, digest: "", parentId: "", trafficType: 1, costSeconds: 0n, createdAtSeconds: 0n,
    });
    const reader = new VortexReader(chunks(frame.subarray(0, 20)));
    assert.equal(reasonOf(await reader.readFrame(PIECE_RESPONSE_LIMITS).catch((e: unknown) => e)), "truncated");
  });

  test("a header claiming 4 GiB is refused before allocating or reading on", async () => {
    const header = Buffer.from("0001ffffffff", "hex");
    let err: unknown;
    const largest = await largestAllocationDuring(async () => {
      err = await new VortexReader(stalled(header)).readFrame(PIECE_RESPONSE_LIMITS).catch((e: unknown) => e);
    });
    assert.equal(reasonOf(err), "oversized");
    assert.ok(largest >= 6, "the allocation spy saw the header read");
    assert.ok(largest < 1024 * 1024, `allocated ${largest} bytes`);
  });

  test("a request frame must be exactly 68 bytes", async () => {
    const err = await new VortexReader(stalled(Buffer.from("000000000045", "hex"))).readFrame(PIECE_REQUEST_LIMITS).catch((e: unknown) => e);
    assert.equal(reasonOf(err), "oversized");
    const short = await new VortexReader(stalled(Buffer.from("000000000043", "hex"))).readFrame(PIECE_REQUEST_LIMITS).catch((e: unknown) => e);
    assert.equal(reasonOf(short), "malformed");
  });

  test("a garbage tag is refused", async () => {
    const err = await new VortexReader(stalled(Buffer.from("0080000000ff", "hex"))).readFrame(PIECE_RESPONSE_LIMITS).catch((e: unknown) => e);
    assert.equal(reasonOf(err), "bad-tag");
    assert.match((err as Error).message, /unknown tag 128/);
  });

  test("a known tag that is not expected here is refused", async () => {
    const frame = encodeDownloadPiece(TASK_ID, 1);
    const err = await new VortexReader(chunks(frame)).readFrame(PIECE_RESPONSE_LIMITS).catch((e: unknown) => e);
    assert.equal(reasonOf(err), "bad-tag");
    assert.match((err as Error).message, /DownloadPiece/);
  });

  test("readInto leaves bytes after the target unread", async () => {
    const reader = new VortexReader(chunks(Buffer.from("aabbcc", "hex"), Buffer.from("ddeeff", "hex")));
    const first = Buffer.alloc(4);
    await reader.readInto(first, "x");
    assert.equal(first.toString("hex"), "aabbccdd");
    assert.equal((await reader.readExact(2, "y")).toString("hex"), "eeff");
  });
});
