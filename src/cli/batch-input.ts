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

/** The list's text from a file, or from stdin for "-". Unreadable → usage error (2). */
export async function readInputList(source: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  try {
    if (source !== "-") return await readFile(source, "utf8");
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    return Buffer.concat(chunks).toString("utf8");
  } catch (err) {
    throw new UsageError(`-i ${source}: cannot read the URL list: ${messageOf(err)}`, { cause: err });
  }
}
