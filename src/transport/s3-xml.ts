// S3's XML answers: error documents and ListObjectsV2 pages, read with fast-xml-parser.
// Listings are asked with encoding-type=url (keys percent-encoded, decoded here).
// Values stay strings (a key "007" is not the number 7) and are not trimmed (a key may
// end in a space).
import { XMLParser } from "fast-xml-parser";

export interface S3ErrorDocument {
  code: string;
  message?: string;
}

export interface ListedObject {
  key: string;
  size: number;
  etag?: string;
}

export interface ListPage {
  objects: ListedObject[];
  /** Present when IsTruncated: the token for the next page. */
  nextContinuationToken?: string;
}

const parser = new XMLParser({
  parseTagValue: false,
  trimValues: false,
  ignoreAttributes: true,
  isArray: (name) => name === "Contents",
});

type XmlNode = Record<string, unknown>;

function text(node: unknown): string | undefined {
  return typeof node === "string" ? node : undefined;
}

function record(node: unknown): XmlNode | undefined {
  return typeof node === "object" && node !== null && !Array.isArray(node) ? (node as XmlNode) : undefined;
}

function parse(body: string): XmlNode | undefined {
  try {
    return record(parser.parse(body));
  } catch {
    return undefined;
  }
}

/** `<Error><Code>…</Code><Message>…</Message></Error>`, or undefined for anything else. */
export function s3ErrorOf(body: string): S3ErrorDocument | undefined {
  const error = record(parse(body)?.Error);
  const code = text(error?.Code);
  if (code === undefined || code === "") return undefined;
  return { code, message: text(error?.Message) };
}

/** One ListObjectsV2 page; throws on a document that is not a ListBucketResult. */
export function listPageOf(body: string): ListPage {
  const result = record(parse(body)?.ListBucketResult);
  if (result === undefined) throw new Error("not a ListBucketResult document");
  const contents = Array.isArray(result.Contents) ? result.Contents : [];
  // Asked with encoding-type=url; a store that ignores it says no EncodingType and sends keys as they are.
  const urlEncoded = text(result.EncodingType) === "url";
  const objects: ListedObject[] = [];
  for (const entry of contents) {
    const node = record(entry);
    const raw = text(node?.Key);
    const key = raw !== undefined && urlEncoded ? formDecode(raw) : raw;
    const size = Number(text(node?.Size) ?? Number.NaN);
    if (key === undefined || !Number.isSafeInteger(size) || size < 0) throw new Error("ListBucketResult entry without a Key or a Size");
    objects.push({ key, size, etag: text(node?.ETag) });
  }
  const truncated = text(result.IsTruncated) === "true";
  const token = text(result.NextContinuationToken);
  if (truncated && (token === undefined || token === "")) throw new Error("ListBucketResult is truncated but has no NextContinuationToken");
  return { objects, nextContinuationToken: truncated ? token : undefined };
}

/** S3's encoding-type=url is form encoding: "+" is a space, a real "+" is "%2B". */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    throw new Error(`ListBucketResult key is not valid URL encoding: ${JSON.stringify(value)}`);
  }
}
