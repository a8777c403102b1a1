// What a batch shows on stderr: on a TTY a total bar (files and bytes) plus one bar per
// file in flight; otherwise one plain line per finished file. Failures are printed in
// every mode (also with -q), naming the entry, so a CI log says which file broke.
import type * as cliProgress from "cli-progress";
import { progressBars } from "./progress-bars.js";
import { Chalk, type ChalkInstance } from "chalk";
import { basename } from "node:path";
import type { EventEmitter } from "node:events";
import type { ColorMode, ProgressMode } from "../config/types.js";
import type { DownloadEvents } from "../engine/events.js";
import { messageOf } from "../errors.js";
import type { BatchEntry } from "./batch-plan.js";
import type { FileOutcome } from "./batch.js";
import { colorLevel, formatBytes } from "./render.js";

export interface BatchProgressOptions {
  progress: ProgressMode;
  color: ColorMode;
  quiet: boolean;
  stream: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  files: number;
}

export class BatchProgress {
  private readonly opts: BatchProgressOptions;
  private readonly chalk: ChalkInstance;
  private readonly mode: "bar" | "line" | "none";
  private multi: cliProgress.MultiBar | undefined;
  private total: cliProgress.SingleBar | undefined;
  /** One bar per file in flight. */
  private readonly active = new Map<BatchEntry, cliProgress.SingleBar>();
  private finished = 0;
  private bytes = 0;

  constructor(opts: BatchProgressOptions) {
    this.opts = opts;
    const isTTY = opts.stream.isTTY === true;
    this.chalk = new Chalk({ level: colorLevel(opts.color, opts.env, isTTY) });
    const wanted = opts.quiet ? "none" : opts.progress;
    this.mode = wanted === "auto" ? (isTTY && opts.env.TERM !== "dumb" ? "bar" : "line") : wanted;
    if (this.mode === "bar") {
      this.multi = new (progressBars().MultiBar)(
        { stream: opts.stream, hideCursor: true, clearOnComplete: true, fps: 10, barsize: 30, format: "{name} {bar} {percentage}% {done}" },
        progressBars().Presets.shades_classic,
      );
      this.total = this.multi.create(opts.files, 0, { name: "total".padEnd(24), done: `0/${opts.files} files, 0 B` });
    }
  }

  /** Follows one file's download events while it runs. */
  follow(entry: BatchEntry, events: EventEmitter<DownloadEvents>): void {
    if (!this.multi) return;
    const bar = this.multi.create(1, 0, { name: shorten(basename(entry.output)), done: "" });
    events.on("progress", (p) => {
      if (p.total !== undefined) bar.setTotal(Math.max(1, p.total));
      bar.update(p.transferred, { done: formatBytes(p.transferred) });
    });
    this.active.set(entry, bar);
  }

  /** A file is done; `silent`: counted without its own line (files an interrupt kept from starting). */
  finish(entry: BatchEntry, outcome: FileOutcome, { silent = false } = {}): void {
    this.finished++;
    this.bytes += outcome.bytesWritten;
    const bar = this.active.get(entry);
    if (bar) {
      this.multi?.remove(bar);
      this.active.delete(entry);
    }
    this.total?.update(this.finished, { done: `${this.finished}/${this.opts.files} files, ${formatBytes(this.bytes)}` });
    const counter = `[${this.finished}/${this.opts.files}]`;
    if (silent) return;
    if (outcome.code !== 0) {
      this.print(`${this.chalk.red("dfget: error:")} ${counter} ${entry.label} ${entry.url}: ${messageOf(outcome.error)} (exit ${outcome.code})`);
    } else if (this.mode === "line") {
      this.print(`dfget: ${counter} ${entry.output} ${formatBytes(outcome.bytesWritten)}`);
    }
  }

  notice(message: string): void {
    if (this.mode !== "none") this.print(`dfget: ${message}`);
  }

  stop(): void {
    this.multi?.stop();
    this.multi = undefined;
  }

  private print(line: string): void {
    if (this.multi) this.multi.log(`${line}\n`);
    else this.opts.stream.write(`${line}\n`);
  }
}

function shorten(name: string): string {
  return name.length > 24 ? `${name.slice(0, 11)}…${name.slice(-12)}` : name.padEnd(24);
}
