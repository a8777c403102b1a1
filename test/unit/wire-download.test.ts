// Wire tests, part 2: common.v2.Download, the request descriptor the peer sends inside
// RegisterPeerRequest (scheduler) and DownloadTaskRequest (dfdaemon). Expected bytes are
// built by hand from shared/reference/dragonfly-wire.md §3.2 / §3.5 / §3.7.
import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { Download, Priority, TaskType } from "../../src/gen/common/v2/common.js";
import { AnnouncePeerRequest, RegisterPeerRequest } from "../../src/gen/scheduler/v2/scheduler.js";
import { DownloadTaskRequest } from "../../src/gen/dfdaemon/v2/dfdaemon.js";
import {
  assertWireRoundTrip,
  boolField,
  concat,
  durationField,
  fixed32Field,
  doubleField,
  lengthDelimited,
  mapEntryField,
  messageField,
  stringField,
  toHex,
  varintField,
} from "../support/protowire.js";

// §3.2 common.v2.Download (21 is reserved: load_to_cache).
const DOWNLOAD = {
  url: 1, digest: 2, range: 3, type: 4, tag: 5, application: 6, priority: 7,
  filteredQueryParams: 8, requestHeader: 9, pieceLength: 10, outputPath: 11, timeout: 12,
  disableBackToSource: 13, needBackToSource: 14, certificateChain: 15, prefetch: 16,
  objectStorage: 17, hdfs: 18, isPrefetch: 19, needPieceContent: 20, forceHardLink: 22,
  contentForCalculatingTaskId: 23, remoteIp: 24, concurrentPieceCount: 25, overwrite: 26,
  actualPieceLength: 27, actualContentLength: 28, actualPieceCount: 29,
  enableTaskIdBasedBlobDigest: 30, huggingFace: 31, modelScope: 32, metadataOnly: 33,
} as const;
// §3.2 sub-messages.
const RANGE = { start: 1, length: 2 } as const;
const OBJECT_STORAGE = {
  region: 1, endpoint: 2, accessKeyId: 3, accessKeySecret: 4, sessionToken: 5,
  credentialPath: 6, predefinedAcl: 7, securityToken: 8, insecureSkipVerify: 9,
} as const;
const HDFS_FIELDS = { delegationToken: 1 } as const;
const HUB = { token: 1, revision: 2, baseUrl: 3 } as const; // HuggingFace and ModelScope
// §3.5 AnnouncePeerRequest envelope and RegisterPeerRequest; §3.7 DownloadTaskRequest.
const ANNOUNCE_PEER_REQUEST = { hostId: 1, taskId: 2, peerId: 3, registerPeerRequest: 4 } as const;
const REGISTER_PEER_REQUEST = { download: 1 } as const;
const DOWNLOAD_TASK_REQUEST = { download: 1 } as const;

const HOST_ID = "192.0.2.10-dfget-host";
const TASK_ID = "4c1e5e8a3b9f0d2c7a6b5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09";
const PEER_ID = "192.0.2.10-dfget-host-5f0c7a4e-8d1b-4c2a-9e3f-1a2b3c4d5e6f";
const URL = "https://objects.example.com/models/model.bin?X-Amz-Signature=abc&part=1";
const DIGEST = `sha256:${"ab".repeat(32)}`;
const MIB = 1024n * 1024n;

/** The Download a dfget peer registers with: every field it fills in. */
function registerDownload(): Download {
  return Download.fromPartial({
    url: URL,
    digest: DIGEST,
    type: TaskType.STANDARD,
    tag: "nightly",
    application: "dfget",
    priority: Priority.LEVEL3,
    filteredQueryParams: ["X-Amz-Signature", "X-Amz-Date"],
    requestHeader: { Authorization: "Bearer t0ken", "User-Agent": "dfget/0.1.0" },
    pieceLength: 4n * MIB,
    timeout: { seconds: 600n, nanos: 0 },
    disableBackToSource: true,
    concurrentPieceCount: 16,
    actualPieceLength: 4n * MIB,
    actualContentLength: 10n * MIB,
    actualPieceCount: 3n,
  });
}

function registerDownloadBytes(): Uint8Array {
  return concat(
    stringField(DOWNLOAD.url, URL),
    stringField(DOWNLOAD.digest, DIGEST),
    // type STANDARD = 0 is a plain enum: not on the wire.
    stringField(DOWNLOAD.tag, "nightly"),
    stringField(DOWNLOAD.application, "dfget"),
    varintField(DOWNLOAD.priority, 3),
    stringField(DOWNLOAD.filteredQueryParams, "X-Amz-Signature"),
    stringField(DOWNLOAD.filteredQueryParams, "X-Amz-Date"),
    mapEntryField(DOWNLOAD.requestHeader, "Authorization", "Bearer t0ken"),
    mapEntryField(DOWNLOAD.requestHeader, "User-Agent", "dfget/0.1.0"),
    varintField(DOWNLOAD.pieceLength, 4n * MIB),
    durationField(DOWNLOAD.timeout, 600n),
    boolField(DOWNLOAD.disableBackToSource, true),
    varintField(DOWNLOAD.concurrentPieceCount, 16),
    varintField(DOWNLOAD.actualPieceLength, 4n * MIB),
    varintField(DOWNLOAD.actualContentLength, 10n * MIB),
    varintField(DOWNLOAD.actualPieceCount, 3),
  );
}

