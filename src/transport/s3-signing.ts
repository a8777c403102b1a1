// AWS Signature V4 for S3 requests, through the AWS SDK's own signer (@smithy/signature-v4
// with Node's crypto for SHA-256): never a hand-written canonicaliser. GET and HEAD carry
// no body, so the payload is declared UNSIGNED-PAYLOAD (S3 and every compatible store
// accept it). The test S3 server verifies with the same functions (test/support/s3.ts).
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import type { S3Credentials, S3Target } from "./s3-location.js";

export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

export interface RequestToSign {
  method: "GET" | "HEAD";
  target: S3Target;
  /** Lower-case names; host, x-amz-date and x-amz-content-sha256 are added here. */
  headers: Record<string, string>;
  /** Query parameters (decoded); encoded in S3's way by the signer and by queryString(). */
  query?: Record<string, string>;
}

/** The headers to send: the given ones plus host, x-amz-*, authorization. */
export async function signRequest(request: RequestToSign, region: string, credentials: S3Credentials, signingDate?: Date): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: "s3",
    region,
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken },
    sha256: Hash.bind(null, "sha256"),
    // S3 signs the path as sent (each key segment escaped once), unlike other services.
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: request.target.protocol,
      hostname: request.target.hostname,
      port: request.target.port,
      path: request.target.path,
      query: request.query ?? {},
      headers: { ...request.headers, host: request.target.host, "x-amz-content-sha256": UNSIGNED_PAYLOAD },
    },
    { signingDate: signingDate ?? new Date() },
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = String(value);
  return headers;
}

/** "a=1&b=x%2Fy", keys sorted, values escaped as S3 canonicalises them. */
export function queryString(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((name) => `${escapeQuery(name)}=${escapeQuery(query[name]!)}`)
    .join("&");
}

function escapeQuery(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface AuthorizationFields {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses "AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/s3/aws4_request, SignedHeaders=a;b, Signature=HEX". */
export function parseAuthorization(header: string): AuthorizationFields | undefined {
  const match = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(header.trim());
  if (!match) return undefined;
  return {
    accessKeyId: match[1]!,
    date: match[2]!,
    region: match[3]!,
    service: match[4]!,
    signedHeaders: match[5]!.split(";"),
    signature: match[6]!,
  };
}

/** "20260102T030405Z" → Date. */
export function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}
