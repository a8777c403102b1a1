// Go-PGV-like validation for the fake scheduler and manager.
//
// The real Go servers run every received message (each stream message too) through the
// protoc-gen-validate rules and answer InvalidArgument with the PGV text
// (shared/reference/dragonfly-wire.md §4, rules in the §3 tables). A fake that accepts what
// the Go servers reject would let client bugs through, so these functions restate the
// rules a dfget-style client can hit. Each returns the PGV-style message, or undefined when
// the message is valid. Messages follow PGV's shape
// ("invalid Piece.Cost: value is required", nested ones joined by " | caused by: ").
import { isIP } from "node:net";
import { Priority, TaskType, TrafficType } from "../../src/gen/common/v2/common.js";
import type { Download, Host, Peer, Piece, Task } from "../../src/gen/common/v2/common.js";
import { SourceType } from "../../src/gen/manager/v2/manager.js";
import type { ListSchedulersRequest } from "../../src/gen/manager/v2/manager.js";
import type {
  AnnounceHostRequest,
  AnnouncePeerRequest,
  DownloadPieceBackToSourceFailedRequest,
} from "../../src/gen/scheduler/v2/scheduler.js";

type Problem = string | undefined;

const MIN_PIECE_LENGTH = 4n * 1024n * 1024n;
const MAX_PIECE_LENGTH = 64n * 1024n * 1024n;
const MIN_PORT = 1024;
const MAX_PORT_EXCLUSIVE = 65535;

/** The digest pattern of Download.digest, Task.digest and Piece.digest (crc32 takes hex or decimal). */
const DIGEST_PATTERN =
  /^(md5:[a-fA-F0-9]{32}|sha1:[a-fA-F0-9]{40}|sha256:[a-fA-F0-9]{64}|sha512:[a-fA-F0-9]{128}|blake3:[a-fA-F0-9]{64}|crc32:[a-fA-F0-9]+)$/;

const fail = (message: string, field: string, reason: string): string => `invalid ${message}.${field}: ${reason}`;
const embedded = (message: string, field: string, inner: Problem): Problem =>
  inner === undefined ? undefined : fail(message, field, `embedded message failed validation | caused by: ${inner}`);
const first = (...checks: Array<() => Problem>): Problem => {
  for (const check of checks) {
    const problem = check();
    if (problem !== undefined) return problem;
  }
  return undefined;
};
/** PGV counts string lengths in runes (code points), not UTF-16 units. */
const runeLength = (value: string): number => [...value].length;
const minLen1 = (message: string, field: string, value: string): Problem =>
  runeLength(value) < 1 ? fail(message, field, "value length must be at least 1 runes") : undefined;
const optionalMinLen1 = (message: string, field: string, value: string | undefined): Problem =>
  value === undefined ? undefined : minLen1(message, field, value);
const required = (message: string, field: string, value: unknown): Problem =>
  value === undefined || value === null ? fail(message, field, "value is required") : undefined;
const definedEnum = (message: string, field: string, value: number, enumObject: object): Problem =>
  Object.values(enumObject).includes(value) && value >= 0
    ? undefined
    : fail(message, field, "value must be one of the defined enum values");
const ipAddress = (message: string, field: string, value: string): Problem =>
  isIP(value) === 0 ? fail(message, field, "value must be a valid IP address") : undefined;
const portRange = (message: string, field: string, value: number): Problem =>
  value >= MIN_PORT && value < MAX_PORT_EXCLUSIVE
    ? undefined
    : fail(message, field, `value must be inside range [${MIN_PORT}, ${MAX_PORT_EXCLUSIVE})`);
const percentRange = (message: string, field: string, value: number, max?: number): Problem => {
  if (value < 0) return fail(message, field, "value must be greater than or equal to 0");
  if (max !== undefined && value > max) return fail(message, field, `value must be inside range [0, ${max}]`);
  return undefined;
};
const digest = (message: string, field: string, value: string | undefined): Problem =>
  value === undefined || value === "" || DIGEST_PATTERN.test(value)
    ? undefined
    : fail(message, field, `value does not match regex pattern "${DIGEST_PATTERN.source}"`);
const absoluteUri = (message: string, field: string, value: string): Problem =>
  isAbsoluteUri(value) ? undefined : fail(message, field, "value must be absolute");

/** PGV `uri`: parses and has a scheme. */
export function isAbsoluteUri(value: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * PGV `hostname`: at most 253 characters; after dropping one trailing dot, every
 * dot-separated label is 1..63 of [a-z0-9-] (case-insensitive) and does not start or end
 * with "-". So "my_host" and "" fail, "Node-1.example." passes.
 */
export function isDnsHostname(value: string): boolean {
  if (value.length > 253) return false;
  const labels = value.toLowerCase().replace(/\.$/, "").split(".");
  return labels.every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label));
}

