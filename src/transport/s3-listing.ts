// ListObjectsV2 over every page (S3 returns at most 1,000 keys a page; IsTruncated +
// NextContinuationToken lead to the next). A page that fails transiently (503 SlowDown,
// 500 InternalError, a reset, a body cut short) is asked again with the piece retry rules
// (retry-policy.ts: backoff with jitter, `retries` tries after the first), as AWS's own
// clients do: one throttled page of a long listing must not fail the whole -r run.
import { DfgetError, ExitCode, PartialTransferError, messageOf } from "../errors.js";
import { DEFAULT_RETRIES, RetryPolicy } from "./retry-policy.js";
import type { S3Client } from "./s3.js";
import { listPageOf, type ListedObject, type ListPage } from "./s3-xml.js";

/** Safety stop: a store that keeps handing out the same token must not loop forever. */
const MAX_PAGES = 100_000;

export interface ListOptions {
  signal?: AbortSignal;
  /** Tries after the first, per page (--retry). */
  retries?: number;
  /** Injected in tests (a fake timer, no jitter). */
  retry?: RetryPolicy;
}

export async function listAllObjects(client: S3Client, bucket: string, prefix: string, options: ListOptions = {}): Promise<ListedObject[]> {
  const retry = options.retry ?? new RetryPolicy({ retries: options.retries ?? DEFAULT_RETRIES });
  const objects: ListedObject[] = [];
  let token: string | undefined;
  const seen = new Set<string>();
  for (let page = 0; page < MAX_PAGES; page++) {
    // encoding-type=url: keys come percent-encoded, so any key survives (XML 1.0 cannot
    // carry a CR or other control characters; S3 sends them as "&#13;" otherwise).
    const query: Record<string, string> = { "list-type": "2", prefix, "encoding-type": "url" };
    if (token !== undefined) query["continuation-token"] = token;
    const parsed = await withRetries(retry, page, options.signal, () => listPage(client, bucket, prefix, query, options.signal));
    objects.push(...parsed.objects);
    token = parsed.nextContinuationToken;
    if (token === undefined) return objects;
    if (seen.has(token)) throw new DfgetError(`s3 listing of s3://${bucket}/${prefix} repeats a continuation token`, "ERR_S3_LISTING", ExitCode.other);
    seen.add(token);
  }
  throw new DfgetError(`s3 listing of s3://${bucket}/${prefix} has more than ${MAX_PAGES} pages`, "ERR_S3_LISTING", ExitCode.other);
}

async function withRetries<T>(retry: RetryPolicy, key: number, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      await retry.backoff(`list page ${key}`, err, signal);
    }
  }
}

async function listPage(client: S3Client, bucket: string, prefix: string, query: Record<string, string>, signal: AbortSignal | undefined): Promise<ListPage> {
  const response = await client.send("GET", bucket, "", {}, query, signal);
  if (response.statusCode !== 200) throw await client.failure(response, bucket, prefix);
  let body: string;
  try {
    body = await response.body.text();
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new PartialTransferError(`s3 listing of s3://${bucket}/${prefix} was cut short: ${messageOf(err)}`, { cause: err });
  }
  try {
    return listPageOf(body);
  } catch (err) {
    throw new DfgetError(`s3 listing of s3://${bucket}/${prefix} is malformed: ${messageOf(err)}`, "ERR_S3_LISTING", ExitCode.other);
  }
}
