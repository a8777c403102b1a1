// `-r s3://BUCKET/PREFIX/`: every object under the prefix (ListObjectsV2, all pages),
// filtered by -I, each saved at its key below the prefix under -O DIR. Keys ending in "/"
// are folder markers (zero-byte objects consoles create) and are skipped. As upstream
// dfget does, a prefix without a trailing "/" gets one: "-r s3://b/data" lists "data/".
import { listAllObjects, type ListOptions } from "../transport/s3-listing.js";
import { parseS3Url, s3UrlOf } from "../transport/s3-location.js";
import type { S3Client } from "../transport/s3.js";
import type { KeyFilter } from "./batch-glob.js";
import type { BatchSource } from "./batch-plan.js";

export interface PrefixListing {
  sources: BatchSource[];
  /** Keys ending in "/" that were skipped. */
  folderMarkers: number;
  /** Objects left out by -I. */
  excluded: number;
}

export function prefixOf(url: string): { bucket: string; prefix: string } {
  const { bucket, key } = parseS3Url(url);
  return { bucket, prefix: key === "" || key.endsWith("/") ? key : `${key}/` };
}

export async function listPrefix(client: S3Client, url: string, include: KeyFilter, options: ListOptions = {}): Promise<PrefixListing> {
  const { bucket, prefix } = prefixOf(url);
  const objects = await listAllObjects(client, bucket, prefix, options);
  const listing: PrefixListing = { sources: [], folderMarkers: 0, excluded: 0 };
  for (const object of objects) {
    if (object.key.endsWith("/")) {
      listing.folderMarkers++;
      continue;
    }
    const relative = object.key.slice(prefix.length);
    if (!include(relative)) {
      listing.excluded++;
      continue;
    }
    listing.sources.push({ label: `key ${object.key}`, url: s3UrlOf(bucket, object.key), relative });
  }
  return listing;
}
