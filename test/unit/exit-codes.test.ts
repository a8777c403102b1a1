// Exit codes come from the error's fixed code (cli.md's table), not from instanceof: an
// error from a second copy of errors.ts maps the same way.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DfgetError,
  DigestMismatchError,
  InterruptedError,
  NoSchedulerError,
  OriginHttpError,
  OriginUnreachableError,
  OutputExistsError,
  PartialTransferError,
  TimeoutError,
  UsageError,
  WriteError,
  exitCodeOf,
} from "../../src/errors.js";

test("every class has a fixed code and the exit code of cli.md's row", () => {
  const rows: Array<[DfgetError, string, number]> = [
    [new UsageError("u"), "ERR_USAGE", 2],
    [new OriginUnreachableError("o"), "ERR_ORIGIN_UNREACHABLE", 7],
    [new PartialTransferError("p"), "ERR_PARTIAL", 18],
    [new OriginHttpError(404, "h"), "ERR_ORIGIN_HTTP", 22],
    [new WriteError("w"), "ERR_WRITE", 23],
    [new TimeoutError("run", "t"), "ERR_TIMEOUT", 28],
    [new DigestMismatchError("d"), "ERR_DIGEST_MISMATCH", 32],
    [new NoSchedulerError("n"), "ERR_NO_SCHEDULER", 69],
    [new OutputExistsError("e"), "ERR_OUTPUT_EXISTS", 73],
    [new InterruptedError("SIGINT"), "ERR_INTERRUPTED", 130],
    [new InterruptedError("SIGTERM"), "ERR_INTERRUPTED", 143],
  ];
  for (const [err, code, exit] of rows) {
    assert.equal(err.code, code, err.name);
    assert.equal(exitCodeOf(err), exit, err.name);
  }
});

test("a code in the table wins over the exit code a thrower passed; other codes keep theirs", () => {
  assert.equal(exitCodeOf(new DfgetError("x", "ERR_NO_SCHEDULER", 1)), 69);
  assert.equal(exitCodeOf(new DfgetError("x", "ERR_OBJECT_CHANGED")), 18);
  assert.equal(exitCodeOf(new DfgetError("x", "ERR_UPLOAD_LISTEN", 1)), 1);
  assert.equal(exitCodeOf(new DfgetError("x", "ERR_SOMETHING_NEW", 23)), 23);
});

test("an error from another copy of the module (same brand, not the same class) maps by its code", () => {
  const foreign = Object.assign(new Error("no scheduler"), { [Symbol.for("dfget.error")]: true, code: "ERR_NO_SCHEDULER", exitCode: 69 });
  assert.equal(foreign instanceof DfgetError, false);
  assert.equal(exitCodeOf(foreign), 69);
  const interrupted = { [Symbol.for("dfget.error")]: true, code: "ERR_INTERRUPTED", signal: "SIGTERM" };
  assert.equal(exitCodeOf(interrupted), 143);
});

test("what is not ours is exit 1, whatever its code says", () => {
  assert.equal(exitCodeOf(new Error("plain")), 1);
  assert.equal(exitCodeOf(Object.assign(new Error("errno"), { code: "ERR_USAGE" })), 1);
  assert.equal(exitCodeOf("a string"), 1);
  assert.equal(exitCodeOf(undefined), 1);
});
