// Wire tests, part 3: the AnnouncePeerRequest members a peer sends after registering
// (piece and peer progress), with common.v2.Piece and errordetails.v2. Expected bytes are
// built by hand from shared/reference/dragonfly-wire.md §3.4, §3.5, §3.8 and §5.8.
import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { Piece, TrafficType } from "../../src/gen/common/v2/common.js";
import {
  AnnouncePeerRequest,
  DownloadPeerBackToSourceFailedRequest,
  DownloadPeerBackToSourceFinishedRequest,
  DownloadPeerBackToSourceStartedRequest,
  DownloadPeerFailedRequest,
  DownloadPeerFinishedRequest,
  DownloadPeerStartedRequest,
  DownloadPieceBackToSourceFailedRequest,
  DownloadPieceBackToSourceFinishedRequest,
  DownloadPieceFailedRequest,
  DownloadPieceFinishedRequest,
} from "../../src/gen/scheduler/v2/scheduler.js";
import {
  assertWireRoundTrip,
  boolField,
  concat,
  durationField,
  lengthDelimited,
  mapEntryField,
  messageField,
  stringField,
  timestampField,
  varintField,
} from "../support/protowire.js";

// §3.5 AnnouncePeerRequest: three ids, then the `request` oneof members 4..15.
const ANNOUNCE_PEER_REQUEST = {
  hostId: 1, taskId: 2, peerId: 3,
  downloadPeerStartedRequest: 5, downloadPeerBackToSourceStartedRequest: 6,
  downloadPeerFinishedRequest: 8, downloadPeerBackToSourceFinishedRequest: 9,
  downloadPeerFailedRequest: 10, downloadPeerBackToSourceFailedRequest: 11,
  downloadPieceFinishedRequest: 12, downloadPieceBackToSourceFinishedRequest: 13,
  downloadPieceFailedRequest: 14, downloadPieceBackToSourceFailedRequest: 15,
} as const;
// §3.5 member messages.
const DESCRIPTION = { description: 1 } as const; // *StartedRequest / *FailedRequest
const PIECE_FINISHED = { piece: 1 } as const; // DownloadPiece(BackToSource)FinishedRequest
// §5.8: Dragonfly v2.2.0 (api v2.0.177) numbering, reserved from api v2.1.74 on.
const PEER_FINISHED = { contentLength: 1, pieceCount: 2 } as const;
const PIECE_FAILED = { pieceNumber: 1, parentId: 2, temporary: 3 } as const;
const PIECE_BACK_TO_SOURCE_FAILED = { pieceNumber: 1, backend: 2, unknown: 3 } as const;
// §3.4 common.v2.Piece.
const PIECE = {
  number: 1, parentId: 2, offset: 3, length: 4, digest: 5, content: 6, trafficType: 7, cost: 8, createdAt: 9,
} as const;
// §3.8 errordetails.v2.
const BACKEND = { message: 1, header: 2, statusCode: 3 } as const;
const UNKNOWN = { message: 1 } as const;

const HOST_ID = "192.0.2.10-dfget-host";
const TASK_ID = "4c1e5e8a3b9f0d2c7a6b5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09";
const PEER_ID = "192.0.2.10-dfget-host-5f0c7a4e-8d1b-4c2a-9e3f-1a2b3c4d5e6f";
const PARENT_PEER_ID = "198.51.100.20-seed-1-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9";
const FINISHED_AT = new Date("2026-07-27T10:11:12.345Z");
const MIB = 1024n * 1024n;

type Request = NonNullable<AnnouncePeerRequest["request"]>;

function announce(request: Request): AnnouncePeerRequest {
  return { hostId: HOST_ID, taskId: TASK_ID, peerId: PEER_ID, request };
}

/** The envelope bytes around one oneof member whose body is `memberFields`. */
function announceBytes(memberField: number, ...memberFields: Uint8Array[]): Uint8Array {
  return concat(
    stringField(ANNOUNCE_PEER_REQUEST.hostId, HOST_ID),
    stringField(ANNOUNCE_PEER_REQUEST.taskId, TASK_ID),
    stringField(ANNOUNCE_PEER_REQUEST.peerId, PEER_ID),
    messageField(memberField, ...memberFields),
  );
}

