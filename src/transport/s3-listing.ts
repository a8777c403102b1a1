// ListObjectsV2 over every page (S3 returns at most 1,000 keys a page; IsTruncated +
// NextContinuationToken lead to the next).
import { DfgetError, ExitCode, messageOf } from "../errors.js";
import type { S3Client } from "./s3.js";
import { listPageOf, type ListedObject } from "./s3-xml.js";

/** Safety stop: a store that keeps handing out the same token must not loop forever. */
const MAX_PAGES = 100_000;

export async function listAllObjects(client: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  const seen = new Set<string>();
  for (let page = 0; page < MAX_PAGES; page++) {
    const query: Record<string, string> = { "list-type": "2", prefix };
    if (token !== undefined) query["continuation-token"] = token;
    const response = await client.send("GET", bucket, "", {}, query, signal);
    if (response.statusCode !== 200) throw await client.failure(response, bucket, prefix);
    const body = await response.body.text();
    let parsed;
    try {
      parsed = listPageOf(body);
    } catch (err) {
      throw new DfgetError(`s3 listing of s3://${bucket}/${prefix} is malformed: ${messageOf(err)}`, "ERR_S3_LISTING", ExitCode.other);
    }
    objects.push(...parsed.objects);
    token = parsed.nextContinuationToken;
    if (token === undefined) return objects;
    if (seen.has(token)) throw new DfgetError(`s3 listing of s3://${bucket}/${prefix} repeats a continuation token`, "ERR_S3_LISTING", ExitCode.other);
    seen.add(token);
  }
  throw new DfgetError(`s3 listing of s3://${bucket}/${prefix} has more than ${MAX_PAGES} pages`, "ERR_S3_LISTING", ExitCode.other);
}
