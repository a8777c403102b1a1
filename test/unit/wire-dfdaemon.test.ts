// Wire tests, part 7: dfdaemon.v2 upload messages between a child and its parent
// (SyncPieces, SyncHost, legacy DownloadPiece). Expected bytes are built by hand from
// shared/reference/dragonfly-wire.md §3.4 and §3.7.
import { describe, test } from "node:test";
import assert from "node:assert/strict";

import {
  DownloadPieceRequest,
  DownloadPieceResponse,
  SyncHostRequest,
  SyncPiecesRequest,
  SyncPiecesResponse,
} from "../../src/gen/dfdaemon/v2/dfdaemon.js";
import {
  assertWireRoundTrip,
  concat,
  fixed32Field,
  lengthDelimited,
  messageField,
  packedVarints,
  stringField,
  toHex,
  unpackedVarints,
  varintField,
} from "../support/protowire.js";

// §3.7 dfdaemon.v2.
const SYNC_PIECES_REQUEST = { hostId: 1, taskId: 2, interestedPieceNumbers: 3 } as const;
const SYNC_PIECES_RESPONSE = { number: 1, offset: 2, length: 3, ip: 4, tcpPort: 5, quicPort: 6 } as const;
const SYNC_HOST_REQUEST = { hostId: 1, peerId: 2 } as const;
const DOWNLOAD_PIECE_REQUEST = { hostId: 1, taskId: 2, pieceNumber: 3 } as const;
const DOWNLOAD_PIECE_RESPONSE = { piece: 1, digest: 2 } as const;
// §3.4 common.v2.Piece (the fields a legacy DownloadPieceResponse carries).
const PIECE = { number: 1, offset: 3, length: 4, digest: 5, content: 6 } as const;

const HOST_ID = "192.0.2.10-dfget-host";
const TASK_ID = "4c1e5e8a3b9f0d2c7a6b5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09";
const PEER_ID = "192.0.2.10-dfget-host-5f0c7a4e-8d1b-4c2a-9e3f-1a2b3c4d5e6f";
const MIB = 1024n * 1024n;
const INTERESTED = [0, 1, 2, 127, 128, 300, 70000];

function idsBytes(): Uint8Array {
  return concat(stringField(SYNC_PIECES_REQUEST.hostId, HOST_ID), stringField(SYNC_PIECES_REQUEST.taskId, TASK_ID));
}

describe("dfdaemon.v2.SyncPiecesRequest", () => {
  test("interested_piece_numbers #3 is packed (one LEN field of varints)", () => {
    const message = SyncPiecesRequest.fromPartial({ hostId: HOST_ID, taskId: TASK_ID, interestedPieceNumbers: INTERESTED });
    const expected = concat(idsBytes(), packedVarints(SYNC_PIECES_REQUEST.interestedPieceNumbers, INTERESTED));
    assertWireRoundTrip(SyncPiecesRequest, message, expected);
    // 1a = key of #3 LEN; 0b = 11 bytes: 00 01 02 7f 80-01 ac-02 f0-a2-04.
    assert.match(toHex(expected), /1a 0b 00 01 02 7f 80 01 ac 02 f0 a2 04$/);
  });

  test("the unpacked form (one varint key per number) decodes to the same list", () => {
    const unpacked = concat(idsBytes(), unpackedVarints(SYNC_PIECES_REQUEST.interestedPieceNumbers, INTERESTED));
    assert.deepEqual(SyncPiecesRequest.decode(unpacked).interestedPieceNumbers, INTERESTED);
  });

  test("packed runs and single elements mix and concatenate in order", () => {
    const mixed = concat(
      idsBytes(),
      packedVarints(SYNC_PIECES_REQUEST.interestedPieceNumbers, [5, 6]),
      varintField(SYNC_PIECES_REQUEST.interestedPieceNumbers, 7),
      packedVarints(SYNC_PIECES_REQUEST.interestedPieceNumbers, [8]),
    );
    assert.deepEqual(SyncPiecesRequest.decode(mixed).interestedPieceNumbers, [5, 6, 7, 8]);
  });

  test("an empty list puts nothing on the wire", () => {
    assertWireRoundTrip(
      SyncPiecesRequest,
      SyncPiecesRequest.fromPartial({ hostId: HOST_ID, taskId: TASK_ID, interestedPieceNumbers: [] }),
      idsBytes(),
    );
  });
});

