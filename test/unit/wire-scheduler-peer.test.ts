// Wire tests, part 5: what the scheduler answers on AnnouncePeer (every response member,
// with common.v2.Peer/Task), ReschedulePeerRequest, and the peer/task unary requests.
// Expected bytes are built by hand from shared/reference/dragonfly-wire.md §3.3–§3.5, §3.8.
import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { Peer, Priority, SizeScope, Task, TaskType } from "../../src/gen/common/v2/common.js";
import {
  AnnouncePeerRequest,
  AnnouncePeerResponse,
  DeletePeerRequest,
  DeleteTaskRequest,
  ReschedulePeerRequest,
  StatPeerRequest,
  StatTaskRequest,
} from "../../src/gen/scheduler/v2/scheduler.js";
import {
  assertWireRoundTrip,
  boolField,
  concat,
  durationField,
  mapEntryField,
  messageField,
  stringField,
  timestampField,
  varintField,
} from "../support/protowire.js";

// §3.4 common.v2.Peer and Task (api >= v2.1.30 numbering), §3.2 Range.
const PEER = {
  id: 1, range: 2, priority: 3, pieces: 4, cost: 5, state: 6, task: 7, host: 8,
  needBackToSource: 9, createdAt: 10, updatedAt: 11, concurrentPieceCount: 12,
} as const;
const TASK = {
  id: 1, type: 2, url: 3, digest: 4, tag: 5, application: 6, filteredQueryParams: 7, requestHeader: 8,
  contentLength: 9, pieceCount: 10, sizeScope: 11, pieces: 12, state: 13, peerCount: 14,
  hasAvailablePeer: 15, createdAt: 16, updatedAt: 17,
} as const;
const RANGE = { start: 1, length: 2 } as const;
// §3.3 Host: the identity fields a child needs to dial a parent; §3.4 Piece: two fields.
const HOST = { id: 1, type: 2, hostname: 3, ip: 4, port: 5, downloadPort: 6 } as const;
const PIECE = { number: 1, length: 4 } as const;
// §3.5 scheduler.v2.
const ANNOUNCE_PEER_RESPONSE = {
  emptyTaskResponse: 1, normalTaskResponse: 2, needBackToSourceResponse: 3, metadataOnlyResponse: 4,
} as const;
const NORMAL_TASK_RESPONSE = { candidateParents: 1 } as const;
const NEED_BACK_TO_SOURCE_RESPONSE = { description: 1 } as const;
const ANNOUNCE_PEER_REQUEST = { hostId: 1, taskId: 2, peerId: 3, reschedulePeerRequest: 7 } as const;
const RESCHEDULE_PEER_REQUEST = { candidateParents: 1, description: 2 } as const;
const PEER_IDS_REQUEST = { hostId: 1, taskId: 2, peerId: 3 } as const; // StatPeer/DeletePeer
const TASK_IDS_REQUEST = { hostId: 1, taskId: 2 } as const; // StatTask/DeleteTask

const HOST_ID = "192.0.2.10-dfget-host";
const TASK_ID = "4c1e5e8a3b9f0d2c7a6b5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09";
const PEER_ID = "192.0.2.10-dfget-host-5f0c7a4e-8d1b-4c2a-9e3f-1a2b3c4d5e6f";
const PARENT_PEER_ID = "198.51.100.20-seed-1-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9";
const PARENT_HOST_ID = "198.51.100.20-seed-1-seed";
const URL = "https://objects.example.com/models/model.bin";
const CREATED = new Date("2026-07-27T10:00:00.000Z");
const UPDATED = new Date("2026-07-27T10:11:12.345Z");
const MIB = 1024n * 1024n;

