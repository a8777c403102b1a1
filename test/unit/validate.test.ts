// The fake servers' PGV-like validation (shared/reference/dragonfly-wire.md §4): every
// rule has a passing base message and a failing variant, and the failure names the field.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Download, Host, Peer, Piece, Priority, TaskType, TrafficType } from "../../src/gen/common/v2/common.js";
import { ListSchedulersRequest, SourceType } from "../../src/gen/manager/v2/manager.js";
import { AnnounceHostRequest, AnnouncePeerRequest } from "../../src/gen/scheduler/v2/scheduler.js";
import {
  isDnsHostname,
  validateAnnounceHostRequest,
  validateAnnouncePeerRequest,
  validateDownload,
  validateIds,
  validateListSchedulersRequest,
  validatePeer,
  validatePiece,
} from "../support/validate.js";

const MIB = 1024n * 1024n;
const NOW = new Date("2026-08-01T00:00:00Z");
const TASK_ID = "a".repeat(64);

const download = (patch: Partial<Download> = {}): Download =>
  ({ ...Download.fromPartial({ url: "http://127.0.0.1:8080/blob", type: TaskType.STANDARD }), ...patch });
const piece = (patch: Partial<Piece> = {}): Piece =>
  ({ ...Piece.fromPartial({ number: 0, length: 4n * MIB, digest: "crc32:3456789012", cost: { seconds: 0n, nanos: 5 }, createdAt: NOW }), ...patch });
const host = (patch: Partial<Host> = {}): Host =>
  ({ ...Host.fromPartial({ id: "10.0.0.1-node", hostname: "node", ip: "10.0.0.1", port: 4000, downloadPort: 4000 }), ...patch });
const peer = (patch: Partial<Peer> = {}): Peer => ({
  ...Peer.fromPartial({
    id: "10.0.0.2-seed-1",
    cost: {},
    state: "Succeeded",
    task: { id: TASK_ID, url: "http://127.0.0.1:8080/blob", state: "Succeeded", createdAt: NOW, updatedAt: NOW },
    host: host(),
    createdAt: NOW,
    updatedAt: NOW,
  }),
  ...patch,
});
const announce = (request: AnnouncePeerRequest["request"], patch: Partial<AnnouncePeerRequest> = {}): AnnouncePeerRequest =>
  ({ hostId: "10.0.0.1-node", taskId: TASK_ID, peerId: "10.0.0.1-node-p1", request, ...patch });
const listRequest = (patch: Partial<ListSchedulersRequest> = {}): ListSchedulersRequest =>
  ({ ...ListSchedulersRequest.fromPartial({ sourceType: SourceType.PEER_SOURCE, hostname: "node-1", ip: "10.0.0.1" }), ...patch });

/** undefined = must pass; a string = the error must mention it. */
type Case = { desc: string; problem: string | undefined; want: string | undefined };
const check = (cases: Case[]): void => {
  for (const { desc, problem, want } of cases) {
    test(desc, () => {
      if (want === undefined) assert.equal(problem, undefined);
      else {
        assert.ok(problem !== undefined, `expected a failure mentioning ${want}`);
        assert.match(problem, new RegExp(want.replace(/[.[\]]/g, "\\$&")));
      }
    });
  }
};

