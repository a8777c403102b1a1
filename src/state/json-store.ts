// Small JSON documents in the state dir, safe across concurrent dfget processes:
// read-modify-write under a proper-lockfile lock, written as temp file + fsync + rename
// (+ directory fsync), mode 0600. A corrupt or unreadable file is reported through
// `onWarning` and treated as empty — never a crash.
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import lockfile from "proper-lockfile";
import { readRegularFile } from "../regular-file.js";

export type Warn = (message: string) => void;

export async function readJsonFile<T>(path: string, fallback: T, onWarning: Warn): Promise<T> {
  let text: string;
  try {
    text = await readRegularFile(path, { followLinks: true }); // never blocks on a FIFO
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") onWarning(`cannot read ${path}: ${(err as Error).message}; starting fresh`);
    return fallback;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    onWarning(`state file ${path} is corrupt; starting fresh`);
    return fallback;
  }
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(JSON.stringify(value, null, 2) + "\n");
    await fh.sync();
    await fh.close();
  } catch (err) {
    // A full disk (ENOSPC) must not leave an empty temp file in the state dir per run.
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  try {
    const dh = await open(dir, "r");
    try { await dh.sync(); } finally { await dh.close(); }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  }
}

/**
 * Locked read-modify-write. `change` gets the current document (or `fallback`) and
 * returns the next one. Resolves with what was written.
 */
export async function updateJsonFile<T>(path: string, fallback: T, change: (current: T) => T, onWarning: Warn): Promise<T> {
  const dir = dirname(path);
  const known = unwritableDirs.get(dir);
  if (known !== undefined) throw known; // already failed this run: do not wait on it again
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const release = await lockfile.lock(path, LOCK_OPTIONS);
    try {
      const next = change(await readJsonFile(path, fallback, onWarning));
      await writeJsonAtomic(path, next);
      return next;
    } finally {
      await release().catch(() => undefined);
    }
  } catch (err) {
    if (UNWRITABLE_CODES.has((err as NodeJS.ErrnoException).code ?? "")) unwritableDirs.set(dir, err);
    throw err;
  }
}

/**
 * Lock waits are bounded to about 1 s in all (no jitter: 10 ms growing ×1.35 to 150 ms,
 * 12 tries): a run never stalls on a state file someone else holds; it goes on in memory.
 */
const LOCK_OPTIONS = {
  realpath: false,
  stale: 10_000,
  update: 2_000,
  retries: { retries: 12, factor: 1.35, minTimeout: 10, maxTimeout: 150, randomize: false },
};

/** Failures that will not go away within one run: read-only, no permission, not a dir. */
const UNWRITABLE_CODES = new Set(["EROFS", "EACCES", "EPERM", "ENOTDIR", "EEXIST", "ENOSPC", "EDQUOT", "ELOCKED"]);
const unwritableDirs = new Map<string, unknown>();