describe("dfdaemon.v2.SyncPiecesResponse", () => {
  test("number #1, offset #2, length #3, ip #4, tcp_port #5, quic_port #6", () => {
    assertWireRoundTrip(
      SyncPiecesResponse,
      SyncPiecesResponse.fromPartial({
        number: 9, offset: 9n * 4n * MIB, length: 4n * MIB, ip: "198.51.100.20", tcpPort: 4005, quicPort: 4006,
      }),
      concat(
        varintField(SYNC_PIECES_RESPONSE.number, 9),
        varintField(SYNC_PIECES_RESPONSE.offset, 9n * 4n * MIB),
        varintField(SYNC_PIECES_RESPONSE.length, 4n * MIB),
        stringField(SYNC_PIECES_RESPONSE.ip, "198.51.100.20"),
        varintField(SYNC_PIECES_RESPONSE.tcpPort, 4005),
        varintField(SYNC_PIECES_RESPONSE.quicPort, 4006),
      ),
    );
  });

  test("piece 0 at offset 0: plain zeros omitted; optional tcp_port 0 is sent, quic_port unset is not", () => {
    const message = SyncPiecesResponse.fromPartial({ number: 0, offset: 0n, length: 4n * MIB, ip: "198.51.100.20", tcpPort: 0 });
    const expected = concat(
      varintField(SYNC_PIECES_RESPONSE.length, 4n * MIB),
      stringField(SYNC_PIECES_RESPONSE.ip, "198.51.100.20"),
      varintField(SYNC_PIECES_RESPONSE.tcpPort, 0),
    );
    assertWireRoundTrip(SyncPiecesResponse, message, expected);
    assert.match(toHex(expected), /28 00$/);
    const decoded = SyncPiecesResponse.decode(expected);
    assert.equal(decoded.tcpPort, 0);
    assert.equal(decoded.quicPort, undefined);
  });

  test("a pre-v2.1.68 parent (no ip/ports) leaves the ports unset; unknown fields are skipped", () => {
    const bytes = concat(
      varintField(SYNC_PIECES_RESPONSE.number, 1),
      varintField(SYNC_PIECES_RESPONSE.offset, 4n * MIB),
      varintField(SYNC_PIECES_RESPONSE.length, 4n * MIB),
      fixed32Field(7, 1),
      stringField(8, "future"),
    );
    assert.deepEqual(
      SyncPiecesResponse.decode(bytes),
      SyncPiecesResponse.fromPartial({ number: 1, offset: 4n * MIB, length: 4n * MIB }),
    );
  });
});

describe("other dfdaemon.v2 upload messages", () => {
  test("SyncHostRequest{host_id #1, peer_id #2}", () => {
    assertWireRoundTrip(
      SyncHostRequest,
      SyncHostRequest.fromPartial({ hostId: HOST_ID, peerId: PEER_ID }),
      concat(stringField(SYNC_HOST_REQUEST.hostId, HOST_ID), stringField(SYNC_HOST_REQUEST.peerId, PEER_ID)),
    );
  });

  test("legacy DownloadPieceRequest{host_id #1, task_id #2, piece_number #3}", () => {
    assertWireRoundTrip(
      DownloadPieceRequest,
      DownloadPieceRequest.fromPartial({ hostId: HOST_ID, taskId: TASK_ID, pieceNumber: 2 }),
      concat(
        stringField(DOWNLOAD_PIECE_REQUEST.hostId, HOST_ID),
        stringField(DOWNLOAD_PIECE_REQUEST.taskId, TASK_ID),
        varintField(DOWNLOAD_PIECE_REQUEST.pieceNumber, 2),
      ),
    );
  });

  test("legacy DownloadPieceResponse{piece #1 with content #6, digest #2}", () => {
    const content = new TextEncoder().encode("piece-bytes");
    assertWireRoundTrip(
      DownloadPieceResponse,
      DownloadPieceResponse.fromPartial({
        piece: { number: 2, offset: 8n * MIB, length: 11n, digest: "crc32:123", content: Buffer.from(content) },
        digest: "crc32:456",
      }),
      concat(
        messageField(
          DOWNLOAD_PIECE_RESPONSE.piece,
          varintField(PIECE.number, 2),
          varintField(PIECE.offset, 8n * MIB),
          varintField(PIECE.length, 11),
          stringField(PIECE.digest, "crc32:123"),
          lengthDelimited(PIECE.content, content),
        ),
        stringField(DOWNLOAD_PIECE_RESPONSE.digest, "crc32:456"),
      ),
    );
  });
});
