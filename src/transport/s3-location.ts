// Where an s3:// object lives and who we are to the store: URL → (bucket, key), the
// HTTP URL of a request (virtual-hosted on AWS, path-style on a custom endpoint such as
// MinIO, Ceph RGW, R2 or an IP), and the credentials/region/endpoint settings resolved
// from --storage-* options first, then the usual AWS_* environment variables.
import { UsageError } from "../errors.js";

/** Object-storage schemes upstream dfget knows; only s3 is served here. */
export const OBJECT_STORAGE_SCHEMES: ReadonlySet<string> = new Set(["s3:", "gs:", "abs:", "oss:", "obs:", "cos:"]);

export interface StorageOptions {
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  sessionToken?: string;
  insecureSkipVerify: boolean;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3Settings {
  /** Custom endpoint (scheme://host[:port]); undefined = AWS. */
  endpoint?: URL;
  region: string;
  /** undefined = anonymous requests (public buckets). */
  credentials?: S3Credentials;
  insecureSkipVerify: boolean;
}

export interface S3Object {
  bucket: string;
  /** The decoded object key, e.g. "dir/a b.txt" (may be "" for a bucket root). */
  key: string;
}

const DEFAULT_REGION = "us-east-1";

export function isObjectStorageUrl(url: string): boolean {
  return OBJECT_STORAGE_SCHEMES.has(schemeOf(url));
}

export function isS3Url(url: string): boolean {
  return schemeOf(url) === "s3:";
}

function schemeOf(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(url);
  return match ? match[1]!.toLowerCase() : "";
}

/** gs://, abs://, oss://, obs://, cos:// — upstream's other backends — are a usage error here. */
export function refuseUnsupportedObjectStorage(url: string): void {
  const scheme = schemeOf(url);
  if (OBJECT_STORAGE_SCHEMES.has(scheme) && scheme !== "s3:") {
    throw new UsageError(`${scheme.slice(0, -1)}:// is not supported yet: use an https:// URL or s3://`);
  }
}

/** s3://BUCKET/KEY → bucket and decoded key. Parsed by hand, not with URL: a URL parser
 *  folds "a/../b" and even "a/%2E%2E/b" into "b", which is another object. */
export function parseS3Url(input: string): S3Object {
  const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?(?:[?#].*)?$/i.exec(input);
  if (!match || match[1] === "") throw new UsageError(`not an s3://BUCKET/KEY URL: ${input}`);
  if (match[1]!.includes("@")) throw new UsageError("s3:// URLs carry no credentials: use --storage-access-key-id/--storage-access-key-secret");
  let key: string;
  try {
    key = decodeURIComponent((match[2] ?? "").replace(/^\//, ""));
  } catch {
    throw new UsageError(`s3:// URL has a malformed percent-escape: ${input}`);
  }
  return { bucket: match[1]!, key };
}

/** The s3:// URL of a key in a bucket (the form task ids are computed over). */
export function s3UrlOf(bucket: string, key: string): string {
  return `s3://${bucket}/${encodeS3Key(key)}`;
}

/** S3's canonical URI encoding: every byte but A-Za-z0-9-._~ escaped, "/" kept between segments. */
export function encodeS3Key(key: string): string {
  return key
    .split("/")
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join("/");
}

export function resolveS3Settings(options: StorageOptions, env: NodeJS.ProcessEnv): S3Settings {
  const endpointText = options.endpoint ?? nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  let endpoint: URL | undefined;
  if (endpointText !== undefined) {
    try {
      endpoint = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(endpointText) ? endpointText : `https://${endpointText}`);
    } catch {
      throw new UsageError(`--storage-endpoint is not a URL: ${endpointText}`);
    }
    if (endpoint.protocol !== "http:" && endpoint.protocol !== "https:") {
      throw new UsageError(`--storage-endpoint must be http:// or https://, not ${endpoint.protocol}`);
    }
  }
  const region = options.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? DEFAULT_REGION;
  const fromOptions = options.accessKeyId !== undefined || options.accessKeySecret !== undefined;
  const accessKeyId = fromOptions ? options.accessKeyId : nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = fromOptions ? options.accessKeySecret : nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  const sessionToken = fromOptions ? options.sessionToken : (options.sessionToken ?? nonEmpty(env.AWS_SESSION_TOKEN));
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new UsageError("S3 credentials need both an access key id and a secret (--storage-access-key-id and --storage-access-key-secret, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
  const credentials = accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey, sessionToken } : undefined;
  return { endpoint, region, credentials, insecureSkipVerify: options.insecureSkipVerify };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** Where one request goes. `path` is raw (already escaped) and must be sent as it is:
 *  a URL object would fold "a/../b" (even "%2E%2E") and fetch another key. */
export interface S3Target {
  origin: string;
  host: string;
  hostname: string;
  port?: number;
  protocol: string;
  path: string;
}

/**
 * The target of a request on a bucket (key "" = the bucket itself, for listings).
 * A custom endpoint is addressed path-style (ENDPOINT/BUCKET/KEY): IP endpoints and most
 * S3-compatible stores need it. AWS is addressed virtual-hosted, except for bucket names
 * that are not valid DNS labels (dots break the TLS wildcard), which go path-style.
 */
export function requestTarget(settings: S3Settings, bucket: string, key: string): S3Target {
  const encodedKey = encodeS3Key(key);
  let base: URL;
  let path: string;
  if (settings.endpoint !== undefined) {
    base = settings.endpoint;
    path = `${settings.endpoint.pathname.replace(/\/+$/, "")}/${bucket}/${encodedKey}`;
  } else if (/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)) {
    base = new URL(`https://${bucket}.s3.${settings.region}.amazonaws.com`);
    path = `/${encodedKey}`;
  } else {
    base = new URL(`https://s3.${settings.region}.amazonaws.com`);
    path = `/${bucket}/${encodedKey}`;
  }
  return { origin: base.origin, host: base.host, hostname: base.hostname, port: base.port === "" ? undefined : Number(base.port), protocol: base.protocol, path };
}
