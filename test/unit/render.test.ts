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
  events.emit("notice", "scheduler 10.0.0.1:8002 refused → 10.0.0.2:8002"); // the selector's fallback line
  events.emit("schedulerSwitch", { from: undefined, to: "10.0.0.2:8002", reason: "" });
  events.emit("progress", makeProgress(100, 100, 2, 2));
  r.finish(true);
  assert.equal(text.match(/dfget: scheduler 10\.0\.0\.1:8002 refused → 10\.0\.0\.2:8002\n/g)?.length, 1, "once, not repeated by the switch");
  assert.match(text, /dfget: 100% 100 B\/100 B .* pieces 2\/2 via 10\.0\.0\.2:8002\n$/);
  assert.doesNotMatch(text, /[\r\u001b]/);
});

test("line mode: the final 100 % line is not printed twice when the timer already showed it", (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  let text = "";
  (stream as unknown as PassThrough).on("data", (b: Buffer) => (text += b.toString()));
  const events = new EventEmitter<DownloadEvents>();
  // The clock moves between the timer's line and finish(): the rate in the text differs,
  // the progress does not, so the line must not repeat.
  let now = 0;
  const r = new Renderer({ progress: "line", color: "never", quiet: false, verbose: false, stream, env: {}, lineIntervalMs: 1000, now: () => now });
  r.attach(events);
  events.emit("progress", makeProgress(100, 100, 2, 2));
  now = 1000;
  t.mock.timers.tick(1000);
  now = 2000; // 100 B/s in the timer's line, 50 B/s now
  r.finish(true);
  assert.equal(text.match(/dfget: 100% /g)?.length, 1, text);
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

// ---- width, ETA, the closing line (issue 14) ----------------------------------------------

import { barLine, etaSeconds, RateMeter, savedLine } from "../../src/cli/progress-line.js";
import { emptyResult as emptyReport } from "../../src/engine/result.js";

/** A fake TTY: a stream with isTTY and columns, collecting what is written. */
function fakeTty(columns: number): { stream: NodeJS.WriteStream; text: () => string } {
  const pass = new PassThrough();
  let text = "";
  pass.on("data", (b: Buffer) => (text += b.toString()));
  const stream = Object.assign(pass, { isTTY: true, columns, cursorTo: () => true, clearLine: () => true, moveCursor: () => true }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

/** Visible lines: escapes removed, split at \n and \r (a redraw starts a new visible line). */
function visibleLines(text: string): string[] {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, "").split(/[\r\n]/);
}

const MiB = 1024 * 1024;

for (const width of [40, 60, 80, 120]) {
  test(`bar at ${width} columns: no line wider than the terminal; numbers outlive the bar`, () => {
    const { stream, text } = fakeTty(width);
    let clock = 0;
    const events = new EventEmitter<DownloadEvents>();
    const r = new Renderer({ progress: "auto", color: "never", quiet: false, verbose: false, stream, env: { TERM: "xterm" }, now: () => clock });
    r.attach(events);
    events.emit("schedulerSwitch", { from: undefined, to: "10.0.0.2:8002", reason: "" });
    for (let i = 0; i <= 64; i++) {
      clock = i * 1000;
      events.emit("progress", makeProgress(i * 16 * MiB, 1024 * MiB, i, 64));
    }
    events.emit("notice", "a notice long enough to need the terminal to wrap it on narrow screens, which it must");
    const report = { ...emptyReport("https://example.com/big.bin", "/tmp/big.bin", "scheduler-flag"), bytesWritten: 1024 * MiB };
    report.pieces = { total: 64, fromParents: 64, fromSource: 0, reused: 0 };
    report.scheduler.used = "10.0.0.2:8002";
    r.finish(true, { report, durationMs: 3200 });
    const out = text();
    assert.doesNotMatch(out, /\x1b\[\?7l/, "line wrap is never turned off");
    const barLines = visibleLines(out).filter((l) => /%/.test(l));
    assert.ok(barLines.length > 0, "the bar was drawn");
    for (const line of barLines) assert.ok(line.length < width, `${line.length} >= ${width}: ${line}`);
    assert.ok(barLines.every((l) => /16\.0 MiB\/s/.test(l) || /ETA/.test(l) === false), "speed shown whenever ETA is");
    if (width >= 60) assert.ok(barLines.some((l) => l.includes("█")), "a bar when there is room");
    assert.ok(barLines.some((l) => /100%/.test(l)));
    assert.match(out, /dfget: saved \/tmp\/big\.bin \(1\.0 GiB in 3\.2 s, 320\.0 MiB\/s, 64 pieces from peers via 10\.0\.0\.2:8002\)\n$/);
  });
}

test("barLine drops via, then the bar, then ETA and speed, never the percentage and bytes", () => {
  const f = { transferred: 512 * MiB, total: 1024 * MiB, rate: 64 * MiB, scheduler: "10.0.0.2:8002" };
  assert.equal(barLine(f, 120), `${"█".repeat(20)}${"░".repeat(20)}   50%  512.0 MiB/1.0 GiB  64.0 MiB/s  ETA 8.0 s  via 10.0.0.2:8002`);
  assert.equal(barLine(f, 60), `${"█".repeat(6)}${"░".repeat(5)}   50%  512.0 MiB/1.0 GiB  64.0 MiB/s  ETA 8.0 s`);
  assert.equal(barLine(f, 40), " 50%  512.0 MiB/1.0 GiB  64.0 MiB/s");
  assert.equal(barLine(f, 20), " 50%");
  assert.equal(barLine({ ...f, rate: undefined }, 40), `${"█".repeat(7)}${"░".repeat(7)}   50%  512.0 MiB/1.0 GiB`, "no rate yet: no speed, no ETA");
  assert.equal(barLine({ ...f, rate: undefined }, 30), " 50%  512.0 MiB/1.0 GiB");
});

test("ETA: blank until a rate is known, never NaN or Infinity, smoothed", () => {
  assert.equal(etaSeconds(0, 100, undefined), undefined);
  assert.equal(etaSeconds(0, 100, 0), undefined);
  assert.equal(etaSeconds(0, undefined, 10), undefined);
  assert.equal(etaSeconds(50, 100, 10), 5);
  const meter = new RateMeter(0.5, 500);
  meter.sample(0, 0);
  assert.equal(meter.bytesPerSecond, undefined, "one sample is no rate");
  meter.sample(1000, 100);
  assert.equal(meter.bytesPerSecond, undefined, "samples closer than 500 ms wait");
  meter.sample(1000, 1000);
  assert.equal(meter.bytesPerSecond, 1000);
  meter.sample(4000, 2000);
  assert.equal(meter.bytesPerSecond, 2000, "a burst moves the rate halfway, not all the way");
});

test("saved line: peers and origin counted, stdout named, nothing with -q, --progress none or off a TTY", () => {
  const report = { ...emptyReport("u", "/d/x.bin", "none"), bytesWritten: 100 * MiB };
  report.pieces = { total: 25, fromParents: 0, fromSource: 25, reused: 0 };
  assert.equal(savedLine(report, 2000), "saved /d/x.bin (100.0 MiB in 2.0 s, 50.0 MiB/s, 25 pieces from the origin)");
  report.pieces = { total: 25, fromParents: 20, fromSource: 3, reused: 2 };
  report.scheduler.used = "10.0.0.1:8002";
  assert.equal(savedLine({ ...report, output: "-" }, 75_000), "wrote to stdout (100.0 MiB in 1m15s, 1.3 MiB/s, 20 pieces from peers, 3 from the origin, 2 resumed via 10.0.0.1:8002)");
  for (const opts of [{ quiet: true, progress: "auto" as const, tty: true }, { quiet: false, progress: "none" as const, tty: true }, { quiet: false, progress: "auto" as const, tty: false }]) {
    const { stream, text } = fakeTty(80);
    (stream as { isTTY: boolean }).isTTY = opts.tty;
    const r = new Renderer({ progress: opts.progress, color: "never", quiet: opts.quiet, verbose: false, stream, env: {} });
    r.finish(true, { report, durationMs: 1000 });
    assert.doesNotMatch(text(), /saved|wrote/);
  }
});
