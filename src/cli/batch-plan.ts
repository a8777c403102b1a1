// Where each file of a batch goes, decided before any download: the URL's last path
// segment (cli/output-path.ts, the same rule as one URL with -O DIR/), or the path given
// on the -i line (ending in "/": a directory, the file keeps the URL's name inside it, as
// with -O DIR/), or the key below the -r prefix (keys ending in "/" never get here). Then the conflicts, found up front:
//   - two entries writing the same path, or the same URL listed twice → the later entry
//     fails with 73 ("same output as line N" / "same URL as line N"). A repeated URL is
//     refused rather than fetched once and written twice: the list is probably wrong,
//     and one task downloaded to two places is what `cp` is for;
//   - a path that would leave DIR (a ".." segment, a leading "/", a NUL) → that entry
//     fails with exit 1; the others still download.
import { isAbsolute, join, relative as relativePath, resolve, sep } from "node:path";
import { DfgetError, ExitCode, OutputExistsError } from "../errors.js";
import { outputNameOf } from "./output-path.js";

export interface BatchSource {
  /** How messages name the entry: "line 3", "argument 2", "key data/a.bin". */
  label: string;
  url: string;
  /** Output path relative to DIR (from a -i line or an s3 key); undefined = named after the URL. */
  relative?: string;
  /** Already known to fail (e.g. an invalid URL on a -i line). */
  failure?: DfgetError;
}

export interface BatchEntry {
  label: string;
  url: string;
  /** Absolute output path ("" when it could not be named). */
  output: string;
  /** Set when the entry fails before any download. */
  failure?: DfgetError;
}

/** A key or list path that would write outside -O DIR. Exit 1 for that file only. */
export class UnsafePathError extends DfgetError {
  constructor(message: string) {
    super(message, "ERR_UNSAFE_PATH", ExitCode.other);
    this.name = "UnsafePathError";
  }
}

/** DIR/relative, or UnsafePathError when `relative` could leave DIR. */
export function pathUnder(dir: string, relative: string): string {
  const segments = relative.split("/");
  if (relative === "" || relative.includes("\0") || isAbsolute(relative) || relative.startsWith("/") || relative.includes("\\") || segments.includes("..")) {
    throw new UnsafePathError(`${JSON.stringify(relative)} would be written outside ${dir} (".." segment, leading "/" or backslash): skipped`);
  }
  const target = resolve(dir, relative);
  const inside = relativePath(dir, target);
  if (inside === "" || inside.startsWith(`..${sep}`) || inside === ".." || isAbsolute(inside)) {
    throw new UnsafePathError(`${JSON.stringify(relative)} does not name a file inside ${dir}: skipped`);
  }
  return target;
}

/** A list path ending in "/" is a directory, as `-O DIR/` is: the file keeps the URL's name inside it. */
function namedInside(relative: string, url: string): string {
  return relative.endsWith("/") ? `${relative}${outputNameOf(url)}` : relative;
}

export function planBatch(sources: readonly BatchSource[], dir: string): BatchEntry[] {
  const byOutput = new Map<string, string>();
  const byUrl = new Map<string, string>();
  return sources.map((source): BatchEntry => {
    let output = "";
    if (source.failure) return { label: source.label, url: source.url, output, failure: source.failure };
    try {
      output = source.relative === undefined ? join(dir, outputNameOf(source.url)) : pathUnder(dir, namedInside(source.relative, source.url));
    } catch (err) {
      return { label: source.label, url: source.url, output, failure: err instanceof DfgetError ? err : new DfgetError(String(err)) };
    }
    const sameUrl = byUrl.get(source.url);
    const sameOutput = byOutput.get(output);
    byUrl.set(source.url, byUrl.get(source.url) ?? source.label);
    byOutput.set(output, byOutput.get(output) ?? source.label);
    if (sameOutput !== undefined) return { label: source.label, url: source.url, output, failure: new OutputExistsError(`${source.label}: same output as ${sameOutput} (${output})`) };
    if (sameUrl !== undefined) return { label: source.label, url: source.url, output, failure: new OutputExistsError(`${source.label}: same URL as ${sameUrl} (${source.url})`) };
    return { label: source.label, url: source.url, output };
  });
}
