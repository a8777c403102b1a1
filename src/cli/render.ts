// What the user sees on stderr while a download runs: a cli-progress bar on a TTY,
// plain periodic lines otherwise, nothing with -q / --progress none (errors aside), and
// on a TTY one closing "saved PATH (…)" line. It only subscribes to download events;
// nothing below cli/ prints. The bar line itself is composed in progress-line.ts to fit
// the terminal's width; line wrap stays on so notices print whole.
import type * as cliProgress from "cli-progress";
import { progressBars } from "./progress-bars.js";
import { Chalk, type ChalkInstance } from "chalk";
import type { EventEmitter } from "node:events";
import type { ColorMode, ProgressMode } from "../config/types.js";
import type { DownloadEvents, ProgressValue } from "../engine/events.js";
import type { RunResult as DownloadReport } from "../engine/result.js";
import type { Attempt } from "../switching/selector.js";
import { ERROR_PREFIX } from "./error-text.js";
import { barLine, formatBytes, RateMeter, savedLine } from "./progress-line.js";

export { formatBytes };

export interface RenderOptions {
  progress: ProgressMode;
  color: ColorMode;
  quiet: boolean;
  verbose: boolean;
  stream: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Plain-line period (non-TTY). */
  lineIntervalMs?: number;
  /** Milliseconds clock for rates and ETA; Date.now by default. */
  now?: () => number;
}

/** How a finished run went, for the closing "saved …" line. */
export interface FinishedRun {
  report: DownloadReport;
  durationMs: number;
}

/** Colour level from --color, NO_COLOR, FORCE_COLOR, TERM=dumb and whether stderr is a TTY. */
export function colorLevel(mode: ColorMode, env: NodeJS.ProcessEnv, isTTY: boolean): 0 | 1 | 2 | 3 {
  if (mode === "never") return 0;
  if (mode === "always") return 1;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return 0;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR === "0" || env.FORCE_COLOR === "false" ? 0 : 1;
  if (env.TERM === "dumb") return 0;
  return isTTY ? 1 : 0;
}

export class Renderer {
  private readonly opts: RenderOptions;
  private readonly chalk: ChalkInstance;
  private readonly mode: "bar" | "line" | "none";
  private bar: cliProgress.SingleBar | undefined;
  private lineTimer: NodeJS.Timeout | undefined;
  private last: ProgressValue | undefined;
  /** What the last plain line reported (bytes, pieces, scheduler), not its text: the rate
   * in the text moves with the clock, so the final 100 % would otherwise print twice. */
  private lastLineKey: string | undefined;
  private lastFailed: Attempt | undefined;
  private readonly now: () => number;
  private readonly rate = new RateMeter();
  private readonly startedAt: number;
  private scheduler = "";

  constructor(opts: RenderOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    const isTTY = opts.stream.isTTY === true;
    this.chalk = new Chalk({ level: colorLevel(opts.color, opts.env, isTTY) });
    const wanted = opts.quiet ? "none" : opts.progress;
    this.mode = wanted === "auto" ? (isTTY && opts.env.TERM !== "dumb" ? "bar" : "line") : wanted;
  }

  attach(events: EventEmitter<DownloadEvents>): void {
    events.on("progress", (p) => this.onProgress(p));
    events.on("attempt", (a) => this.onAttempt(a));
    events.on("schedulerSwitch", (s) => this.onSwitch(s.from, s.to, s.reason));
    events.on("backToSource", ({ reason }) => this.notice(`${reason}`));
    events.on("notice", (m) => this.notice(m));
    events.on("debug", (m) => {
      if (this.opts.verbose) this.print(this.chalk.dim(`dfget: ${m}`));
    });
  }

  /** Errors are printed even with -q. */
  error(message: string): void {
    this.clearBar();
    this.opts.stream.write(`${this.chalk.red(ERROR_PREFIX)} ${message}\n`);
  }

  /** Ends the display; on success on a TTY with progress on, says where the file went. */
  finish(ok: boolean, run?: FinishedRun): void {
    if (this.lineTimer) clearInterval(this.lineTimer);
    this.lineTimer = undefined;
    if (this.bar) {
      if (ok && this.last) this.bar.update(this.last.transferred);
      this.bar.stop();
      this.bar = undefined;
    } else if (this.mode === "line" && ok && this.last) {
      this.writeLine(this.last);
    }
    if (ok && run && this.mode !== "none" && this.opts.stream.isTTY === true) {
      this.opts.stream.write(`dfget: ${savedLine(run.report, run.durationMs)}\n`);
    }
  }