describe("AnnouncePeerRequest piece messages", () => {
  test("download_piece_finished_request #12 with a parent's Piece", () => {
    const piece = Piece.fromPartial({
      number: 7,
      parentId: PARENT_PEER_ID,
      offset: 7n * 4n * MIB,
      length: 4n * MIB,
      digest: "crc32:3456789012",
      trafficType: TrafficType.REMOTE_PEER,
      cost: { seconds: 1n, nanos: 250_000_000 },
      createdAt: FINISHED_AT,
    });
    const pieceBytes = concat(
      varintField(PIECE.number, 7),
      stringField(PIECE.parentId, PARENT_PEER_ID),
      varintField(PIECE.offset, 7n * 4n * MIB),
      varintField(PIECE.length, 4n * MIB),
      stringField(PIECE.digest, "crc32:3456789012"),
      varintField(PIECE.trafficType, 1),
      durationField(PIECE.cost, 1n, 250_000_000),
      timestampField(PIECE.createdAt, FINISHED_AT),
    );
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({ $case: "downloadPieceFinishedRequest", value: DownloadPieceFinishedRequest.fromPartial({ piece }) }),
      announceBytes(ANNOUNCE_PEER_REQUEST.downloadPieceFinishedRequest, messageField(PIECE_FINISHED.piece, pieceBytes)),
    );
  });

  test("download_piece_back_to_source_finished_request #13: piece 0, no parent, BACK_TO_SOURCE sent as 0", () => {
    const piece = Piece.fromPartial({
      number: 0,
      offset: 0n,
      length: 4n * MIB,
      digest: "crc32:0",
      trafficType: TrafficType.BACK_TO_SOURCE,
      cost: { seconds: 0n, nanos: 0 },
      createdAt: FINISHED_AT,
    });
    const pieceBytes = concat(
      // number 0 and offset 0 are plain scalars: omitted. parent_id is unset: omitted.
      varintField(PIECE.length, 4n * MIB),
      stringField(PIECE.digest, "crc32:0"),
      varintField(PIECE.trafficType, 0), // optional enum: explicit 0 is on the wire
      durationField(PIECE.cost, 0n), // required message: present even when zero
      timestampField(PIECE.createdAt, FINISHED_AT),
    );
    const message = announce({
      $case: "downloadPieceBackToSourceFinishedRequest",
      value: DownloadPieceBackToSourceFinishedRequest.fromPartial({ piece }),
    });
    const expected = announceBytes(
      ANNOUNCE_PEER_REQUEST.downloadPieceBackToSourceFinishedRequest,
      messageField(PIECE_FINISHED.piece, pieceBytes),
    );
    assertWireRoundTrip(AnnouncePeerRequest, message, expected);
    const decoded = AnnouncePeerRequest.decode(expected);
    assert.equal(decoded.request?.$case, "downloadPieceBackToSourceFinishedRequest");
    if (decoded.request?.$case === "downloadPieceBackToSourceFinishedRequest") {
      assert.equal(decoded.request.value.piece?.parentId, undefined);
      assert.equal(decoded.request.value.piece?.trafficType, TrafficType.BACK_TO_SOURCE);
    }
  });

  test("Piece.content #6 (optional bytes) for need_piece_content responses", () => {
    const piece = Piece.fromPartial({ number: 2, length: 3n, content: Buffer.from("abc"), createdAt: FINISHED_AT });
    assertWireRoundTrip(
      Piece,
      piece,
      concat(
        varintField(PIECE.number, 2),
        varintField(PIECE.length, 3),
        lengthDelimited(PIECE.content, new TextEncoder().encode("abc")),
        timestampField(PIECE.createdAt, FINISHED_AT),
      ),
    );
  });

  test("download_piece_failed_request #14: piece_number 0 is optional so it is sent", () => {
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({
        $case: "downloadPieceFailedRequest",
        value: DownloadPieceFailedRequest.fromPartial({ pieceNumber: 0, parentId: PARENT_PEER_ID, temporary: true }),
      }),
      announceBytes(
        ANNOUNCE_PEER_REQUEST.downloadPieceFailedRequest,
        varintField(PIECE_FAILED.pieceNumber, 0),
        stringField(PIECE_FAILED.parentId, PARENT_PEER_ID),
        boolField(PIECE_FAILED.temporary, true),
      ),
    );
  });

  test("download_piece_back_to_source_failed_request #15 with errordetails.v2.Backend #2", () => {
    const value = DownloadPieceBackToSourceFailedRequest.fromPartial({
      pieceNumber: 3,
      response: {
        $case: "backend",
        value: { message: "404 Not Found", header: { "Content-Type": "text/plain" }, statusCode: 404 },
      },
    });
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({ $case: "downloadPieceBackToSourceFailedRequest", value }),
      announceBytes(
        ANNOUNCE_PEER_REQUEST.downloadPieceBackToSourceFailedRequest,
        varintField(PIECE_BACK_TO_SOURCE_FAILED.pieceNumber, 3),
        messageField(
          PIECE_BACK_TO_SOURCE_FAILED.backend,
          stringField(BACKEND.message, "404 Not Found"),
          mapEntryField(BACKEND.header, "Content-Type", "text/plain"),
          varintField(BACKEND.statusCode, 404),
        ),
      ),
    );
  });

  test("download_piece_back_to_source_failed_request #15 with errordetails.v2.Unknown #3", () => {
    const value = DownloadPieceBackToSourceFailedRequest.fromPartial({
      pieceNumber: 0,
      response: { $case: "unknown", value: { message: "" } },
    });
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({ $case: "downloadPieceBackToSourceFailedRequest", value }),
      announceBytes(
        ANNOUNCE_PEER_REQUEST.downloadPieceBackToSourceFailedRequest,
        varintField(PIECE_BACK_TO_SOURCE_FAILED.pieceNumber, 0),
        messageField(PIECE_BACK_TO_SOURCE_FAILED.unknown, stringField(UNKNOWN.message, "")),
      ),
    );
  });
});

