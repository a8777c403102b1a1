import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_FILTERED_QUERY_PARAMS,
  hostIdOf,
  newPeerId,
  normalizeUrlForTask,
  taskIdOf,
} from "../../src/task/task-id.js";
import { UsageError } from "../../src/errors.js";

describe("taskIdOf: vectors quoted from the Rust should_generate_task_id (dragonfly-client.md §2.3)", () => {
  const vectors: Array<{ name: string; input: Parameters<typeof taskIdOf>[0]; expected: string }> = [
    {
      name: "url + piece length + tag + application + revision",
      input: { url: "https://example.com", pieceLength: 1024, tag: "foo", application: "bar", filteredQueryParams: [], revision: "v1.0" },
      expected: "5844f27a257287e9b734256bb25603d8005422ced8c0377f15063ec11963b25f",
    },
    {
      name: "tag + application",
      input: { url: "https://example.com", tag: "foo", application: "bar", filteredQueryParams: [] },
      expected: "06408fbf247ddaca478f8cb9565fe5591c28efd0994b8fea80a6a87d3203c5ca",
    },
    {
      name: "tag only",
      input: { url: "https://example.com", tag: "foo", filteredQueryParams: [] },
      expected: "3c3f230ef9f191dd2821510346a7bc138e4894bee9aee184ba250a3040701d2a",
    },
    {
      name: "application only",
      input: { url: "https://example.com", application: "bar", filteredQueryParams: [] },
      expected: "c9f9261b7305c24371244f9f149f5d4589ed601348fdf22d7f6f4b10658fdba2",
    },
    {
      name: "piece length only",
      input: { url: "https://example.com", pieceLength: 1024, filteredQueryParams: [] },
      expected: "9f7c9aafbc6f30f8f41a96ca77eeae80c5b60964b3034b0ee43ccf7b2f9e52b8",
    },
    {
      name: "every query pair filtered away",
      input: { url: "https://example.com?foo=foo&bar=bar", filteredQueryParams: ["foo", "bar"] },
      expected: "457b4328cde278e422c9e243f7bfd1e97f511fec43a80f535cf6b0ef6b086776",
    },
    {
      name: "revision only",
      input: { url: "https://example.com", filteredQueryParams: [], revision: "v1.0" },
      expected: "b171331534b80e0bf91da38ebbfcdbf4d177898f4b9beac44f14733e3f004d4e",
    },
    {
      name: "content wins over every URL field",
      input: { url: "https://ignored.example", tag: "x", filteredQueryParams: [], contentForCalculatingTaskId: "This is a test file" },
      expected: "e2d0fe1585a63ec6009c8016ff8dda8b17719a637405a4e23c0ff81339148249",
    },
  ];
  for (const v of vectors) {
    test(v.name, () => {
      assert.equal(taskIdOf(v.input), v.expected);
    });
  }

  test("derived: dfget default download (tag and application empty, no piece length)", () => {
    assert.equal(
      taskIdOf({ url: "https://example.com/file-0.bin", tag: "", application: "", filteredQueryParams: DEFAULT_FILTERED_QUERY_PARAMS }),
      "a689e9c5b6e67744e31b3402be3b1e12ee39764b8b3705ebd20ed19778126aea",
    );
  });

  test("derived: the Dragonfly2 e2e URL under today's algorithm (with STANDARD)", () => {
    assert.equal(
      taskIdOf({
        url: "http://file-server.dragonfly-e2e.svc/kind/etc/containerd/config.toml",
        tag: "",
        application: "",
        filteredQueryParams: DEFAULT_FILTERED_QUERY_PARAMS,
      }),
      "1139fd19df45c9bc9d19653dbb3e8c5c1c523d250c5290f5b5127e1297f8cbaf",
    );
  });

  test("ids are 64 lowercase hex characters", () => {
    assert.match(taskIdOf({ url: "https://example.com/x", filteredQueryParams: [] }), /^[0-9a-f]{64}$/);
  });
});