export function validateDownload(download: Download): Problem {
  const m = "Download";
  return first(
    () => absoluteUri(m, "Url", download.url),
    () => digest(m, "Digest", download.digest),
    () => definedEnum(m, "Type", download.type, TaskType),
    () => definedEnum(m, "Priority", download.priority, Priority),
    () => {
      const length = download.pieceLength;
      if (length === undefined || length === 0n) return undefined;
      return length >= MIN_PIECE_LENGTH && length <= MAX_PIECE_LENGTH
        ? undefined
        : fail(m, "PieceLength", `value must be inside range [${MIN_PIECE_LENGTH}, ${MAX_PIECE_LENGTH}]`);
    },
    () => optionalMinLen1(m, "OutputPath", download.outputPath),
    () => (download.remoteIp === undefined ? undefined : ipAddress(m, "RemoteIp", download.remoteIp)),
    () => (download.huggingFace ? embedded(m, "HuggingFace", minLen1("HuggingFace", "Revision", download.huggingFace.revision)) : undefined),
    () => (download.modelScope ? embedded(m, "ModelScope", minLen1("ModelScope", "Revision", download.modelScope.revision)) : undefined),
  );
}

export function validatePiece(piece: Piece): Problem {
  const m = "Piece";
  return first(
    () => optionalMinLen1(m, "ParentId", piece.parentId),
    () => digest(m, "Digest", piece.digest),
    () => (piece.content !== undefined && piece.content.length === 0 ? fail(m, "Content", "value length must be at least 1 bytes") : undefined),
    () => (piece.trafficType === undefined ? undefined : definedEnum(m, "TrafficType", piece.trafficType, TrafficType)),
    () => required(m, "Cost", piece.cost),
    () => required(m, "CreatedAt", piece.createdAt),
  );
}

export function validateTask(task: Task): Problem {
  const m = "Task";
  return first(
    () => minLen1(m, "Id", task.id),
    () => definedEnum(m, "Type", task.type, TaskType),
    () => absoluteUri(m, "Url", task.url),
    () => digest(m, "Digest", task.digest),
    () => pieceList(m, task.pieces),
    () => minLen1(m, "State", task.state),
    () => required(m, "CreatedAt", task.createdAt),
    () => required(m, "UpdatedAt", task.updatedAt),
  );
}

export function validateHost(host: Host): Problem {
  const m = "Host";
  return first(
    () => minLen1(m, "Id", host.id),
    () => (host.type > 3 ? fail(m, "Type", "value must be less than or equal to 3") : undefined),
    () => minLen1(m, "Hostname", host.hostname),
    () => ipAddress(m, "Ip", host.ip),
    () => portRange(m, "Port", host.port),
    () => portRange(m, "DownloadPort", host.downloadPort),
    () => {
      const cpu = host.cpu;
      if (!cpu) return undefined;
      const times = cpu.times ? Object.entries(cpu.times) : [];
      const negativeTime = times.find(([, value]) => value < 0);
      return embedded(m, "Cpu", first(
        () => percentRange("CPU", "Percent", cpu.percent),
        () => percentRange("CPU", "ProcessPercent", cpu.processPercent),
        () => (negativeTime ? embedded("CPU", "Times", percentRange("CPUTimes", negativeTime[0], negativeTime[1])) : undefined),
      ));
    },
    () => {
      const memory = host.memory;
      if (!memory) return undefined;
      return embedded(m, "Memory", first(
        () => percentRange("Memory", "UsedPercent", memory.usedPercent, 100),
        () => percentRange("Memory", "ProcessUsedPercent", memory.processUsedPercent, 100),
      ));
    },
    () => {
      const disk = host.disk;
      if (!disk) return undefined;
      return embedded(m, "Disk", first(
        () => percentRange("Disk", "UsedPercent", disk.usedPercent, 100),
        () => percentRange("Disk", "InodesUsedPercent", disk.inodesUsedPercent, 100),
      ));
    },
  );
}

/** The full Peer rules; candidate parents echoed in ReschedulePeerRequest must pass them. */
export function validatePeer(peer: Peer): Problem {
  const m = "Peer";
  return first(
    () => minLen1(m, "Id", peer.id),
    () => definedEnum(m, "Priority", peer.priority, Priority),
    () => pieceList(m, peer.pieces),
    () => required(m, "Cost", peer.cost),
    () => minLen1(m, "State", peer.state),
    () => required(m, "Task", peer.task) ?? embedded(m, "Task", validateTask(peer.task as Task)),
    () => required(m, "Host", peer.host) ?? embedded(m, "Host", validateHost(peer.host as Host)),
    () => required(m, "CreatedAt", peer.createdAt),
    () => required(m, "UpdatedAt", peer.updatedAt),
  );
}

