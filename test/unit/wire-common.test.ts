// Wire tests, part 1: the hand encoder itself, the google.protobuf well-known types and
// grpc.health.v1. Expected bytes come from the protobuf encoding rules and the field
// tables in shared/reference/dragonfly-wire.md (§1, §3.8), never from proto/.
import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { Duration } from "../../src/gen/google/protobuf/duration.js";
import { Timestamp } from "../../src/gen/google/protobuf/timestamp.js";
import { Empty } from "../../src/gen/google/protobuf/empty.js";
import {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
} from "../../src/gen/grpc/health/v1/health.js";
import {
  WireType,
  assertWireRoundTrip,
  boolField,
  concat,
  doubleField,
  durationField,
  fixed32Field,
  fromHex,
  mapEntryField,
  packedVarints,
  stringField,
  tag,
  timestampField,
  toHex,
  unpackedVarints,
  varint,
  varintField,
} from "../support/protowire.js";

// §1: Duration / Timestamp = {1 seconds int64, 2 nanos int32}.
const SECONDS_NANOS = { seconds: 1, nanos: 2 } as const;
// §3.8 grpc.health.v1: HealthCheckRequest {1 service string}; HealthCheckResponse {1 status enum}.
const HEALTH_CHECK_REQUEST = { service: 1 } as const;
const HEALTH_CHECK_RESPONSE = { status: 1 } as const;

describe("hand encoder (test/support/protowire.ts) against known encodings", () => {
  test("varints match the protobuf encoding guide", () => {
    assert.equal(toHex(varint(0)), "00");
    assert.equal(toHex(varint(1)), "01");
    assert.equal(toHex(varint(127)), "7f");
    assert.equal(toHex(varint(128)), "80 01");
    assert.equal(toHex(varint(150)), "96 01");
    assert.equal(toHex(varint(300)), "ac 02");
    assert.equal(toHex(varint(2n ** 64n - 1n)), "ff ff ff ff ff ff ff ff ff 01");
    // int32 -1 is sign-extended to 64 bits: ten bytes.
    assert.equal(toHex(varint(-1)), "ff ff ff ff ff ff ff ff ff 01");
    assert.throws(() => varint(2n ** 64n), RangeError);
  });

  test("tags are varints of (field << 3) | wire type", () => {
    assert.equal(toHex(tag(1, WireType.VARINT)), "08");
    assert.equal(toHex(tag(1, WireType.LEN)), "0a");
    assert.equal(toHex(tag(5, WireType.LEN)), "2a");
    assert.equal(toHex(tag(15, WireType.LEN)), "7a");
    assert.equal(toHex(tag(16, WireType.VARINT)), "80 01");
    assert.equal(toHex(tag(27, WireType.VARINT)), "d8 01");
    assert.equal(toHex(tag(28, WireType.VARINT)), "e0 01");
    assert.equal(toHex(tag(29, WireType.VARINT)), "e8 01");
    assert.equal(toHex(tag(33, WireType.VARINT)), "88 02");
    assert.equal(toHex(tag(2, WireType.I64)), "11");
    assert.equal(toHex(tag(3, WireType.I32)), "1d");
  });

  test("fields match the protobuf encoding guide examples", () => {
    assert.equal(toHex(varintField(1, 150)), "08 96 01");
    assert.equal(toHex(stringField(2, "testing")), "12 07 74 65 73 74 69 6e 67");
    assert.equal(toHex(packedVarints(4, [3, 270, 86942])), "22 06 03 8e 02 9e a7 05");
    assert.equal(toHex(unpackedVarints(4, [3, 270])), "20 03 20 8e 02");
    assert.equal(toHex(boolField(13, true)), "68 01");
    assert.equal(toHex(boolField(13, false)), "68 00");
    assert.equal(toHex(doubleField(3, 1)), "19 00 00 00 00 00 00 f0 3f");
    assert.equal(toHex(fixed32Field(3, 1)), "1d 01 00 00 00");
    assert.equal(toHex(mapEntryField(9, "a", "b")), "4a 06 0a 01 61 12 01 62");
    assert.equal(toHex(stringField(5, "")), "2a 00");
    assert.equal(toHex(concat(fromHex("0a"), fromHex("0b 0c"))), "0a 0b 0c");
  });

  test("Duration/Timestamp bodies leave zero parts out", () => {
    assert.equal(toHex(durationField(12, 600n)), "62 03 08 d8 04");
    assert.equal(toHex(durationField(8, 0n, 0)), "42 00");
    assert.equal(toHex(durationField(8, 0n, 5)), "42 02 10 05");
    // 2026-07-27T10:11:12.345Z = 1785147072 s + 345 ms.
    assert.equal(
      toHex(timestampField(9, new Date("2026-07-27T10:11:12.345Z"))),
      toHex(concat(fromHex("4a 0c"), varintField(1, 1785147072), varintField(2, 345_000_000))),
    );
  });
});

