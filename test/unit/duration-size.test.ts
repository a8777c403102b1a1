import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkDurationRange, formatDuration, parseDuration } from "../../src/config/duration.js";
import { formatSize, parseSize } from "../../src/config/size.js";

describe("parseDuration", () => {
  const valid: Array<{ desc: string; input: string; ms: number }> = [
    { desc: "bare zero", input: "0", ms: 0 },
    { desc: "zero seconds", input: "0s", ms: 0 },
    { desc: "milliseconds", input: "500ms", ms: 500 },
    { desc: "seconds", input: "2s", ms: 2_000 },
    { desc: "minutes and seconds", input: "1m30s", ms: 90_000 },
    { desc: "hours", input: "2h", ms: 7_200_000 },
    { desc: "every unit in order", input: "1h2m3s4ms", ms: 3_723_004 },
    { desc: "more than 60 of a unit", input: "90s", ms: 90_000 },
    { desc: "minutes then milliseconds", input: "1m5ms", ms: 60_005 },
    { desc: "leading zeros", input: "05s", ms: 5_000 },
  ];
  for (const row of valid) {
    test(`accepts ${row.desc}: ${row.input}`, () => assert.equal(parseDuration(row.input), row.ms));
  }

  const invalid: Array<{ desc: string; input: string; reason: RegExp }> = [
    { desc: "a negative value", input: "-1s", reason: /signed/ },
    { desc: "a plus sign", input: "+1s", reason: /signed/ },
    { desc: "a fraction", input: "1.5s", reason: /fractions/ },
    { desc: "words", input: "abc", reason: /expected parts/ },
    { desc: "empty text", input: "", reason: /empty/ },
    { desc: "a plain number other than 0", input: "5", reason: /unit is required.*"5s"/ },
    { desc: "units out of order", input: "1s1m", reason: /largest first/ },
    { desc: "a repeated unit", input: "1s1s", reason: /once each/ },
    { desc: "upper-case units", input: "2H", reason: /expected parts/ },
    { desc: "days", input: "1d", reason: /expected parts/ },
    { desc: "microseconds", input: "10us", reason: /expected parts/ },
    { desc: "spaces", input: "1h 2m", reason: /expected parts/ },
    { desc: "leading space", input: " 2s", reason: /expected parts/ },
    { desc: "a unit without a number", input: "ms", reason: /expected parts/ },
    { desc: "trailing garbage", input: "2sx", reason: /expected parts/ },
    { desc: "an unsafe number", input: "99999999999999999999h", reason: /too large/ },
  ];
  for (const row of invalid) {
    test(`rejects ${row.desc}: ${JSON.stringify(row.input)}`, () => {
      assert.throws(
        () => parseDuration(row.input),
        (err: Error) => err.message.startsWith(`invalid duration "${row.input}"`) && row.reason.test(err.message),
      );
    });
  }
});

describe("formatDuration", () => {
  const rows: Array<[number, string]> = [
    [0, "0s"],
    [500, "500ms"],
    [2_000, "2s"],
    [90_000, "1m30s"],
    [7_200_000, "2h"],
    [3_723_004, "1h2m3s4ms"],
  ];
  for (const [ms, text] of rows) test(`${ms} ms is ${text}`, () => assert.equal(formatDuration(ms), text));

  test("round-trips through parseDuration", () => {
    for (const ms of [1, 999, 1_000, 59_999, 60_000, 3_599_999, 3_600_000, 86_400_123, 2_145_600_000]) {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
  });

  test("refuses negative and fractional values", () => {
    assert.throws(() => formatDuration(-1), RangeError);
    assert.throws(() => formatDuration(1.5), RangeError);
  });
});

describe("checkDurationRange", () => {
  test("says 'greater than 0' when the minimum is 1 ms", () => {
    assert.throws(() => checkDurationRange(0, 1, 10_000), /must be greater than 0/);
  });
  test("names the maximum", () => {
    assert.throws(() => checkDurationRange(20_000, 0, 10_000), /must be at most 10s/);
  });
  test("passes a value in range through", () => assert.equal(checkDurationRange(5_000, 0, 10_000), 5_000));
});

describe("parseSize", () => {
  const valid: Array<{ desc: string; input: string; bytes: number }> = [
    { desc: "mebibytes", input: "4MiB", bytes: 4_194_304 },
    { desc: "lower-case mebibytes", input: "8mib", bytes: 8_388_608 },
    { desc: "plain bytes", input: "4194304", bytes: 4_194_304 },
    { desc: "kibibytes", input: "4KiB", bytes: 4_096 },
    { desc: "gibibytes", input: "1GiB", bytes: 1_073_741_824 },
    { desc: "tebibytes", input: "1TiB", bytes: 2 ** 40 },
    { desc: "short binary unit", input: "4Mi", bytes: 4_194_304 },
    { desc: "decimal megabytes (bytesize)", input: "4MB", bytes: 4_000_000 },
    { desc: "single-letter decimal unit (bytesize)", input: "4M", bytes: 4_000_000 },
    { desc: "decimal kilobytes", input: "2kb", bytes: 2_000 },
    { desc: "explicit bytes", input: "10B", bytes: 10 },
    { desc: "one space before the unit", input: "4 MiB", bytes: 4_194_304 },
    { desc: "zero", input: "0", bytes: 0 },
  ];
  for (const row of valid) {
    test(`accepts ${row.desc}: ${row.input}`, () => assert.equal(parseSize(row.input), row.bytes));
  }

  const invalid: Array<{ desc: string; input: string; reason: RegExp }> = [
    { desc: "empty text", input: "", reason: /expected e\.g\./ },
    { desc: "words", input: "abc", reason: /expected e\.g\./ },
    { desc: "a negative value", input: "-4MiB", reason: /expected e\.g\./ },
    { desc: "a fraction", input: "1.5MiB", reason: /fractions/ },
    { desc: "an unknown unit", input: "4XB", reason: /unknown unit "XB"/ },
    { desc: "an object-prototype name as unit", input: "4constructor", reason: /unknown unit/ },
    { desc: "a trailing space", input: "4 ", reason: /expected e\.g\./ },
    { desc: "a leading space", input: " 4", reason: /expected e\.g\./ },
    { desc: "two spaces", input: "4  MiB", reason: /expected e\.g\./ },
    { desc: "a unit alone", input: "MiB", reason: /expected e\.g\./ },
    { desc: "an unsafe number", input: "99999999TiB", reason: /too large/ },
  ];
  for (const row of invalid) {
    test(`rejects ${row.desc}: ${JSON.stringify(row.input)}`, () => {
      assert.throws(
        () => parseSize(row.input),
        (err: Error) => err.message.startsWith(`invalid size "${row.input}"`) && row.reason.test(err.message),
      );
    });
  }
});

describe("formatSize", () => {
  test("uses the largest exact binary unit", () => {
    assert.equal(formatSize(4_194_304), "4MiB");
    assert.equal(formatSize(64 * 2 ** 20), "64MiB");
    assert.equal(formatSize(2 ** 30), "1GiB");
    assert.equal(formatSize(1_536), "1536B");
    assert.equal(formatSize(6 * 1_024), "6KiB");
    assert.equal(formatSize(1_000), "1000B");
    assert.equal(formatSize(0), "0B");
  });
  test("round-trips through parseSize", () => {
    for (const bytes of [0, 1, 1_000, 4_096, 4_194_304, 5_000_000, 2 ** 40]) assert.equal(parseSize(formatSize(bytes)), bytes);
  });
});
