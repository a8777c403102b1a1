// Task, host and peer ids, byte-identical to the Rust dfdaemon's IDGenerator
// (../shared/reference/dragonfly-client.md §2). Peers only share a task when every one of
// them derives the same 64-hex id from the same download, so nothing here may "improve"
// on Dragonfly: no separators in the hash, no sorting of query pairs, the quirky
// trailing-slash rule kept as is.
import { createHash, randomUUID } from "node:crypto";
import { UsageError } from "../errors.js";
import type { RunConfig } from "../config/types.js";

/**
 * Query keys dropped before hashing, so presigned URLs of one object share a task
 * (`default_proxy_rule_filtered_query_params`, 30 entries after de-duplication, in order).
 */
export const DEFAULT_FILTERED_QUERY_PARAMS: readonly string[] = Object.freeze([
  // S3
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Signature",
  "X-Amz-Security-Token",
  "X-Amz-User-Agent",
  // GCS
  "X-Goog-Algorithm",
  "X-Goog-Credential",
  "X-Goog-Date",
  "X-Goog-Expires",
  "X-Goog-SignedHeaders",
  "X-Goog-Signature",
  // OSS
  "OSSAccessKeyId",
  "Expires",
  "Signature",
  "SecurityToken",
  // OBS (its Expires/Signature duplicates are already listed above)
  "AccessKeyId",
  "X-Obs-Date",
  "X-Obs-Security-Token",
  // COS
  "q-sign-algorithm",
  "q-ak",
  "q-sign-time",
  "q-key-time",
  "q-header-list",
  "q-url-param-list",
  "q-signature",
  "x-cos-security-token",
  // containerd
  "ns",
]);

/** The Download fields that enter the task id. `undefined` means "None" on the Rust side. */
export interface TaskIdInput {
  url: string;
  tag?: string;
  application?: string;
  /** The piece length the user asked for (not the computed one); absent when none. */
  pieceLength?: number;
  filteredQueryParams: readonly string[];
  /** Hugging Face / ModelScope / OpenCSG revision, when the URL is one of those. */
  revision?: string;
  /** When given, the id is sha256 of this text and nothing else counts. */
  contentForCalculatingTaskId?: string;
}

/** `TaskType::Standard.as_str_name()`: appended to every URL-based id since client 0.2.28+. */
const STANDARD_TASK_TYPE = "STANDARD";

/**
 * The exact string that goes first into the URL-based hash: WHATWG-parsed, query pairs
 * whose decoded key is filtered dropped, the rest re-serialised form-urlencoded (even
 * when nothing was dropped), the query removed when no pair remains, and trailing "/"
 * stripped only when the path is exactly "/".
 */
export function normalizeUrlForTask(url: string, filtered: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new UsageError("cannot parse the download URL to compute the task id", { cause: err });
  }

  const dropped = new Set(filtered);
  // searchParams decodes with application/x-www-form-urlencoded rules, as rust-url's
  // query_pairs does (empty pieces skipped, "+" is a space, lossy UTF-8).
  const kept: Array<[string, string]> = [];
  for (const [key, value] of parsed.searchParams) {
    if (!dropped.has(key)) kept.push([key, value]);
  }
  // URLSearchParams serialises with the same byte set as form_urlencoded::byte_serialize
  // (`*-._` and alphanumerics kept, space → "+", the rest %XX uppercase); assigning it to
  // `search` leaves those bytes alone. An empty string removes the "?" altogether.
  parsed.search = kept.length === 0 ? "" : new URLSearchParams(kept).toString();

  const serialised = parsed.href;
  if (parsed.pathname === "/" && serialised.endsWith("/")) {
    return serialised.replace(/\/+$/, "");
  }
  return serialised;
}

/** Lowercase hex SHA-256 task id, exactly as `IDGenerator::task_id` computes it. */
export function taskIdOf(p: TaskIdInput): string {
  const hash = createHash("sha256");
  if (p.contentForCalculatingTaskId !== undefined) {
    return hash.update(p.contentForCalculatingTaskId, "utf8").digest("hex");
  }
  // No separators and no length prefixes: `--tag x` and `--application x` collide on
  // purpose, because the Rust client does.
  hash.update(normalizeUrlForTask(p.url, p.filteredQueryParams), "utf8");
  if (p.tag !== undefined) hash.update(p.tag, "utf8");
  if (p.application !== undefined) hash.update(p.application, "utf8");
  if (p.revision !== undefined) hash.update(p.revision, "utf8");
  if (p.pieceLength !== undefined) {
    if (!Number.isSafeInteger(p.pieceLength) || p.pieceLength < 0) {
      throw new UsageError(`piece length must be a non-negative integer, got ${p.pieceLength}`);
    }
    hash.update(String(p.pieceLength), "utf8");
  }
  hash.update(STANDARD_TASK_TYPE, "utf8");
  return hash.digest("hex");
}

/** `{ip}-{hostname}`: the id a non-seed host registers under. */
export function hostIdOf(ip: string, hostname: string): string {
  return `${ip}-${hostname}`;
}

/** `{ip}-{hostname}-{uuid v4}`: a fresh one per registration (the Go scheduler refuses reuse). */
export function newPeerId(ip: string, hostname: string): string {
  return `${ip}-${hostname}-${randomUUID()}`;
}

/** The flags of a download that enter its task id (cli.md: the URL and flags only). */
export type TaskIdFlags = Pick<RunConfig, "url" | "tag" | "application" | "pieceLength" | "filteredQueryParams" | "contentForCalculatingTaskId">;

/** One download's task id from its configuration: pure, no I/O. */
export function taskIdOfConfig(cfg: TaskIdFlags): string {
  const { url, tag, application, pieceLength, filteredQueryParams, contentForCalculatingTaskId } = cfg;
  return taskIdOf({ url, tag, application, pieceLength, filteredQueryParams, contentForCalculatingTaskId });
}