describe("google.protobuf well-known types", () => {
  test("Duration: seconds #1 int64, nanos #2 int32", () => {
    const cost = Duration.fromPartial({ seconds: 1n, nanos: 250_000_000 });
    assertWireRoundTrip(
      Duration,
      cost,
      concat(varintField(SECONDS_NANOS.seconds, 1), varintField(SECONDS_NANOS.nanos, 250_000_000)),
    );
  });

  test("Duration: a negative span sign-extends both parts", () => {
    const back = Duration.fromPartial({ seconds: -2n, nanos: -500_000_000 });
    assertWireRoundTrip(
      Duration,
      back,
      concat(varintField(SECONDS_NANOS.seconds, -2), varintField(SECONDS_NANOS.nanos, -500_000_000)),
    );
  });

  test("Timestamp: seconds #1, nanos #2; the zero time is an empty body", () => {
    const at = Timestamp.fromPartial({ seconds: 1785147072n, nanos: 345_000_000 });
    assertWireRoundTrip(
      Timestamp,
      at,
      concat(varintField(SECONDS_NANOS.seconds, 1785147072), varintField(SECONDS_NANOS.nanos, 345_000_000)),
    );
    assertWireRoundTrip(Timestamp, Timestamp.fromPartial({}), new Uint8Array(0));
  });

  test("Empty has no fields and skips anything it is sent", () => {
    assertWireRoundTrip(Empty, Empty.fromPartial({}), new Uint8Array(0));
    assert.deepEqual(Empty.decode(concat(varintField(1, 7), stringField(2, "x"))), {});
  });
});

describe("grpc.health.v1", () => {
  test("HealthCheckRequest: service #1 string; the empty service name is omitted", () => {
    assertWireRoundTrip(
      HealthCheckRequest,
      HealthCheckRequest.fromPartial({ service: "scheduler.v2.Scheduler" }),
      stringField(HEALTH_CHECK_REQUEST.service, "scheduler.v2.Scheduler"),
    );
    // The whole-server check (service "") is an empty message on the wire.
    assertWireRoundTrip(HealthCheckRequest, HealthCheckRequest.fromPartial({ service: "" }), new Uint8Array(0));
  });

  test("HealthCheckResponse: status #1 enum (UNKNOWN=0 SERVING=1 NOT_SERVING=2 SERVICE_UNKNOWN=3)", () => {
    const cases: [HealthCheckResponse_ServingStatus, number][] = [
      [HealthCheckResponse_ServingStatus.SERVING, 1],
      [HealthCheckResponse_ServingStatus.NOT_SERVING, 2],
      [HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN, 3],
    ];
    for (const [status, wireValue] of cases) {
      assertWireRoundTrip(
        HealthCheckResponse,
        HealthCheckResponse.fromPartial({ status }),
        varintField(HEALTH_CHECK_RESPONSE.status, wireValue),
      );
    }
    // UNKNOWN is the proto3 default: nothing on the wire, and an empty body decodes to it.
    assertWireRoundTrip(
      HealthCheckResponse,
      HealthCheckResponse.fromPartial({ status: HealthCheckResponse_ServingStatus.UNKNOWN }),
      new Uint8Array(0),
    );
  });
});
