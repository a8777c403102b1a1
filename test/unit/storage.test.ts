import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile, chmod } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { createHasher, formatDigest, hashFile, parseDigest, pieceDigest } from "../../src/storage/digest.js";
import { PieceFile } from "../../src/storage/piece-file.js";
import { DfgetError, ExitCode, PartialTransferError, UsageError, WriteError } from "../../src/errors.js";

const SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const BLAKE3_EMPTY = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

function exitCodeOfRejection(expected: number) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof DfgetError, `expected a DfgetError, got ${String(err)}`);
    assert.equal(err.exitCode, expected);
    return true;
  };
}

describe("parseDigest", () => {
  test("accepts every algorithm in its canonical shape", () => {
    assert.deepEqual(parseDigest(`sha256:${SHA256_ABC}`), { algorithm: "sha256", value: SHA256_ABC });
    assert.deepEqual(parseDigest(`sha512:${"ab".repeat(64)}`), { algorithm: "sha512", value: "ab".repeat(64) });
    assert.deepEqual(parseDigest(`blake3:${BLAKE3_EMPTY}`), { algorithm: "blake3", value: BLAKE3_EMPTY });
    assert.deepEqual(parseDigest("crc32:1475635037"), { algorithm: "crc32", value: "1475635037" });
  });

  test("uppercase hex and algorithm names are accepted and lowercased", () => {
    assert.deepEqual(parseDigest(`SHA256:${SHA256_ABC.toUpperCase()}`), { algorithm: "sha256", value: SHA256_ABC });
  });

  test("crc32 takes any decimal u32, normalised without leading zeros", () => {
    assert.deepEqual(parseDigest("crc32:0"), { algorithm: "crc32", value: "0" });
    assert.deepEqual(parseDigest("crc32:12345678"), { algorithm: "crc32", value: "12345678" });
    assert.deepEqual(parseDigest("crc32:0012345678"), { algorithm: "crc32", value: "12345678" });
    assert.deepEqual(parseDigest("crc32:4294967295"), { algorithm: "crc32", value: "4294967295" });
  });

  const rejected = [
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256",
    `sha256:${SHA256_ABC.slice(1)}`,
    `sha256:${SHA256_ABC}0`,
    `sha256:${"g".repeat(64)}`,
    `sha512:${SHA256_ABC}`,
    "blake3:abc",
    "crc32:4294967296",
    "crc32:0x1234",
    "crc32:-1",
    "crc32:",
    "crc32:12345678901",
    "",
  ];
  for (const input of rejected) {
    test(`rejects ${JSON.stringify(input.length > 30 ? input.slice(0, 30) + "…" : input)} with a one-line UsageError`, () => {
      assert.throws(() => parseDigest(input), (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.exitCode, ExitCode.usage);
        assert.ok(!err.message.includes("\n"));
        return true;
      });
    });
  }

  test("formatDigest round-trips", () => {
    assert.equal(formatDigest(parseDigest(`SHA256:${SHA256_ABC}`)), `sha256:${SHA256_ABC}`);
  });
});

describe("hashers", () => {
  test("crc32 of \"test content\" is Dragonfly's crc32:1475635037, also when fed in parts", async () => {
    assert.equal(pieceDigest(Buffer.from("test content")), "crc32:1475635037");
    const h = await createHasher("crc32");
    h.update(Buffer.from("test "));
    h.update(Buffer.from("content"));
    assert.equal(h.digest(), "crc32:1475635037");
  });

  test("crc32 prints values above 2^31 unsigned", () => {
    // crc32("a") = 0xE8B7BE43, which is negative as an int32.
    assert.equal(pieceDigest(Buffer.from("a")), "crc32:3904355907");
  });

  test("sha256 and sha512 of \"abc\"", async () => {
    const h = await createHasher("sha256");
    h.update(Buffer.from("a"));
    h.update(Buffer.from("bc"));
    assert.equal(h.digest(), `sha256:${SHA256_ABC}`);
    const h512 = await createHasher("sha512");
    h512.update(Buffer.from("abc"));
    assert.equal(h512.digest(), `sha512:${createHash("sha512").update("abc").digest("hex")}`);
  });

  test("blake3 of the empty input, and incremental blake3 equals one-shot", async () => {
    assert.equal((await createHasher("blake3")).digest(), `blake3:${BLAKE3_EMPTY}`);
    const data = Buffer.alloc(3 * 1024 * 1024 + 7, 0x5a);
    const whole = await createHasher("blake3");
    whole.update(data);
    const parts = await createHasher("blake3");
    parts.update(data.subarray(0, 1000));
    parts.update(data.subarray(1000));
    const wholeDigest = whole.digest();
    assert.equal(parts.digest(), wholeDigest);
    assert.notEqual(wholeDigest, `blake3:${BLAKE3_EMPTY}`);
  });
});

