// The URL list of `-i FILE|-` (aria2c -i / wget -i style): one URL per line, an optional
// second field = the output path relative to -O DIR (the rest of the line, so it may hold
// spaces), blank lines and lines starting with "#" ignored. A URL itself never contains a
// raw space (percent-encode it), so the first run of whitespace ends it.
import { readFile } from "node:fs/promises";
import { UsageError, messageOf } from "../errors.js";

export interface InputLine {
  /** 1-based line number in the list, for messages ("same output as line 3"). */
  line: number;
  url: string;
  /** The second field as typed, if any. */
  path?: string;
}

export function parseInputList(text: string): InputLine[] {
  const lines: InputLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const match = /^(\S+)(?:\s+(.+))?$/.exec(trimmed)!;
    lines.push(match[2] === undefined ? { line: index + 1, url: match[1]! } : { line: index + 1, url: match[1]!, path: match[2] });
  });
  return lines;
}

/** The list's text from a file, or from stdin for "-". Unreadable → usage error (2).
 *  `signal` (Ctrl-C, --timeout) ends the wait for a producer that never closes stdin. */
export async function readInputList(source: string, signal?: AbortSignal, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  try {
    if (source !== "-") return await readFile(source, { encoding: "utf8", signal });
    const chunks: Buffer[] = [];
    const reading = (async () => {
      for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    })();
    await untilAborted(reading, signal);
    return Buffer.concat(chunks).toString("utf8");
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new UsageError(`-i ${source}: cannot read the URL list: ${messageOf(err)}`, { cause: err });
  }
}

/** `work`, or the signal's reason as soon as it aborts (the work is left to the exiting process). */
function untilAborted(work: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  work.catch(() => undefined);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