describe("common.v2.Download", () => {
  test("the peer's register Download: field numbers, types and order", () => {
    assertWireRoundTrip(Download, registerDownload(), registerDownloadBytes());
  });

  test("actual_piece_length #27, actual_content_length #28, actual_piece_count #29 are uint64 varints", () => {
    const hex = toHex(Download.encode(registerDownload()).finish());
    // D8 01 = key of #27, E0 01 = #28, E8 01 = #29; 4 MiB = 80 80 80 02, 10 MiB = 80 80 80 05.
    assert.match(hex, /d8 01 80 80 80 02 e0 01 80 80 80 05 e8 01 03$/);
    const big = Download.fromPartial({ url: URL, actualContentLength: 2n ** 40n + 1n });
    assertWireRoundTrip(
      Download,
      big,
      concat(stringField(DOWNLOAD.url, URL), varintField(DOWNLOAD.actualContentLength, 2n ** 40n + 1n)),
    );
  });

  test("every other field at a non-default value", () => {
    const everything = Download.fromPartial({
      url: URL,
      range: { start: 1024n, length: 4096n },
      type: TaskType.CACHE,
      priority: Priority.LEVEL6,
      outputPath: "/data/model.bin",
      needBackToSource: true,
      certificateChain: [Buffer.from([0x30, 0x82, 0x01]), Buffer.from([0x30, 0x03])],
      prefetch: true,
      objectStorage: {
        region: "us-east-1", endpoint: "s3.example.com", accessKeyId: "AKID", accessKeySecret: "secret",
        sessionToken: "st", credentialPath: "/creds.json", predefinedAcl: "private", securityToken: "sec",
        insecureSkipVerify: false,
      },
      hdfs: { delegationToken: "dt" },
      isPrefetch: true,
      needPieceContent: true,
      forceHardLink: true,
      contentForCalculatingTaskId: "content-id",
      remoteIp: "198.51.100.7",
      overwrite: true,
      enableTaskIdBasedBlobDigest: true,
      huggingFace: { token: "hf", revision: "main", baseUrl: "https://hf.example.com" },
      modelScope: { revision: "v1" },
      metadataOnly: true,
    });
    const expected = concat(
      stringField(DOWNLOAD.url, URL),
      messageField(DOWNLOAD.range, varintField(RANGE.start, 1024), varintField(RANGE.length, 4096)),
      varintField(DOWNLOAD.type, 3),
      varintField(DOWNLOAD.priority, 6),
      stringField(DOWNLOAD.outputPath, "/data/model.bin"),
      boolField(DOWNLOAD.needBackToSource, true),
      lengthDelimited(DOWNLOAD.certificateChain, Uint8Array.from([0x30, 0x82, 0x01])),
      lengthDelimited(DOWNLOAD.certificateChain, Uint8Array.from([0x30, 0x03])),
      boolField(DOWNLOAD.prefetch, true),
      messageField(
        DOWNLOAD.objectStorage,
        stringField(OBJECT_STORAGE.region, "us-east-1"),
        stringField(OBJECT_STORAGE.endpoint, "s3.example.com"),
        stringField(OBJECT_STORAGE.accessKeyId, "AKID"),
        stringField(OBJECT_STORAGE.accessKeySecret, "secret"),
        stringField(OBJECT_STORAGE.sessionToken, "st"),
        stringField(OBJECT_STORAGE.credentialPath, "/creds.json"),
        stringField(OBJECT_STORAGE.predefinedAcl, "private"),
        stringField(OBJECT_STORAGE.securityToken, "sec"),
        boolField(OBJECT_STORAGE.insecureSkipVerify, false), // optional bool: false is sent
      ),
      messageField(DOWNLOAD.hdfs, stringField(HDFS_FIELDS.delegationToken, "dt")),
      boolField(DOWNLOAD.isPrefetch, true),
      boolField(DOWNLOAD.needPieceContent, true),
      boolField(DOWNLOAD.forceHardLink, true),
      stringField(DOWNLOAD.contentForCalculatingTaskId, "content-id"),
      stringField(DOWNLOAD.remoteIp, "198.51.100.7"),
      boolField(DOWNLOAD.overwrite, true),
      boolField(DOWNLOAD.enableTaskIdBasedBlobDigest, true),
      messageField(
        DOWNLOAD.huggingFace,
        stringField(HUB.token, "hf"),
        stringField(HUB.revision, "main"),
        stringField(HUB.baseUrl, "https://hf.example.com"),
      ),
      messageField(DOWNLOAD.modelScope, stringField(HUB.revision, "v1")),
      boolField(DOWNLOAD.metadataOnly, true),
    );
    assertWireRoundTrip(Download, everything, expected);
  });

  test("presence: optional zero/empty values are sent, plain zero values are not", () => {
    const zeros = Download.fromPartial({
      url: URL,
      digest: "",
      type: TaskType.STANDARD,
      tag: "",
      application: "",
      priority: Priority.LEVEL0,
      pieceLength: 0n,
      timeout: { seconds: 0n, nanos: 0 },
      disableBackToSource: false,
      concurrentPieceCount: 0,
      actualPieceLength: 0n,
      actualContentLength: 0n,
      actualPieceCount: 0n,
      metadataOnly: false,
    });
    const expected = concat(
      stringField(DOWNLOAD.url, URL),
      stringField(DOWNLOAD.digest, ""),
      stringField(DOWNLOAD.tag, ""),
      stringField(DOWNLOAD.application, ""),
      varintField(DOWNLOAD.pieceLength, 0),
      durationField(DOWNLOAD.timeout, 0n),
      varintField(DOWNLOAD.concurrentPieceCount, 0),
      varintField(DOWNLOAD.actualPieceLength, 0),
      varintField(DOWNLOAD.actualContentLength, 0),
      varintField(DOWNLOAD.actualPieceCount, 0),
    );
    assertWireRoundTrip(Download, zeros, expected);
    const hex = toHex(expected);
    assert.match(hex, / 2a 00 32 00 /, "tag \"\" (#5) and application \"\" (#6) are on the wire");
    // type STANDARD (#4, plain enum) is absent from `expected` above; a non-zero type is sent.
    assertWireRoundTrip(
      Download,
      Download.fromPartial({ url: URL, type: TaskType.PERSISTENT }),
      concat(stringField(DOWNLOAD.url, URL), varintField(DOWNLOAD.type, 1)),
    );

    // Unset optionals stay unset after a round trip (not turned into zero values).
    const minimal = Download.fromPartial({ url: URL });
    assertWireRoundTrip(Download, minimal, stringField(DOWNLOAD.url, URL));
    const decoded = Download.decode(stringField(DOWNLOAD.url, URL));
    assert.equal(decoded.tag, undefined);
    assert.equal(decoded.actualContentLength, undefined);
  });

  test("unknown fields (api v2.3.0 open_csg #34, reserved #21, any wire type) are skipped on decode", () => {
    const withUnknowns = concat(
      registerDownloadBytes(),
      boolField(21, true), // reserved load_to_cache from an old sender
      messageField(34, stringField(1, "osg-token"), stringField(2, "main")),
      varintField(34, 2n ** 63n),
      fixed32Field(35, 0xdeadbeef),
      doubleField(36, 0.5),
    );
    assert.deepEqual(Download.decode(withUnknowns), registerDownload());
    // In the middle of known fields too.
    const interleaved = concat(stringField(DOWNLOAD.url, URL), stringField(40, "x"), varintField(DOWNLOAD.priority, 2));
    assert.deepEqual(Download.decode(interleaved), Download.fromPartial({ url: URL, priority: Priority.LEVEL2 }));
  });

  test("request_header entries: a missing key or value decodes as the empty string", () => {
    const bytes = concat(
      stringField(DOWNLOAD.url, URL),
      messageField(DOWNLOAD.requestHeader, stringField(1, "X-Empty")),
      messageField(DOWNLOAD.requestHeader, stringField(2, "no-key")),
    );
    assert.deepEqual(Download.decode(bytes).requestHeader, { "X-Empty": "", "": "no-key" });
  });
});

