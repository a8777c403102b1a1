// Rewrites the README's option table from the option table of src/cli (the same source as
// `dfget --help`), between the <!-- options:begin --> and <!-- options:end --> markers.
// Run: npm run -s readme-options
import { readFile, writeFile } from "node:fs/promises";
import { readmeOptionTable } from "../src/cli/help.js";

const README = new URL("../README.md", import.meta.url);
const BEGIN = "<!-- options:begin -->";
const END = "<!-- options:end -->";

const text = await readFile(README, "utf8");
const start = text.indexOf(BEGIN);
const end = text.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md: markers ${BEGIN} … ${END} not found`);
await writeFile(README, `${text.slice(0, start + BEGIN.length)}\n${readmeOptionTable()}\n${text.slice(end)}`);