/** A parent as the Go scheduler describes it in NormalTaskResponse (null: #12 unset). */
function parentPeer(id = PARENT_PEER_ID, concurrentPieceCount: number | null = 8): Peer {
  return Peer.fromPartial({
    id,
    priority: Priority.LEVEL0,
    cost: { seconds: 0n, nanos: 0 },
    state: "Succeeded",
    task: {
      id: TASK_ID, type: TaskType.STANDARD, url: URL, digest: "", tag: "nightly", application: "dfget",
      filteredQueryParams: ["X-Amz-Signature"], requestHeader: { Range: "bytes=0-" },
      contentLength: 10n * MIB, pieceCount: 3, sizeScope: SizeScope.NORMAL, state: "Succeeded", peerCount: 2,
      createdAt: CREATED, updatedAt: UPDATED,
    },
    host: { id: PARENT_HOST_ID, type: 1, hostname: "seed-1", ip: "198.51.100.20", port: 4000, downloadPort: 4000 },
    createdAt: CREATED,
    updatedAt: UPDATED,
    concurrentPieceCount: concurrentPieceCount ?? undefined,
  });
}

function parentPeerBytes(id = PARENT_PEER_ID, concurrentPieceCount: number | null = 8): Uint8Array {
  return concat(
    stringField(PEER.id, id),
    // priority LEVEL0 = 0: omitted. cost is a (required) message: present though empty.
    durationField(PEER.cost, 0n),
    stringField(PEER.state, "Succeeded"),
    messageField(
      PEER.task,
      stringField(TASK.id, TASK_ID),
      stringField(TASK.url, URL),
      stringField(TASK.digest, ""), // optional: "" is on the wire
      stringField(TASK.tag, "nightly"),
      stringField(TASK.application, "dfget"),
      stringField(TASK.filteredQueryParams, "X-Amz-Signature"),
      mapEntryField(TASK.requestHeader, "Range", "bytes=0-"),
      varintField(TASK.contentLength, 10n * MIB),
      varintField(TASK.pieceCount, 3),
      stringField(TASK.state, "Succeeded"),
      varintField(TASK.peerCount, 2),
      timestampField(TASK.createdAt, CREATED),
      timestampField(TASK.updatedAt, UPDATED),
    ),
    messageField(
      PEER.host,
      stringField(HOST.id, PARENT_HOST_ID),
      varintField(HOST.type, 1),
      stringField(HOST.hostname, "seed-1"),
      stringField(HOST.ip, "198.51.100.20"),
      varintField(HOST.port, 4000),
      varintField(HOST.downloadPort, 4000),
    ),
    timestampField(PEER.createdAt, CREATED),
    timestampField(PEER.updatedAt, UPDATED),
    concurrentPieceCount === null
      ? new Uint8Array(0)
      : varintField(PEER.concurrentPieceCount, concurrentPieceCount),
  );
}