describe("Download carriers", () => {
  test("AnnouncePeerRequest{register_peer_request #4 {download #1}}", () => {
    const message: AnnouncePeerRequest = {
      hostId: HOST_ID,
      taskId: TASK_ID,
      peerId: PEER_ID,
      request: { $case: "registerPeerRequest", value: RegisterPeerRequest.fromPartial({ download: registerDownload() }) },
    };
    const expected = concat(
      stringField(ANNOUNCE_PEER_REQUEST.hostId, HOST_ID),
      stringField(ANNOUNCE_PEER_REQUEST.taskId, TASK_ID),
      stringField(ANNOUNCE_PEER_REQUEST.peerId, PEER_ID),
      messageField(
        ANNOUNCE_PEER_REQUEST.registerPeerRequest,
        messageField(REGISTER_PEER_REQUEST.download, registerDownloadBytes()),
      ),
    );
    assertWireRoundTrip(AnnouncePeerRequest, message, expected);
  });

  test("dfdaemon DownloadTaskRequest{download #1}", () => {
    assertWireRoundTrip(
      DownloadTaskRequest,
      DownloadTaskRequest.fromPartial({ download: registerDownload() }),
      messageField(DOWNLOAD_TASK_REQUEST.download, registerDownloadBytes()),
    );
  });
});
