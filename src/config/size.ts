// Byte sizes as Dragonfly users write them (dfget's --piece-length is a Rust `bytesize`
// value, e.g. `4mib`), so the same strings mean the same number of bytes here:
// - a plain integer is bytes: `4194304`;
// - binary units are powers of 1024: `KiB`, `MiB`, `GiB`, `TiB` (also `Ki`, `Mi`, ...);
// - decimal units are powers of 1000, as in bytesize: `KB`, `MB`, `GB`, `TB` (also `K`,
//   `M`, ...), so `4MB` = 4,000,000 and `4M` is NOT 4 MiB;
// - units are case-insensitive (`8mib`), `B` is bytes, one optional space before the unit;
// - no sign, no fraction (`1.5MiB` is rejected), the result must be a safe integer.

const UNIT_BYTES: ReadonlyMap<string, number> = new Map(Object.entries({
  "": 1,
  b: 1,
  k: 1e3, kb: 1e3,
  ki: 2 ** 10, kib: 2 ** 10,
  m: 1e6, mb: 1e6,
  mi: 2 ** 20, mib: 2 ** 20,
  g: 1e9, gb: 1e9,
  gi: 2 ** 30, gib: 2 ** 30,
  t: 1e12, tb: 1e12,
  ti: 2 ** 40, tib: 2 ** 40,
}));

/** Bytes for a size string; throws Error(`invalid size "…"`) otherwise. */
export function parseSize(s: string): number {
  const invalid = (why: string): Error => new Error(`invalid size ${JSON.stringify(s)} (${why})`);
  const match = /^(\d+)(?: ?([A-Za-z]+))?$/.exec(s);
  if (!match) {
    if (/^\d+\.\d/.test(s)) throw invalid("fractions are not accepted; use a smaller unit");
    throw invalid("expected e.g. 4194304, 4MiB, 8mib");
  }
  const unitText = match[2] ?? "";
  const unit = UNIT_BYTES.get(unitText.toLowerCase());
  if (unit === undefined) throw invalid(`unknown unit ${JSON.stringify(unitText)}; use B, KiB, MiB, GiB, TiB or KB, MB, GB, TB`);
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw invalid("too large");
  return bytes;
}

/** Shortest exact spelling with a binary unit: 4194304 → "4MiB", 1000 → "1000B". */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`cannot format size ${bytes}`);
  for (const [unit, factor] of [["TiB", 2 ** 40], ["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]] as const) {
    if (bytes > 0 && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}