describe("AnnouncePeerResponse members", () => {
  test("empty_task_response #1", () => {
    assertWireRoundTrip(
      AnnouncePeerResponse,
      AnnouncePeerResponse.fromPartial({ response: { $case: "emptyTaskResponse", value: {} } }),
      messageField(ANNOUNCE_PEER_RESPONSE.emptyTaskResponse),
    );
  });

  test("normal_task_response #2 with candidate parents (Peer incl. Task and Host)", () => {
    const secondId = `${PARENT_PEER_ID}-2`;
    const second = parentPeer(secondId, null);
    const message = AnnouncePeerResponse.fromPartial({
      response: { $case: "normalTaskResponse", value: { candidateParents: [parentPeer(), second] } },
    });
    const expected = messageField(
      ANNOUNCE_PEER_RESPONSE.normalTaskResponse,
      messageField(NORMAL_TASK_RESPONSE.candidateParents, parentPeerBytes()),
      messageField(NORMAL_TASK_RESPONSE.candidateParents, parentPeerBytes(secondId, null)),
    );
    assertWireRoundTrip(AnnouncePeerResponse, message, expected);
    const decoded = AnnouncePeerResponse.decode(expected);
    assert.equal(decoded.response?.$case, "normalTaskResponse");
    if (decoded.response?.$case === "normalTaskResponse") {
      const [first, other] = decoded.response.value.candidateParents;
      assert.equal(first?.host?.ip, "198.51.100.20");
      assert.equal(first?.host?.port, 4000);
      assert.equal(first?.concurrentPieceCount, 8);
      assert.equal(other?.concurrentPieceCount, undefined);
    }
  });

  test("need_back_to_source_response #3 with and without description", () => {
    assertWireRoundTrip(
      AnnouncePeerResponse,
      AnnouncePeerResponse.fromPartial({
        response: { $case: "needBackToSourceResponse", value: { description: "no candidate parents" } },
      }),
      messageField(
        ANNOUNCE_PEER_RESPONSE.needBackToSourceResponse,
        stringField(NEED_BACK_TO_SOURCE_RESPONSE.description, "no candidate parents"),
      ),
    );
    assertWireRoundTrip(
      AnnouncePeerResponse,
      AnnouncePeerResponse.fromPartial({ response: { $case: "needBackToSourceResponse", value: {} } }),
      messageField(ANNOUNCE_PEER_RESPONSE.needBackToSourceResponse),
    );
  });

  test("metadata_only_response #4 (v2.2.32)", () => {
    assertWireRoundTrip(
      AnnouncePeerResponse,
      AnnouncePeerResponse.fromPartial({ response: { $case: "metadataOnlyResponse", value: {} } }),
      messageField(ANNOUNCE_PEER_RESPONSE.metadataOnlyResponse),
    );
  });

  test("a response member from a newer scheduler (#5) leaves the oneof unset", () => {
    assert.deepEqual(AnnouncePeerResponse.decode(messageField(5, stringField(1, "x"))), { response: undefined });
  });
});

describe("common.v2.Peer / Task details", () => {
  test("every Task field; Go's unknown content length -1 arrives as 2^64-1", () => {
    const task = Task.fromPartial({
      id: TASK_ID, type: TaskType.PERSISTENT, url: URL, digest: `sha256:${"cd".repeat(32)}`,
      contentLength: 2n ** 64n - 1n, pieceCount: 0, sizeScope: SizeScope.UNKNOW,
      pieces: [{ number: 0, length: 4n * MIB }], state: "Running", peerCount: 1, hasAvailablePeer: true,
      createdAt: CREATED, updatedAt: UPDATED,
    });
    assertWireRoundTrip(
      Task,
      task,
      concat(
        stringField(TASK.id, TASK_ID),
        varintField(TASK.type, 1),
        stringField(TASK.url, URL),
        stringField(TASK.digest, `sha256:${"cd".repeat(32)}`),
        varintField(TASK.contentLength, 2n ** 64n - 1n),
        varintField(TASK.sizeScope, 4),
        messageField(TASK.pieces, varintField(PIECE.length, 4n * MIB)),
        stringField(TASK.state, "Running"),
        varintField(TASK.peerCount, 1),
        boolField(TASK.hasAvailablePeer, true),
        timestampField(TASK.createdAt, CREATED),
        timestampField(TASK.updatedAt, UPDATED),
      ),
    );
  });

  test("Peer range #2, priority #3, pieces #4, need_back_to_source #9", () => {
    const peer = Peer.fromPartial({
      id: PEER_ID, range: { start: 0n, length: MIB }, priority: Priority.LEVEL2,
      pieces: [{ number: 1, length: MIB }], needBackToSource: true,
    });
    assertWireRoundTrip(
      Peer,
      peer,
      concat(
        stringField(PEER.id, PEER_ID),
        messageField(PEER.range, varintField(RANGE.length, MIB)),
        varintField(PEER.priority, 2),
        messageField(PEER.pieces, varintField(PIECE.number, 1), varintField(PIECE.length, MIB)),
        boolField(PEER.needBackToSource, true),
      ),
    );
  });

  test("a Dragonfly v2.2.0 Task (old numbering, piece_length #9) decodes without throwing", () => {
    // §3.8: before api v2.1.30 Task had piece_length #9 and fields 10–18 one higher.
    const oldTask = concat(
      stringField(1, TASK_ID),
      stringField(3, URL),
      varintField(9, 4n * MIB), // piece_length
      varintField(10, 10n * MIB), // content_length
      varintField(11, 3), // piece_count
      varintField(12, 0), // size_scope (varint where new #12 pieces is LEN)
      messageField(13, varintField(1, 0)), // pieces
      stringField(14, "Succeeded"), // state (LEN where new #14 peer_count is varint)
      timestampField(17, CREATED),
      timestampField(18, UPDATED),
    );
    const peer = concat(stringField(PEER.id, PARENT_PEER_ID), messageField(PEER.task, oldTask));
    const response = messageField(ANNOUNCE_PEER_RESPONSE.normalTaskResponse, messageField(1, peer));
    const decoded = AnnouncePeerResponse.decode(response);
    assert.equal(decoded.response?.$case, "normalTaskResponse");
    if (decoded.response?.$case === "normalTaskResponse") {
      const task = decoded.response.value.candidateParents[0]?.task;
      assert.equal(task?.id, TASK_ID);
      assert.equal(task?.contentLength, 4n * MIB, "old piece_length lands in new content_length: garbage");
    }
  });
});

