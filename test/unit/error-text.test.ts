// Messages in the user's words: codes translated, the hidden temp file named as the output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { userMessage, errnoCodeOf } from "../../src/cli/error-text.js";
import { OriginUnreachableError, TimeoutError, WriteError } from "../../src/errors.js";

function errno(code: string, message = `${code}: something, write`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

test("an injected ENOSPC while writing the hidden partial: 'disk full', naming the output", () => {
  const err = new WriteError("cannot write /data/.model.bin.dfget-b894dab2a1f7.part: ENOSPC", { cause: errno("ENOSPC") });
  assert.equal(userMessage(err, "/data/model.bin"), "cannot write /data/model.bin: disk full");
  const created = new WriteError("cannot create /proc/.x.bin.dfget-0a1b.part: ENOENT", { cause: errno("ENOENT") });
  assert.equal(userMessage(created, "/proc/x.bin"), "cannot create /proc/x.bin: no such file or directory");
  const resume = new WriteError("cannot write /d/.x.bin.dfget.json: EACCES", { cause: errno("EACCES") });
  assert.equal(userMessage(resume, "/d/x.bin"), "cannot write /d/x.bin: permission denied");
});

test("a wrapped code without its name in the message still gets its words", () => {
  const err = new WriteError("cannot write /d/x.bin", { cause: errno("EROFS") });
  assert.equal(userMessage(err, "/d/x.bin"), "cannot write /d/x.bin: read-only file system");
  assert.equal(errnoCodeOf(new Error("a", { cause: new Error("b", { cause: errno("EDQUOT") }) })), "EDQUOT");
});

test("network codes and millisecond counts read as words and durations", () => {
  assert.equal(userMessage(new OriginUnreachableError("origin 127.0.0.1:1 unreachable (ECONNREFUSED) for /x")), "origin 127.0.0.1:1 unreachable (connection refused) for /x");
  assert.equal(userMessage(new Error("request failed: UND_ERR_SOCKET")), "request failed: connection closed by the server");
  assert.equal(userMessage(new TimeoutError("origin", "origin sent no response within 30000 ms for /x")), "origin sent no response within 30s for /x");
  assert.equal(userMessage(new TimeoutError("connect", "probe took 250 ms")), "probe took 250 ms");
});

test("node's own system-error wording is folded into the words", () => {
  const err = errno("ENOSPC", "ENOSPC: no space left on device, write");
  assert.equal(userMessage(new Error(`cannot write to stdout: ${err.message}`, { cause: err })), "cannot write to stdout: disk full");
  assert.equal(userMessage(new Error("cannot create x: EACCES: permission denied, open '/d/.x.bin.dfget-ab.part'")), "cannot create x: permission denied");
});

test("a stream's 'write EPIPE' is the code alone, said once", () => {
  const err = errno("EPIPE", "write EPIPE");
  assert.equal(userMessage(new Error(`cannot write to stdout: ${err.message}`, { cause: err })), "cannot write to stdout: reader closed the pipe");
  assert.equal(userMessage(new Error("cannot write to stdout: EPIPE", { cause: err })), "cannot write to stdout: reader closed the pipe");
});
