// dfget --help: grouped, no yargs type tags, examples last, at most 80 lines of 80 columns;
// the README's option table is the one the code generates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { helpText, readmeOptionTable } from "../../src/cli/help.js";
import { OPTIONS } from "../../src/cli/options-table.js";

const help = helpText();
const lines = help.trimEnd().split("\n");

test("at most 80 lines, none wider than 80 columns", () => {
  assert.ok(lines.length <= 80, `${lines.length} lines`);
  for (const line of lines) assert.ok(line.length <= 80, `too wide (${line.length}): ${line}`);
});

test("no yargs type tags or [default: ...] clutter", () => {
  for (const tag of ["[string]", "[boolean]", "[array]", "[number]", "[default:", "[required]", "required unless"]) {
    assert.ok(!help.includes(tag), `help shows ${tag}`);
  }
});

test("sections in order, then examples at the end", () => {
  const sections = ["Usage:", "Output:", "Origin and integrity:", "Task id:", "Cluster:", "Switching:", "Progress and logging:", "Config and general:", "Several files, object storage:", "Examples:"];
  let at = -1;
  for (const section of sections) {
    const index = lines.indexOf(section);
    assert.ok(index > at, `${section} missing or out of order`);
    at = index;
  }
  assert.ok(lines.slice(at + 1).every((l) => l.startsWith("  dfget ")), "only examples after Examples:");
});

test("every option but the dfdaemon-only ones is listed; upstream short names shown", () => {
  for (const spec of OPTIONS) {
    const shown = help.includes(`--${spec.display ?? spec.name}`) || (spec.name.startsWith("storage-") && help.includes(spec.name.slice(8)));
    assert.equal(shown, !spec.hidden, `--${spec.name}`);
  }
  for (const pair of ["-p, --priority N", "-l, --log-level LEVEL", "-O, --output PATH", "--no-resume", "--retry N"]) assert.ok(help.includes(pair), pair);
  assert.match(help, /--piece-length SIZE +4mib\.\.64mib; enters the task id \[computed\]/);
  assert.match(help, /trace\|debug\|info\|warn\|error \[info\]/);
});

test("the README's option table is the generated one", async () => {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  assert.ok(readme.includes(readmeOptionTable()), "README table differs: run `npm run -s readme-table` and paste it");
});