describe("peer-side scheduler requests", () => {
  test("AnnouncePeerRequest{reschedule_peer_request #7 {candidate_parents #1, description #2}}", () => {
    const message: AnnouncePeerRequest = {
      hostId: HOST_ID,
      taskId: TASK_ID,
      peerId: PEER_ID,
      request: {
        $case: "reschedulePeerRequest",
        value: ReschedulePeerRequest.fromPartial({ candidateParents: [parentPeer()], description: "parent timed out" }),
      },
    };
    assertWireRoundTrip(
      AnnouncePeerRequest,
      message,
      concat(
        stringField(ANNOUNCE_PEER_REQUEST.hostId, HOST_ID),
        stringField(ANNOUNCE_PEER_REQUEST.taskId, TASK_ID),
        stringField(ANNOUNCE_PEER_REQUEST.peerId, PEER_ID),
        messageField(
          ANNOUNCE_PEER_REQUEST.reschedulePeerRequest,
          messageField(RESCHEDULE_PEER_REQUEST.candidateParents, parentPeerBytes()),
          stringField(RESCHEDULE_PEER_REQUEST.description, "parent timed out"),
        ),
      ),
    );
  });

  test("DeletePeerRequest and StatPeerRequest {host_id #1, task_id #2, peer_id #3}", () => {
    const ids = { hostId: HOST_ID, taskId: TASK_ID, peerId: PEER_ID };
    const expected = concat(
      stringField(PEER_IDS_REQUEST.hostId, HOST_ID),
      stringField(PEER_IDS_REQUEST.taskId, TASK_ID),
      stringField(PEER_IDS_REQUEST.peerId, PEER_ID),
    );
    assertWireRoundTrip(DeletePeerRequest, DeletePeerRequest.fromPartial(ids), expected);
    assertWireRoundTrip(StatPeerRequest, StatPeerRequest.fromPartial(ids), expected);
  });

  test("DeleteTaskRequest and StatTaskRequest {host_id #1, task_id #2}", () => {
    const ids = { hostId: HOST_ID, taskId: TASK_ID };
    const expected = concat(stringField(TASK_IDS_REQUEST.hostId, HOST_ID), stringField(TASK_IDS_REQUEST.taskId, TASK_ID));
    assertWireRoundTrip(DeleteTaskRequest, DeleteTaskRequest.fromPartial(ids), expected);
    assertWireRoundTrip(StatTaskRequest, StatTaskRequest.fromPartial(ids), expected);
  });
});