describe("Download", () => check([
  { desc: "a minimal download passes", problem: validateDownload(download()), want: undefined },
  { desc: "a relative url fails", problem: validateDownload(download({ url: "/blob" })), want: "Download.Url" },
  { desc: "an undefined task type fails", problem: validateDownload(download({ type: 7 as TaskType })), want: "Download.Type" },
  { desc: "an undefined priority fails", problem: validateDownload(download({ priority: 9 as Priority })), want: "Download.Priority" },
  { desc: "sha256 with 64 hex passes", problem: validateDownload(download({ digest: `sha256:${"ab".repeat(32)}` })), want: undefined },
  { desc: "sha256 with 63 hex fails", problem: validateDownload(download({ digest: `sha256:${"a".repeat(63)}` })), want: "Download.Digest" },
  { desc: "md5/sha1/sha512/blake3 with the right lengths pass", problem:
    [`md5:${"0".repeat(32)}`, `sha1:${"0".repeat(40)}`, `sha512:${"0".repeat(128)}`, `blake3:${"0".repeat(64)}`]
      .map((digest) => validateDownload(download({ digest }))).find((p) => p !== undefined), want: undefined },
  { desc: "crc32 with decimal digits passes", problem: validateDownload(download({ digest: "crc32:1234567890" })), want: undefined },
  { desc: "an unknown algorithm fails", problem: validateDownload(download({ digest: `sha384:${"0".repeat(96)}` })), want: "Download.Digest" },
  { desc: "piece_length 0 counts as unset", problem: validateDownload(download({ pieceLength: 0n })), want: undefined },
  { desc: "piece_length 4 MiB passes", problem: validateDownload(download({ pieceLength: 4n * MIB })), want: undefined },
  { desc: "piece_length 64 MiB passes", problem: validateDownload(download({ pieceLength: 64n * MIB })), want: undefined },
  { desc: "piece_length 1 MiB fails", problem: validateDownload(download({ pieceLength: MIB })), want: "Download.PieceLength" },
  { desc: "piece_length 64 MiB + 1 fails", problem: validateDownload(download({ pieceLength: 64n * MIB + 1n })), want: "Download.PieceLength" },
  { desc: "an empty output_path fails", problem: validateDownload(download({ outputPath: "" })), want: "Download.OutputPath" },
  { desc: "a remote_ip that is no IP fails", problem: validateDownload(download({ remoteIp: "localhost" })), want: "Download.RemoteIp" },
  { desc: "an IPv6 remote_ip passes", problem: validateDownload(download({ remoteIp: "::1" })), want: undefined },
]));

describe("Piece", () => check([
  { desc: "a complete piece passes", problem: validatePiece(piece()), want: undefined },
  { desc: "a piece without cost fails", problem: validatePiece(piece({ cost: undefined })), want: "Piece.Cost: value is required" },
  { desc: "a piece without created_at fails", problem: validatePiece(piece({ createdAt: undefined })), want: "Piece.CreatedAt" },
  { desc: "a zero cost passes (present is enough)", problem: validatePiece(piece({ cost: { seconds: 0n, nanos: 0 } })), want: undefined },
  { desc: "an empty parent_id fails", problem: validatePiece(piece({ parentId: "" })), want: "Piece.ParentId" },
  { desc: "an empty digest passes", problem: validatePiece(piece({ digest: "" })), want: undefined },
  { desc: "a bad digest fails", problem: validatePiece(piece({ digest: "crc32:" })), want: "Piece.Digest" },
  { desc: "empty content fails", problem: validatePiece(piece({ content: Buffer.alloc(0) })), want: "Piece.Content" },
  { desc: "an undefined traffic type fails", problem: validatePiece(piece({ trafficType: 5 as TrafficType })), want: "Piece.TrafficType" },
]));

describe("Peer (reschedule candidates)", () => check([
  { desc: "a full peer passes", problem: validatePeer(peer()), want: undefined },
  { desc: "an id-only peer fails", problem: validatePeer(Peer.fromPartial({ id: "p" })), want: "Peer.Cost" },
  { desc: "a peer with an empty state fails", problem: validatePeer(peer({ state: "" })), want: "Peer.State" },
  { desc: "a peer without task fails", problem: validatePeer(peer({ task: undefined })), want: "Peer.Task: value is required" },
  { desc: "a task without updated_at fails", problem: validatePeer(peer({ task: { ...peer().task!, updatedAt: undefined } })), want: "Task.UpdatedAt" },
  { desc: "a task with a relative url fails", problem: validatePeer(peer({ task: { ...peer().task!, url: "blob" } })), want: "Task.Url" },
  { desc: "a host with port 80 fails", problem: validatePeer(peer({ host: host({ port: 80 }) })), want: "Host.Port" },
  { desc: "a host with download_port 65535 fails", problem: validatePeer(peer({ host: host({ downloadPort: 65535 }) })), want: "Host.DownloadPort" },
  { desc: "a peer without updated_at fails", problem: validatePeer(peer({ updatedAt: undefined })), want: "Peer.UpdatedAt" },
]));

