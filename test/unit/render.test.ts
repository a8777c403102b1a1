// Colour decisions, byte formatting and the progress value: pure pieces of what users see.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { PassThrough } from "node:stream";
import { colorLevel, formatBytes, Renderer } from "../../src/cli/render.js";
import { makeProgress, type DownloadEvents } from "../../src/engine/events.js";

test("colour: --color wins, then NO_COLOR, FORCE_COLOR, TERM=dumb, then the TTY", () => {
  assert.equal(colorLevel("never", { FORCE_COLOR: "1" }, true), 0);
  assert.equal(colorLevel("always", { NO_COLOR: "1" }, false), 1);
  assert.equal(colorLevel("auto", { NO_COLOR: "1" }, true), 0);
  assert.equal(colorLevel("auto", { NO_COLOR: "" }, true), 1, "an empty NO_COLOR does not count (no-color.org)");
  assert.equal(colorLevel("auto", { FORCE_COLOR: "1" }, false), 1);
  assert.equal(colorLevel("auto", { FORCE_COLOR: "0" }, true), 0);
  assert.equal(colorLevel("auto", { TERM: "dumb" }, true), 0);
  assert.equal(colorLevel("auto", {}, true), 1);
  assert.equal(colorLevel("auto", {}, false), 0);
});

test("formatBytes uses binary units", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(256 * 1024 * 1024), "256.0 MiB");
});

test("makeProgress: percent from counters, 1 for an empty file, undefined without a total", () => {
  assert.deepEqual(makeProgress(50, 200, 1, 4), { transferred: 50, total: 200, percent: 0.25, piecesDone: 1, piecesTotal: 4 });
  assert.equal(makeProgress(0, 0, 0, 0).percent, 1);
  assert.equal(makeProgress(10, undefined, 0, 0).percent, undefined);
  assert.equal(makeProgress(300, 200, 4, 4).percent, 1, "never above 100%");
});

test("line mode on a pipe: plain lines only, the switch is one visible notice, no control characters", () => {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  let text = "";
  (stream as unknown as PassThrough).on("data", (b: Buffer) => (text += b.toString()));
  const events = new EventEmitter<DownloadEvents>();
  const r = new Renderer({ progress: "auto", color: "auto", quiet: false, verbose: false, stream, env: {}, lineIntervalMs: 10 });
  r.attach(events);
  events.emit("progress", makeProgress(0, 100, 0, 2));
  events.emit("attempt", { addr: "10.0.0.1:8002", outcome: "refused", ms: 2 });
  events.emit("schedulerSwitch", { from: undefined, to: "10.0.0.2:8002", reason: "" });
  events.emit("progress", makeProgress(100, 100, 2, 2));
  r.finish(true);
  assert.match(text, /dfget: scheduler 10\.0\.0\.1:8002 refused → 10\.0\.0\.2:8002\n/);
  assert.match(text, /dfget: 100% 100 B\/100 B .* pieces 2\/2 via 10\.0\.0\.2:8002\n$/);
  assert.doesNotMatch(text, /[\r\u001b]/);
});

test("quiet: nothing at all on success", () => {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  let text = "";
  (stream as unknown as PassThrough).on("data", (b: Buffer) => (text += b.toString()));
  const events = new EventEmitter<DownloadEvents>();
  const r = new Renderer({ progress: "auto", color: "auto", quiet: true, verbose: false, stream, env: {} });
  r.attach(events);
  events.emit("notice", "hello");
  events.emit("progress", makeProgress(100, 100, 1, 1));
  r.finish(true);
  assert.equal(text, "");
});
