// `dfget --help`: grouped sections from the option table, no type tags, examples last,
// at most 80 lines of at most 80 columns (test/unit/help.test.ts holds it to that).
// The README's option table is generated from the same table (readmeOptionTable), so the
// two cannot drift.
import { GROUPS, OPTIONS, USAGE, type OptionSpec } from "./options-table.js";

const WIDTH = 80;
const LEFT = 30;

const EXAMPLES = [
  "dfget https://example.com/big.tar -O big.tar --manager 10.0.0.10:65003",
  "dfget https://example.com/big.tar -O downloads/   # = downloads/big.tar",
  "dfget \"$URL\" -O - --scheduler 10.0.0.1:8002 | tar x",
  "dfget \"$URL\" -O model.bin --digest sha256:9f86d08... --json -q",
  "dfget -r s3://bucket/models/ -O models/ -I '*.safetensors'",
];

const FOOTER = [
  "No manager or scheduler configured: downloads straight from the origin.",
  "Precedence: flags > DFGET_<OPTION> environment > config file > defaults.",
  "Durations: 500ms, 2s, 1m30s, 2h. Sizes: 4mib, 64MiB, 4194304.",
  "Config keys (dfget.yaml), env names and exit codes: see the README.",
];

/** "-O, --output PATH" / "    --no-resume" as the left column shows it. */
export function flagLabel(spec: OptionSpec): string {
  const long = `--${spec.display ?? spec.name}${spec.arg ? ` ${spec.arg}` : ""}`;
  return spec.alias ? `-${spec.alias}, ${long}` : `    ${long}`;
}

/** The description with its default, unless the default says nothing (none, false). */
function describeWithDefault(spec: OptionSpec): string {
  const quiet = ["none", "false", "", "required", "resume"].includes(spec.default);
  return quiet ? spec.describe : `${spec.describe} [${spec.default}]`;
}

/** Greedy word wrap of `text` into lines of at most `width` columns. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

function optionLines(spec: OptionSpec): string[] {
  const label = `  ${flagLabel(spec)}`;
  const description = describeWithDefault(spec);
  // A long name keeps its description on the same line when both fit.
  if (label.length >= LEFT && label.length + 2 + description.length <= WIDTH) return [`${label}  ${description}`];
  const text = wrap(description, WIDTH - LEFT);
  if (label.length >= LEFT) return [label, ...text.map((t) => " ".repeat(LEFT) + t)];
  return text.map((t, i) => (i === 0 ? label.padEnd(LEFT) : " ".repeat(LEFT)) + t);
}

/** The six --storage-* options share one entry: their names say what they are. */
function storageLines(specs: readonly OptionSpec[]): string[] {
  const keys = specs.map((s) => s.name.slice("storage-".length)).join(", ");
  return ["      --storage-KEY VALUE".padEnd(LEFT) + "S3 settings; default from the AWS_* variables", ...wrap(`KEY: ${keys}`, WIDTH - LEFT).map((t) => " ".repeat(LEFT) + t)];
}

export function helpText(): string {
  const out = ["Usage:", ...USAGE.split("\n").map((u) => `  ${u}`)];
  for (const group of GROUPS) {
    out.push("", `${group}:`);
    const specs = OPTIONS.filter((o) => o.group === group && !o.hidden);
    for (const spec of specs.filter((o) => !o.name.startsWith("storage-"))) out.push(...optionLines(spec));
    const storage = specs.filter((o) => o.name.startsWith("storage-"));
    if (storage.length > 0) out.push(...storageLines(storage));
  }
  out.push("", ...FOOTER, "", "Examples:", ...EXAMPLES.map((e) => `  ${e}`));
  return `${out.join("\n")}\n`;
}

/** The README's option table: the same rows as --help, Markdown. */
export function readmeOptionTable(): string {
  const rows = ["| option | default | meaning |", "|---|---|---|"];
  for (const group of GROUPS) {
    rows.push(`| **${group}** | | |`);
    for (const spec of OPTIONS.filter((o) => o.group === group && !o.hidden)) {
      const cell = (t: string): string => t.replace(/\|/g, "\\|");
      const env = spec.env ? ` (env \`${spec.env}\`)` : "";
      rows.push(`| \`${cell(flagLabel(spec).trim())}\` | ${cell(spec.default)} | ${cell(spec.describe)}${env} |`);
    }
  }
  return rows.join("\n");
}