describe("AnnouncePeerRequest", () => check([
  { desc: "register with a valid download passes", problem: validateAnnouncePeerRequest(announce({ $case: "registerPeerRequest", value: { download: download() } })), want: undefined },
  { desc: "an empty peer id fails", problem: validateAnnouncePeerRequest(announce({ $case: "downloadPeerStartedRequest", value: {} }, { peerId: "" })), want: "AnnouncePeerRequest.PeerId" },
  { desc: "an empty host id fails", problem: validateAnnouncePeerRequest(announce({ $case: "downloadPeerStartedRequest", value: {} }, { hostId: "" })), want: "AnnouncePeerRequest.HostId" },
  { desc: "an unset oneof fails", problem: validateAnnouncePeerRequest(announce(undefined)), want: "AnnouncePeerRequest.Request: value is required" },
  { desc: "register without download fails", problem: validateAnnouncePeerRequest(announce({ $case: "registerPeerRequest", value: {} })), want: "RegisterPeerRequest.Download" },
  { desc: "register with a bad download names the nested field", problem: validateAnnouncePeerRequest(announce({ $case: "registerPeerRequest", value: { download: download({ url: "x" }) } })), want: "Download.Url" },
  { desc: "a finished piece without cost fails", problem: validateAnnouncePeerRequest(announce({ $case: "downloadPieceFinishedRequest", value: { piece: piece({ cost: undefined }) } })), want: "Piece.Cost" },
  { desc: "a back-to-source piece without piece fails", problem: validateAnnouncePeerRequest(announce({ $case: "downloadPieceBackToSourceFinishedRequest", value: {} })), want: "DownloadPieceBackToSourceFinishedRequest.Piece" },
  { desc: "a piece failure without parent_id fails", problem: validateAnnouncePeerRequest(announce({ $case: "downloadPieceFailedRequest", value: { parentId: "", temporary: true } })), want: "DownloadPieceFailedRequest.ParentId" },
  { desc: "a back-to-source piece failure without backend/unknown fails", problem: validateAnnouncePeerRequest(announce({ $case: "downloadPieceBackToSourceFailedRequest", value: { pieceNumber: 1 } })), want: "DownloadPieceBackToSourceFailedRequest.Response" },
  { desc: "a backend status 599 fails", problem: validateAnnouncePeerRequest(announce({ $case: "downloadPieceBackToSourceFailedRequest", value: { response: { $case: "backend", value: { message: "x", header: {}, statusCode: 599 } } } })), want: "Backend.StatusCode" },
  { desc: "a backend status 404 passes", problem: validateAnnouncePeerRequest(announce({ $case: "downloadPieceBackToSourceFailedRequest", value: { response: { $case: "backend", value: { message: "x", header: {}, statusCode: 404 } } } })), want: undefined },
  { desc: "unknown without a message passes", problem: validateAnnouncePeerRequest(announce({ $case: "downloadPieceBackToSourceFailedRequest", value: { response: { $case: "unknown", value: {} } } })), want: undefined },
  { desc: "reschedule with full peers passes", problem: validateAnnouncePeerRequest(announce({ $case: "reschedulePeerRequest", value: { candidateParents: [peer()] } })), want: undefined },
  { desc: "reschedule with an id-only peer fails", problem: validateAnnouncePeerRequest(announce({ $case: "reschedulePeerRequest", value: { candidateParents: [peer(), Peer.fromPartial({ id: "x" })] } })), want: "CandidateParents[1]" },
  { desc: "an empty back-to-source description fails", problem: validateAnnouncePeerRequest(announce({ $case: "downloadPeerBackToSourceStartedRequest", value: { description: "" } })), want: "Description" },
]));

