// -I/--include-files GLOB for `-r s3://BUCKET/PREFIX/`, matched against the key relative
// to the prefix. Upstream dfget (Rust client, dfget/main.rs) validates each -I with the
// `glob` crate's Pattern and rejects "..", "." and a leading "/"; then it joins the pattern
// to the base URL and lists that path (a "dir/" pattern = that subtree). The `glob` crate's
// default MatchOptions have require_literal_separator = false, so there `*` DOES cross "/"
// ("*.txt" matches "a/b.txt"). We keep that: picomatch with `bash: true` (a single `*`
// matches across "/") and `dot: true` (require_literal_leading_dot = false); and a pattern
// ending in "/" selects that whole subtree, as upstream's joined directory URL does.
import picomatch from "picomatch";
import { UsageError } from "../errors.js";

export type KeyFilter = (relativeKey: string) => boolean;

export function includeFilter(globs: readonly string[]): KeyFilter {
  if (globs.length === 0) return () => true;
  const tests = globs.map((glob) => {
    if (glob === "" || glob.startsWith("/") || glob.split("/").some((s) => s === ".." || s === ".")) {
      throw new UsageError(`-I ${JSON.stringify(glob)}: must be a plain relative pattern (no "..", ".", or leading "/")`);
    }
    if (glob.endsWith("/")) return (key: string) => key.startsWith(glob);
    return picomatch(glob, { bash: true, dot: true });
  });
  return (key) => tests.some((test) => test(key));
}
