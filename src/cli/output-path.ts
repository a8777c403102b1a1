// Where a download is saved when -O names a directory (cli.md, "Additions in 0.2"):
// `-O DIR/` or an existing directory saves inside it under the URL's last path segment,
// percent-decoded, query dropped — as `cp FILE DIR/` would. One rule for one URL and for
// batches (cli/batch*.ts reuses outputNameOf). A missing parent directory is reported up
// front, in the words the user typed, before any byte is fetched.
import { stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { UsageError, WriteError } from "../errors.js";

export type PathKind = "dir" | "file" | "missing";
/** What is at a path (following symlinks). Injectable for tests. */
export type ProbePath = (path: string) => Promise<PathKind>;

export const probePath: ProbePath = async (path) => {
  try {
    return (await stat(path)).isDirectory() ? "dir" : "file";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "missing";
    // ENOTDIR: a parent is a file; the caller reports it against the path the user gave.
    if (code === "ENOTDIR") return "file";
    throw err;
  }
};

/**
 * The file name a URL saves under: its last path segment, percent-decoded, without query
 * or fragment. Throws UsageError when the URL has none (`https://host/`, `.../dir/`) or it
 * is not a plain name (`..`, a decoded `/`, NUL).
 */
export function outputNameOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new UsageError(`cannot name a file after ${JSON.stringify(url)}: not a URL`, { cause: err });
  }
  const segment = parsed.pathname.split("/").at(-1) ?? "";
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    name = segment;
  }
  const noName = (why: string): UsageError =>
    new UsageError(`cannot name a file after ${url} (${why}); give -O a file path`);
  if (name === "") throw noName("the URL path ends in /");
  if (name === "." || name === "..") throw noName(`its last segment is ${JSON.stringify(name)}`);
  if (name.includes("/") || name.includes("\0") || (process.platform === "win32" && name.includes("\\"))) {
    throw noName(`its last segment ${JSON.stringify(name)} is not a plain file name`);
  }
  return name;
}

/**
 * The absolute file path for `-O given` (as typed) and one URL. `DIR/` or an existing
 * directory → DIR/<name from the URL>; otherwise the path itself, whose directory must
 * exist (WriteError 23 naming `given` otherwise).
 */
export async function resolveOutputPath(given: string, url: string, cwd: string, probe: ProbePath = probePath): Promise<string> {
  const absolute = resolve(cwd, given);
  const endsWithSlash = given.endsWith("/");
  const kind = await probe(absolute);
  if (endsWithSlash || kind === "dir") {
    if (kind === "missing") throw new WriteError(`cannot save to ${given}: no such directory`);
    if (kind === "file") throw new WriteError(`cannot save to ${given}: not a directory`);
    return join(absolute, outputNameOf(url));
  }
  const parent = dirname(absolute);
  const parentKind = await probe(parent);
  const parentAsTyped = given.includes("/") ? dirname(given) : ".";
  if (parentKind === "missing") throw new WriteError(`cannot save to ${given}: no such directory ${parentAsTyped}`);
  if (parentKind === "file") throw new WriteError(`cannot save to ${given}: ${parentAsTyped} is not a directory`);
  return join(parent, basename(absolute));
}
