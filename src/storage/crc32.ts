// crc32 from @node-rs/crc32 (a native addon behind a CommonJS loader), required rather
// than imported: an ES import of a CommonJS file makes Node scan its source first
// (cjs-module-lexer) to find the export names — start-up time for nothing (issue 12 item 5).
import { createRequire } from "node:module";
import type * as Crc32 from "@node-rs/crc32";

export const { crc32 } = createRequire(import.meta.url)("@node-rs/crc32") as typeof Crc32;