describe("AnnounceHostRequest", () => check([
  { desc: "a minimal host passes", problem: validateAnnounceHostRequest(AnnounceHostRequest.fromPartial({ host: host() })), want: undefined },
  { desc: "no host fails", problem: validateAnnounceHostRequest(AnnounceHostRequest.fromPartial({})), want: "AnnounceHostRequest.Host: value is required" },
  { desc: "an empty hostname fails", problem: validateAnnounceHostRequest({ host: host({ hostname: "" }) }), want: "Host.Hostname" },
  { desc: "an empty id fails", problem: validateAnnounceHostRequest({ host: host({ id: "" }) }), want: "Host.Id" },
  { desc: "an invalid ip fails", problem: validateAnnounceHostRequest({ host: host({ ip: "10.0.0" }) }), want: "Host.Ip" },
  { desc: "type 4 fails", problem: validateAnnounceHostRequest({ host: host({ type: 4 }) }), want: "Host.Type" },
  { desc: "port 1023 fails", problem: validateAnnounceHostRequest({ host: host({ port: 1023 }) }), want: "Host.Port" },
  { desc: "port 1024 and 65534 pass", problem: validateAnnounceHostRequest({ host: host({ port: 1024, downloadPort: 65534 }) }), want: undefined },
  { desc: "a negative CPU percent fails", problem: validateAnnounceHostRequest({ host: host({ cpu: { logicalCount: 1, physicalCount: 1, percent: -1, processPercent: 0 } }) }), want: "CPU.Percent" },
  { desc: "memory used_percent 101 fails", problem: validateAnnounceHostRequest({ host: host({ memory: { total: 1n, available: 1n, used: 0n, usedPercent: 101, processUsedPercent: 0, free: 1n } }) }), want: "Memory.UsedPercent" },
]));

describe("ListSchedulersRequest", () => check([
  { desc: "a peer request passes", problem: validateListSchedulersRequest(listRequest()), want: undefined },
  { desc: "an underscore hostname fails", problem: validateListSchedulersRequest(listRequest({ hostname: "my_host" })), want: "ListSchedulersRequest.Hostname" },
  { desc: "an empty hostname fails", problem: validateListSchedulersRequest(listRequest({ hostname: "" })), want: "ListSchedulersRequest.Hostname" },
  { desc: "an empty ip fails", problem: validateListSchedulersRequest(listRequest({ ip: "" })), want: "ListSchedulersRequest.Ip" },
  { desc: "an undefined source type fails", problem: validateListSchedulersRequest(listRequest({ sourceType: 3 as SourceType })), want: "ListSchedulersRequest.SourceType" },
  { desc: "an empty idc fails", problem: validateListSchedulersRequest(listRequest({ idc: "" })), want: "ListSchedulersRequest.Idc" },
  { desc: "a 1025-character location fails", problem: validateListSchedulersRequest(listRequest({ location: "x".repeat(1025) })), want: "ListSchedulersRequest.Location" },
  { desc: "a 1024-character location passes", problem: validateListSchedulersRequest(listRequest({ location: "x".repeat(1024) })), want: undefined },
  { desc: "a 1025-character version fails", problem: validateListSchedulersRequest(listRequest({ version: "1".repeat(1025) })), want: "ListSchedulersRequest.Version" },
]));

describe("isDnsHostname", () => check([
  { desc: "mixed case with a trailing dot passes", problem: isDnsHostname("Node-1.example.") ? undefined : "fail", want: undefined },
  { desc: "a label starting with '-' fails", problem: isDnsHostname("-node") ? undefined : "hostname", want: "hostname" },
  { desc: "a 64-character label fails", problem: isDnsHostname("a".repeat(64)) ? undefined : "hostname", want: "hostname" },
  { desc: "an empty middle label fails", problem: isDnsHostname("a..b") ? undefined : "hostname", want: "hostname" },
]));

describe("ids", () => check([
  { desc: "non-empty ids pass", problem: validateIds("DeletePeerRequest", { HostId: "h", TaskId: "t", PeerId: "p" }), want: undefined },
  { desc: "an empty task id fails", problem: validateIds("DeletePeerRequest", { HostId: "h", TaskId: "", PeerId: "p" }), want: "DeletePeerRequest.TaskId" },
]));