function pieceList(message: string, pieces: Piece[]): Problem {
  for (const [index, piece] of pieces.entries()) {
    const problem = embedded(message, `Pieces[${index}]`, validatePiece(piece));
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function validateBackToSourceFailed(request: DownloadPieceBackToSourceFailedRequest): Problem {
  const m = "DownloadPieceBackToSourceFailedRequest";
  const response = request.response;
  if (response === undefined) return fail(m, "Response", "value is required");
  if (response.$case === "unknown") return undefined;
  const statusCode = response.value.statusCode;
  if (statusCode === undefined || (statusCode >= 100 && statusCode < 599)) return undefined;
  return embedded(m, "Backend", fail("Backend", "StatusCode", "value must be inside range [100, 599)"));
}

/** Every AnnouncePeer stream message: ids, the required oneof, and the set member's rules. */
export function validateAnnouncePeerRequest(request: AnnouncePeerRequest): Problem {
  const m = "AnnouncePeerRequest";
  const ids = first(
    () => minLen1(m, "HostId", request.hostId),
    () => minLen1(m, "TaskId", request.taskId),
    () => minLen1(m, "PeerId", request.peerId),
  );
  if (ids !== undefined) return ids;
  const member = request.request;
  if (member === undefined) return fail(m, "Request", "value is required");
  switch (member.$case) {
    case "registerPeerRequest": {
      const download = member.value.download;
      const inner = required("RegisterPeerRequest", "Download", download) ??
        embedded("RegisterPeerRequest", "Download", validateDownload(download as Download));
      return embedded(m, "RegisterPeerRequest", inner);
    }
    case "downloadPeerBackToSourceStartedRequest":
      return embedded(m, "DownloadPeerBackToSourceStartedRequest",
        optionalMinLen1("DownloadPeerBackToSourceStartedRequest", "Description", member.value.description));
    case "reschedulePeerRequest": {
      for (const [index, peer] of member.value.candidateParents.entries()) {
        const inner = embedded("ReschedulePeerRequest", `CandidateParents[${index}]`, validatePeer(peer));
        if (inner !== undefined) return embedded(m, "ReschedulePeerRequest", inner);
      }
      return undefined;
    }
    case "downloadPieceFinishedRequest":
    case "downloadPieceBackToSourceFinishedRequest": {
      const name = member.$case === "downloadPieceFinishedRequest"
        ? "DownloadPieceFinishedRequest"
        : "DownloadPieceBackToSourceFinishedRequest";
      const piece = member.value.piece;
      const inner = required(name, "Piece", piece) ?? embedded(name, "Piece", validatePiece(piece as Piece));
      return embedded(m, name, inner);
    }
    case "downloadPieceFailedRequest":
      return embedded(m, "DownloadPieceFailedRequest", minLen1("DownloadPieceFailedRequest", "ParentId", member.value.parentId));
    case "downloadPieceBackToSourceFailedRequest":
      return embedded(m, "DownloadPieceBackToSourceFailedRequest", validateBackToSourceFailed(member.value));
    default:
      return undefined;
  }
}

export function validateAnnounceHostRequest(request: AnnounceHostRequest): Problem {
  const m = "AnnounceHostRequest";
  return required(m, "Host", request.host) ?? embedded(m, "Host", validateHost(request.host as Host));
}

/** DeletePeer / StatPeer / DeleteTask / StatTask / DeleteHost: every id field non-empty. */
export function validateIds(message: string, ids: Record<string, string>): Problem {
  for (const [field, value] of Object.entries(ids)) {
    const problem = minLen1(message, field, value);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

export function validateListSchedulersRequest(request: ListSchedulersRequest): Problem {
  const m = "ListSchedulersRequest";
  const lengthRange = (field: string, value: string | undefined): Problem => {
    if (value === undefined) return undefined;
    const length = runeLength(value);
    return length >= 1 && length <= 1024 ? undefined : fail(m, field, "value length must be between 1 and 1024 runes, inclusive");
  };
  const maxLength = (field: string, value: string): Problem =>
    runeLength(value) > 1024 ? fail(m, field, "value length must be at most 1024 runes") : undefined;
  return first(
    () => definedEnum(m, "SourceType", request.sourceType, SourceType),
    () => (isDnsHostname(request.hostname) ? undefined : fail(m, "Hostname", "value must be a valid hostname")),
    () => ipAddress(m, "Ip", request.ip),
    () => lengthRange("Idc", request.idc),
    () => lengthRange("Location", request.location),
    () => maxLength("Version", request.version),
    () => maxLength("Commit", request.commit),
  );
}
