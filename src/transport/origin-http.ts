// Small pieces of the origin client: header flattening, lengths, URL checks, and
// throwing away an error page without letting that hide the status.
import type { Dispatcher } from "undici";
import { UsageError } from "../errors.js";
import { redactUrl } from "../net/redact.js";

const DISCARD_LIMIT_BYTES = 64 * 1024;

export function flattenHeaders(headers: Dispatcher.ResponseData["headers"]): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

export function parseLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  const length = Number(value);
  return Number.isSafeInteger(length) ? length : undefined;
}

export function parseOriginUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new UsageError(`not a valid URL: ${redactUrl(input)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`only http and https origins are supported, not ${url.protocol} (${redactUrl(url)})`);
  }
  return url;
}

export async function discard(body: Dispatcher.ResponseData["body"]): Promise<void> {
  // A failure while throwing away an error page must not hide the status we report.
  await body.dump({ limit: DISCARD_LIMIT_BYTES }).catch(() => undefined);
}

/** Stop reading a body for good; the error its destruction emits is expected, not news. */
export function drop(body: Dispatcher.ResponseData["body"]): void {
  body.on("error", () => undefined);
  body.destroy();
}
