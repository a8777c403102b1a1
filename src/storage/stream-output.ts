// An output that is written into, never replaced: an existing character device or FIFO
// (`-O /dev/null`, `-O /dev/full`, a named pipe, `/dev/stdout` on a pipe or a terminal).
// The regular-file path (a temp file beside the output, renamed onto it) would replace the
// device node itself with a plain file, and put its lock and partial in /dev; so, as curl
// and wget do, the bytes are written into it in order, the way `-O -` writes stdout.
// No --overwrite is needed: nothing is replaced. Block devices and sockets are refused (23).
import { constants } from "node:fs";
import { open, stat } from "node:fs/promises";
import { finished } from "node:stream/promises";
import type { Writable } from "node:stream";
import { WriteError } from "../errors.js";

export interface StreamOutput {
  /** The path as given, for messages. */
  readonly name: string;
  readonly out: Writable;
  /** Flushes and closes; a late write error (ENOSPC) is a WriteError (23). */
  end(): Promise<void>;
  /** Closes without waiting (the run failed). */
  destroy(): void;
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? (err instanceof Error ? err.message : String(err));
}

/** `-O -`: the process's stdout, which the run neither ends nor closes. */
export function stdoutOutput(): StreamOutput {
  return { name: "stdout", out: process.stdout, end: async () => undefined, destroy: () => undefined };
}

/** The stream for `path` when it is a character device or FIFO; undefined for anything else. */
export async function openStreamOutput(path: string): Promise<StreamOutput | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return undefined; // missing (or unreadable): the regular-file path reports it
  if (info.isBlockDevice() || info.isSocket()) {
    throw new WriteError(`cannot write ${path}: it is a ${info.isSocket() ? "socket" : "block device"}, not a file`);
  }
  if (!info.isCharacterDevice() && !info.isFIFO()) return undefined;
  let out: Writable;
  try {
    // No O_CREAT, no O_TRUNC: it is there, and it is written into as it is.
    out = (await open(path, constants.O_WRONLY)).createWriteStream();
  } catch (err) {
    throw new WriteError(`cannot write ${path}: ${codeOf(err)}`, { cause: err });
  }
  // Each write's callback reports its own failure (stdout-pump, pipeline); no crash meanwhile.
  out.on("error", () => undefined);
  return {
    name: path,
    out,
    async end() {
      try {
        out.end();
        await finished(out);
      } catch (err) {
        throw new WriteError(`cannot write to ${path}: ${codeOf(err)}`, { cause: err });
      }
    },
    destroy() {
      out.destroy();
    },
  };
}
