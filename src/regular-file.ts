// Reading a small file dfget keeps for itself (the resume record, the output lock, the
// cooldown ledger) only when it is a plain file: never blocking on a FIFO someone put at
// the name (a blocked open(2) holds a thread-pool thread, and then not even SIGTERM ends
// the process), and, for files beside the output, never through a symlink (ELOOP).
import { constants } from "node:fs";
import { open } from "node:fs/promises";

/** The file's text; anything but a regular file throws, with code "ENOTREGULAR". */
export async function readRegularFile(path: string, opts: { followLinks: boolean }): Promise<string> {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (opts.followLinks ? 0 : constants.O_NOFOLLOW);
  const fh = await open(path, flags);
  try {
    if (!(await fh.stat()).isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: "ENOTREGULAR" });
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}
