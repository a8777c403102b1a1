// One dfget per output at a time: a lock file beside the output holding the owner's pid.
// Not proper-lockfile (used for the state dir): its staleness is an mtime refreshed by a
// timer, so a rerun right after kill -9 would be refused until the lock aged out; here a
// lock whose process is gone is stale at once, which is what "kill -9, then rerun" needs.
import { hostname } from "node:os";
import { open, rm } from "node:fs/promises";
import { unlinkSync } from "node:fs";
import { OutputBusyError, readOwnFile } from "./resume.js";
import { WriteError } from "../errors.js";

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Is the process that wrote `text` ("pid\nhost") still running here? */
function ownerAlive(text: string): boolean {
  const [pidText, host] = text.split("\n");
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (host !== undefined && host !== "" && host !== hostname()) return true; // another machine (shared disk): trust it
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === "EPERM"; // exists, owned by someone else
  }
}

export class OutputLock {
  private held = true;
  private constructor(readonly path: string) {}

  /** Takes the lock or throws OutputBusyError (73) naming `output`; WriteError (23) if it cannot be made. */
  static async acquire(path: string, output: string): Promise<OutputLock> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(path, "wx", 0o600);
        try {
          await fh.writeFile(`${process.pid}\n${hostname()}\n`);
        } finally {
          await fh.close();
        }
        return new OutputLock(path);
      } catch (err) {
        if (errnoOf(err) !== "EEXIST") throw new WriteError(`cannot create ${path}: ${errnoOf(err) ?? String(err)}`, { cause: err });
      }
      // A FIFO, symlink or garbage there is no live owner's: read without blocking, then stale.
      const owner = await readOwnFile(path).catch(() => "");
      if (ownerAlive(owner)) {
        throw new OutputBusyError(`another dfget (pid ${owner.split("\n")[0]}) is downloading to ${output}`);
      }
      try {
        await rm(path, { force: true }); // its owner is gone (crash, kill -9): stale
      } catch (err) {
        const code = errnoOf(err) === "ERR_FS_EISDIR" ? "EISDIR" : (errnoOf(err) ?? String(err));
        throw new WriteError(`cannot create ${path}: ${code} (not made by dfget: remove it)`, { cause: err });
      }
    }
    throw new OutputBusyError(`another dfget is downloading to ${output}`);
  }

  /** Synchronous inside: a second signal's process.exit() right after must not find the
   *  lock marked released but its file still there. */
  async release(): Promise<void> {
    this.releaseSync();
  }

  /** For an exit that cannot wait. */
  releaseSync(): void {
    if (!this.held) return;
    this.held = false;
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }
}
