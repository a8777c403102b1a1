// The S3 client for a run, from its settings: the composition root (cli/) calls this for
// s3:// URLs where it would build an OriginClient for http(s).
import type { RunConfig } from "../config/types.js";
import { resolveS3Settings } from "./s3-location.js";
import { S3Client } from "./s3.js";

export function s3ClientFor(config: RunConfig, version: string, env: NodeJS.ProcessEnv = {}): S3Client {
  return new S3Client(resolveS3Settings(config.storage, env), {
    connectTimeoutMs: config.scheduler.connectTimeoutMs,
    readTimeoutMs: config.download.pieceTimeoutMs,
    userAgent: `dfget/${version}`,
    connections: config.download.concurrentPieceCount,
  });
}