describe("taskIdOf: what does and does not enter the hash", () => {
  test("--tag d7y and --application d7y collide (no separators, as in Rust)", () => {
    const url = "https://example.com/blob";
    const byTag = taskIdOf({ url, tag: "d7y", filteredQueryParams: [] });
    const byApplication = taskIdOf({ url, application: "d7y", filteredQueryParams: [] });
    assert.equal(byTag, byApplication);
    assert.notEqual(byTag, taskIdOf({ url, filteredQueryParams: [] }));
  });

  test("an empty tag adds nothing, like None", () => {
    const url = "https://example.com/blob";
    assert.equal(taskIdOf({ url, tag: "", application: "", filteredQueryParams: [] }), taskIdOf({ url, filteredQueryParams: [] }));
  });

  test("the piece length changes the id", () => {
    const url = "https://example.com/blob";
    assert.notEqual(
      taskIdOf({ url, pieceLength: 4194304, filteredQueryParams: [] }),
      taskIdOf({ url, pieceLength: 8388608, filteredQueryParams: [] }),
    );
  });

  test("presigned S3 URLs of one object share a task once default params are filtered", () => {
    const a = "https://bucket.s3.amazonaws.com/obj.tar?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20250101T000000Z&X-Amz-Signature=aaaa&versionId=7";
    const b = "https://bucket.s3.amazonaws.com/obj.tar?X-Amz-Signature=bbbb&versionId=7&X-Amz-Expires=60";
    const idA = taskIdOf({ url: a, filteredQueryParams: DEFAULT_FILTERED_QUERY_PARAMS });
    assert.equal(idA, taskIdOf({ url: b, filteredQueryParams: DEFAULT_FILTERED_QUERY_PARAMS }));
    assert.equal(idA, taskIdOf({ url: "https://bucket.s3.amazonaws.com/obj.tar?versionId=7", filteredQueryParams: [] }));
    assert.notEqual(idA, taskIdOf({ url: a, filteredQueryParams: [] }));
  });

  test("a non-integer piece length is refused", () => {
    assert.throws(() => taskIdOf({ url: "https://example.com", pieceLength: 1.5, filteredQueryParams: [] }), UsageError);
  });

  test("an unparseable URL is a UsageError", () => {
    assert.throws(() => taskIdOf({ url: "not a url", filteredQueryParams: [] }), UsageError);
  });
});

describe("normalizeUrlForTask (§2.2)", () => {
  const cases: Array<[string, readonly string[], string]> = [
    ["https://example.com", [], "https://example.com"],
    ["https://example.com/", [], "https://example.com"],
    ["https://example.com/a/", [], "https://example.com/a/"],
    ["https://example.com/a?a=b%20c", [], "https://example.com/a?a=b+c"],
    ["https://example.com/a?flag", [], "https://example.com/a?flag="],
    ["https://example.com/a?a=1;b=2", [], "https://example.com/a?a=1%3Bb%3D2"],
    ["https://example.com/a?e=~&s=*-._", [], "https://example.com/a?e=%7E&s=*-._"],
    ["https://example.com/a?&&x=1&&", [], "https://example.com/a?x=1"],
    ["https://example.com/a?", [], "https://example.com/a"],
    ["https://example.com/a?b=2&a=1&b=1", [], "https://example.com/a?b=2&a=1&b=1"],
    ["https://example.com/a?x=1&keep=2&x=3#frag", ["x"], "https://example.com/a?keep=2#frag"],
    ["https://example.com/?foo=foo", ["foo"], "https://example.com"],
    ["https://example.com/a?a%20b=1&c=2", ["a b"], "https://example.com/a?c=2"],
    ["https://example.com/a?X-Amz-Signature=s&x-amz-signature=t", DEFAULT_FILTERED_QUERY_PARAMS, "https://example.com/a?x-amz-signature=t"],
    ["HTTPS://Example.COM:443/a/../b", [], "https://example.com/b"],
    ["s3://bucket/", [], "s3://bucket"],
    ["s3://bucket/key?ns=docker.io", DEFAULT_FILTERED_QUERY_PARAMS, "s3://bucket/key"],
  ];
  for (const [input, filtered, expected] of cases) {
    test(`${input} [${filtered.length > 5 ? "defaults" : filtered.join(",")}] → ${expected}`, () => {
      assert.equal(normalizeUrlForTask(input, filtered), expected);
    });
  }
});

describe("DEFAULT_FILTERED_QUERY_PARAMS", () => {
  test("holds the 30 Dragonfly entries in order, without duplicates", () => {
    assert.equal(DEFAULT_FILTERED_QUERY_PARAMS.length, 30);
    assert.equal(new Set(DEFAULT_FILTERED_QUERY_PARAMS).size, 30);
    assert.equal(DEFAULT_FILTERED_QUERY_PARAMS[0], "X-Amz-Algorithm");
    assert.equal(DEFAULT_FILTERED_QUERY_PARAMS[5], "X-Amz-Signature");
    assert.equal(DEFAULT_FILTERED_QUERY_PARAMS[14], "OSSAccessKeyId");
    assert.equal(DEFAULT_FILTERED_QUERY_PARAMS[18], "AccessKeyId");
    assert.equal(DEFAULT_FILTERED_QUERY_PARAMS[21], "q-sign-algorithm");
    assert.equal(DEFAULT_FILTERED_QUERY_PARAMS[29], "ns");
  });

  test("is frozen", () => {
    assert.ok(Object.isFrozen(DEFAULT_FILTERED_QUERY_PARAMS));
  });
});

describe("host and peer ids (§2.5)", () => {
  test("host id is ip-hostname", () => {
    assert.equal(hostIdOf("127.0.0.1", "localhost"), "127.0.0.1-localhost");
  });

  test("peer id is ip-hostname-uuidv4, fresh each time", () => {
    const a = newPeerId("127.0.0.1", "localhost");
    const b = newPeerId("127.0.0.1", "localhost");
    assert.match(a, /^127\.0\.0\.1-localhost-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a, b);
  });
});
