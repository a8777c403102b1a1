// Whether a run is a batch (several URLs, -i, --recursive). Its own module so that a
// single download decides this without loading the batch machinery (picomatch, S3).
import type { RunConfig } from "../config/types.js";

export function isBatchRun(config: Pick<RunConfig, "urls" | "inputFile" | "recursive">): boolean {
  return config.urls.length > 1 || config.inputFile !== undefined || config.recursive;
}