describe("PieceFile and hashFile", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "dfget-storage-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const partFiles = async (): Promise<string[]> => (await readdir(dir)).filter((n) => n.endsWith(".part"));

  test("pieces written out of order make the right file; commit leaves no temp", async () => {
    const out = join(dir, "out-of-order.bin");
    const content = Buffer.from("0123456789abcdefghijKLMNOPQRSTUVWXYZ!");
    const pieceLength = 10;
    const file = await PieceFile.create(out, { overwrite: false, size: content.length });
    assert.match(file.tempPath, /\/\.out-of-order\.bin\.dfget-[0-9a-f]+\.part$/);
    assert.equal((await stat(file.tempPath)).mode & 0o777 & ~0o022, 0o644 & ~0o022);
    assert.equal(existsSync(out), false, "the output must not appear before commit");
    await Promise.all(
      [3, 1, 0, 2].map((n) => file.writePiece(n * pieceLength, content.subarray(n * pieceLength, (n + 1) * pieceLength))),
    );
    await file.commit();
    assert.deepEqual(await readFile(out), content);
    assert.deepEqual(await partFiles(), []);
    assert.equal(await hashFile(out, "sha256"), `sha256:${createHash("sha256").update(content).digest("hex")}`);
    assert.equal(await hashFile(out, "crc32"), pieceDigest(content));
  });

  test("an existing output without --overwrite is exit 73, and nothing is created", async () => {
    const out = join(dir, "exists.bin");
    await writeFile(out, "old");
    await assert.rejects(PieceFile.create(out, { overwrite: false }), exitCodeOfRejection(ExitCode.outputExists));
    assert.equal(await readFile(out, "utf8"), "old");
    assert.deepEqual(await partFiles(), []);
  });

  test("with --overwrite the old file is replaced atomically at commit", async () => {
    const out = join(dir, "replace.bin");
    await writeFile(out, "old content");
    const file = await PieceFile.create(out, { overwrite: true, size: 3 });
    await file.writePiece(0, Buffer.from("new"));
    assert.equal(await readFile(out, "utf8"), "old content");
    await file.commit();
    assert.equal(await readFile(out, "utf8"), "new");
  });

  test("an output that appears during the download is not clobbered without --overwrite", async () => {
    const out = join(dir, "race.bin");
    const file = await PieceFile.create(out, { overwrite: false });
    await file.writePiece(0, Buffer.from("ours"));
    await writeFile(out, "theirs");
    await assert.rejects(file.commit(), exitCodeOfRejection(ExitCode.outputExists));
    assert.equal(await readFile(out, "utf8"), "theirs");
    assert.deepEqual(await partFiles(), []);
  });

  test("a missing parent directory is exit 23", async () => {
    await assert.rejects(
      PieceFile.create(join(dir, "no-such-dir", "x.bin"), { overwrite: false }),
      (err: unknown) => err instanceof WriteError && err.exitCode === ExitCode.write && /does not exist/.test(err.message),
    );
  });

  test("a parent that is a file, not a directory, is exit 23", async () => {
    const notDir = join(dir, "plain-file");
    await writeFile(notDir, "x");
    await assert.rejects(PieceFile.create(join(notDir, "x.bin"), { overwrite: false }), exitCodeOfRejection(ExitCode.write));
  });

  test("an existing directory at the output path is exit 23 even with --overwrite", async () => {
    const out = join(dir, "a-directory");
    await mkdir(out);
    await assert.rejects(PieceFile.create(out, { overwrite: true }), exitCodeOfRejection(ExitCode.write));
  });

  test("a read-only parent directory is exit 23", { skip: process.getuid?.() === 0 ? "root can write anywhere" : false }, async () => {
    const ro = join(dir, "read-only");
    await mkdir(ro);
    await chmod(ro, 0o555);
    try {
      await assert.rejects(PieceFile.create(join(ro, "x.bin"), { overwrite: false }), exitCodeOfRejection(ExitCode.write));
    } finally {
      await chmod(ro, 0o755);
    }
  });

  test("abort removes the temp file, is idempotent, and blocks further writes", async () => {
    const out = join(dir, "aborted.bin");
    const file = await PieceFile.create(out, { overwrite: false, size: 4 });
    await file.writePiece(0, Buffer.from("data"));
    assert.equal(existsSync(file.tempPath), true);
    await file.abort();
    await file.abort();
    assert.equal(existsSync(file.tempPath), false);
    assert.equal(existsSync(out), false);
    await assert.rejects(file.writePiece(0, Buffer.from("x")), WriteError);
    await assert.rejects(file.commit(), WriteError);
  });

  test("removeTempSync removes the temp file for a signal handler", async () => {
    const file = await PieceFile.create(join(dir, "signalled.bin"), { overwrite: false });
    file.removeTempSync();
    assert.equal(existsSync(file.tempPath), false);
    await file.abort();
  });

  test("abort after commit leaves the output alone", async () => {
    const out = join(dir, "committed.bin");
    const file = await PieceFile.create(out, { overwrite: false });
    await file.writePiece(0, Buffer.from("kept"));
    await file.commit();
    await file.abort();
    assert.equal(await readFile(out, "utf8"), "kept");
  });

  test("an empty download commits an empty file", async () => {
    const out = join(dir, "empty.bin");
    const file = await PieceFile.create(out, { overwrite: false, size: 0 });
    await file.commit();
    assert.equal((await stat(out)).size, 0);
    assert.equal(await hashFile(out, "blake3"), `blake3:${BLAKE3_EMPTY}`);
  });

  test("a write beyond the declared size is refused", async () => {
    const file = await PieceFile.create(join(dir, "bounded.bin"), { overwrite: false, size: 4 });
    await assert.rejects(file.writePiece(2, Buffer.from("abc")), RangeError);
    await file.abort();
  });
});
