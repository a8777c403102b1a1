// Module loader hook for loaded-modules.mjs: appends the URL of every module loaded
// (one a line) to the file named at registration. Synchronous, so nothing is lost when
// the CLI calls process.exit().
import { appendFileSync } from "node:fs";

let file;

export function initialize(data) {
  file = data.file;
}

export async function load(url, context, nextLoad) {
  appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
}
