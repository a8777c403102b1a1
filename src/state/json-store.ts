// Small JSON documents in the state dir, safe across concurrent dfget processes:
// read-modify-write under a proper-lockfile lock, written as temp file + fsync + rename
// (+ directory fsync), mode 0600. A corrupt or unreadable file is reported through
// `onWarning` and treated as empty — never a crash.
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import lockfile from "proper-lockfile";

export type Warn = (message: string) => void;

export async function readJsonFile<T>(path: string, fallback: T, onWarning: Warn): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
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
  } finally {
    await fh.close();
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
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const release = await lockfile.lock(path, {
    realpath: false,
    stale: 10_000,
    update: 2_000,
    retries: { retries: 1000, factor: 1.2, minTimeout: 2, maxTimeout: 50, randomize: true },
  });
  try {
    const next = change(await readJsonFile(path, fallback, onWarning));
    await writeJsonAtomic(path, next);
    return next;
  } finally {
    await release();
  }
}