describe("AnnouncePeerRequest peer lifecycle messages", () => {
  test("download_peer_started_request #5 is an empty member (key + zero length)", () => {
    const message = announce({ $case: "downloadPeerStartedRequest", value: DownloadPeerStartedRequest.fromPartial({}) });
    const expected = announceBytes(ANNOUNCE_PEER_REQUEST.downloadPeerStartedRequest);
    assertWireRoundTrip(AnnouncePeerRequest, message, expected);
    assert.deepEqual(Array.from(expected.slice(-2)), [0x2a, 0x00]);
  });

  test("download_peer_back_to_source_started_request #6 with and without description", () => {
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({
        $case: "downloadPeerBackToSourceStartedRequest",
        value: DownloadPeerBackToSourceStartedRequest.fromPartial({}),
      }),
      announceBytes(ANNOUNCE_PEER_REQUEST.downloadPeerBackToSourceStartedRequest),
    );
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({
        $case: "downloadPeerBackToSourceStartedRequest",
        value: DownloadPeerBackToSourceStartedRequest.fromPartial({ description: "no parents" }),
      }),
      announceBytes(
        ANNOUNCE_PEER_REQUEST.downloadPeerBackToSourceStartedRequest,
        stringField(DESCRIPTION.description, "no parents"),
      ),
    );
  });

  test("download_peer_back_to_source_finished_request #9 carries v2.2.0 content_length #1 (u64) / piece_count #2 (u32)", () => {
    const fiveGiB = 5n * 1024n * MIB;
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({
        $case: "downloadPeerBackToSourceFinishedRequest",
        value: DownloadPeerBackToSourceFinishedRequest.fromPartial({ contentLength: fiveGiB, pieceCount: 1280 }),
      }),
      announceBytes(
        ANNOUNCE_PEER_REQUEST.downloadPeerBackToSourceFinishedRequest,
        varintField(PEER_FINISHED.contentLength, fiveGiB),
        varintField(PEER_FINISHED.pieceCount, 1280),
      ),
    );
  });

  test("download_peer_finished_request #8 carries the same v2.2.0 fields", () => {
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({
        $case: "downloadPeerFinishedRequest",
        value: DownloadPeerFinishedRequest.fromPartial({ contentLength: 10n * MIB, pieceCount: 3 }),
      }),
      announceBytes(
        ANNOUNCE_PEER_REQUEST.downloadPeerFinishedRequest,
        varintField(PEER_FINISHED.contentLength, 10n * MIB),
        varintField(PEER_FINISHED.pieceCount, 3),
      ),
    );
    // An empty-file finish: both plain zeros are omitted, the member is still present.
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({ $case: "downloadPeerFinishedRequest", value: DownloadPeerFinishedRequest.fromPartial({}) }),
      announceBytes(ANNOUNCE_PEER_REQUEST.downloadPeerFinishedRequest),
    );
  });

  test("download_peer_failed_request #10 and download_peer_back_to_source_failed_request #11", () => {
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({
        $case: "downloadPeerFailedRequest",
        value: DownloadPeerFailedRequest.fromPartial({ description: "all parents failed" }),
      }),
      announceBytes(
        ANNOUNCE_PEER_REQUEST.downloadPeerFailedRequest,
        stringField(DESCRIPTION.description, "all parents failed"),
      ),
    );
    assertWireRoundTrip(
      AnnouncePeerRequest,
      announce({
        $case: "downloadPeerBackToSourceFailedRequest",
        value: DownloadPeerBackToSourceFailedRequest.fromPartial({ description: "" }),
      }),
      announceBytes(ANNOUNCE_PEER_REQUEST.downloadPeerBackToSourceFailedRequest, stringField(DESCRIPTION.description, "")),
    );
  });

  test("unknown members and fields from a newer scheduler build are skipped", () => {
    const bytes = concat(
      announceBytes(ANNOUNCE_PEER_REQUEST.downloadPeerStartedRequest, varintField(9, 1)),
      stringField(16, "future member"),
    );
    assert.deepEqual(
      AnnouncePeerRequest.decode(bytes),
      announce({ $case: "downloadPeerStartedRequest", value: DownloadPeerStartedRequest.fromPartial({}) }),
    );
  });
});