  private onProgress(p: ProgressValue): void {
    this.last = p;
    this.rate.sample(p.transferred, this.now());
    if (this.mode === "bar") {
      if (!this.bar) {
        this.bar = new (progressBars().SingleBar)({
          stream: this.opts.stream,
          // Composed by us to fit the width; cli-progress keeps the redraw timing and cursor.
          format: () => this.barText(),
          hideCursor: true,
          clearOnComplete: false,
          // Keep the terminal's line wrap on: notices printed meanwhile must wrap, not clip.
          linewrap: true,
          fps: 10,
          // --progress bar asked for the bar: drawn on a pipe too (wget's bar:force), not nothing.
          noTTYOutput: true,
          notTTYSchedule: this.opts.lineIntervalMs ?? 2000,
        });
        this.bar.start(p.total ?? 0, p.transferred);
      } else {
        if (p.total !== undefined) this.bar.setTotal(p.total);
        this.bar.update(p.transferred);
      }
    } else if (this.mode === "line" && !this.lineTimer) {
      this.lineTimer = setInterval(() => this.last && this.writeLine(this.last), this.opts.lineIntervalMs ?? 2000);
      this.lineTimer.unref();
    }
  }

  /** A plain progress line, unless it would repeat the one just printed (the final 100 %). */
  private writeLine(p: ProgressValue): void {
    const key = `${p.transferred}/${p.total ?? ""} ${p.piecesDone}/${p.piecesTotal} ${this.scheduler}`;
    if (key === this.lastLineKey) return;
    this.lastLineKey = key;
    this.opts.stream.write(`${this.line(p)}\n`);
  }

  private onAttempt(a: Attempt): void {
    if (a.outcome === "ok") return;
    if (a.outcome === "cooling") {
      this.notice(`scheduler ${a.addr} is cooling down after a recent failure, skipped`);
      return;
    }
    this.lastFailed = a;
    if (this.opts.verbose) this.notice(`scheduler ${a.addr} ${a.outcome} (${a.ms} ms)`);
  }

  private onSwitch(from: string | undefined, to: string, reason: string): void {
    this.scheduler = to;
    const failed = this.lastFailed;
    this.lastFailed = undefined;
    // The selector explains every fallback itself ("scheduler A refused → B", one notice
    // each); the switch adds a line only in verbose mode.
    if (this.opts.verbose) this.notice(`scheduler ${to}${from !== undefined ? ` (after ${from}: ${reason})` : failed ? ` (after ${failed.addr} ${failed.outcome})` : ""}`);
  }

  private notice(message: string): void {
    if (this.opts.quiet || this.opts.progress === "none") return;
    this.print(`dfget: ${message}`);
  }

  private print(line: string): void {
    this.clearBar();
    this.opts.stream.write(`${line}\n`);
    // cli-progress saved the cursor (ESC 7) where the bar started and restores it on stop;
    // after our line scrolled the screen that spot is stale, so save the new one.
    if (this.bar && this.opts.stream.isTTY) this.opts.stream.write("\x1b7");
    if (this.bar && this.last) this.bar.update(this.last.transferred);
  }

  private clearBar(): void {
    if (this.bar && this.opts.stream.isTTY) this.opts.stream.write("\r\x1b[K");
  }

  /** Smoothed once known; before that, the average since the start (0 at the very start). */
  private speed(p: ProgressValue): number {
    const secs = (this.now() - this.startedAt) / 1000;
    return this.rate.bytesPerSecond ?? (secs > 0 ? p.transferred / secs : 0);
  }

  /** The bar line for the stream's current width (a resized terminal is followed). */
  private barText(): string {
    const p = this.last;
    if (!p) return "";
    return barLine({ transferred: p.transferred, total: p.total, rate: this.rate.bytesPerSecond, scheduler: this.scheduler }, this.opts.stream.columns || 80);
  }

  /** One plain line, no control characters. */
  private line(p: ProgressValue): string {
    const pct = p.percent === undefined ? "" : `${Math.floor(p.percent * 100)}% `;
    const size = p.total === undefined ? formatBytes(p.transferred) : `${formatBytes(p.transferred)}/${formatBytes(p.total)}`;
    const via = this.scheduler ? ` via ${this.scheduler}` : "";
    return `dfget: ${pct}${size} ${formatBytes(Math.round(this.speed(p)))}/s pieces ${p.piecesDone}/${p.piecesTotal}${via}`;
  }
}
