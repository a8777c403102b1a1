// Back-to-source over HTTPS end to end: the built CLI against the fake origin serving TLS
// with a test CA (trusted through NODE_EXTRA_CA_CERTS, as a user's private CA would be).
// The lean range reader runs over TLS here; a receive buffer reused while its write was in
// flight once made such downloads come out wrong with exit 0, so the bytes are compared.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { startOrigin, type FakeOrigin } from "../support/origin.js";
import { baseEnv, runDfget, workDirs } from "../support/cli.js";
import { hasOpenssl, makeTlsFixture, type TlsFixture } from "../support/mini-servers.js";

const BIG = randomBytes(24 * 1024 * 1024 + 12_345);

describe("HTTPS origin", { skip: !hasOpenssl() && "no openssl" }, () => {
  let fixture: TlsFixture;
  let origin: FakeOrigin;
  const dirs = workDirs();
  before(async () => {
    fixture = makeTlsFixture();
    origin = await startOrigin({
      files: { "/big.bin": BIG },
      tls: { key: readFileSync(fixture.serverKey), cert: readFileSync(fixture.serverCert) },
    });
  });
  after(async () => {
    await origin?.close();
    await dirs.removeAll();
    fixture?.remove();
  });

  test("24 MiB in ranged GETs over TLS: exit 0, the exact bytes, nothing left beside the output", async () => {
    const work = await dirs.make();
    const run = await runDfget([origin.url("/big.bin"), "-O", work.out, "--json", "-q", "--state-dir", work.state], {
      env: baseEnv({ NODE_EXTRA_CA_CERTS: fixture.caCert }),
      timeoutMs: 60_000,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(readFileSync(work.out).equals(BIG), "the output differs from the origin's bytes");
    assert.equal(run.json?.bytesWritten, BIG.length);
    const ranged = origin.requests.filter((r) => r.method === "GET" && r.range !== undefined);
    assert.ok(ranged.length >= 6, `expected ranged GETs (4 MiB pieces), saw ${ranged.length}`);
    assert.deepEqual((await readdir(work.dir)).filter((n) => n !== "state").sort(), ["out.bin"]);
  });

  test("an origin certificate no CA vouches for: exit 1, one line saying so and how to add a CA, no file", async () => {
    const work = await dirs.make();
    const run = await runDfget([origin.url("/big.bin"), "-O", work.out, "-q", "--state-dir", work.state]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^dfget: error: origin 127\.0\.0\.1:\d+: TLS certificate not accepted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE.*NODE_EXTRA_CA_CERTS=FILE\n$/);
    assert.deepEqual((await readdir(work.dir)).filter((n) => n !== "state"), []);
  });
});
