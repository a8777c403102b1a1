import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_PIECE_LENGTH,
  MIN_PIECE_LENGTH,
  SMALL_FILE_LIMIT,
  goesStraightToOrigin,
  pieceCount,
  pieceLengthFor,
  planPieces,
} from "../../src/task/piece-plan.js";

const MiB = 1024 * 1024;

describe("pieceLengthFor: the threshold table of dragonfly-client.md §3.1", () => {
  test("constants", () => {
    assert.equal(MIN_PIECE_LENGTH, 4 * MiB);
    assert.equal(MAX_PIECE_LENGTH, 64 * MiB);
    assert.equal(SMALL_FILE_LIMIT, 4 * MiB);
  });

  // Each boundary B: B - 1 still gets the smaller length, B and B + 1 the larger one.
  const boundaries: Array<[number, number, number]> = [
    [2_097_152_500, 4 * MiB, 8 * MiB],
    [4_194_304_500, 8 * MiB, 16 * MiB],
    [8_388_608_500, 16 * MiB, 32 * MiB],
    [16_777_216_500, 32 * MiB, 64 * MiB],
  ];
  for (const [boundary, below, atOrAbove] of boundaries) {
    test(`boundary ${boundary}: ${below / MiB} MiB below, ${atOrAbove / MiB} MiB from it`, () => {
      assert.equal(pieceLengthFor(boundary - 1), below);
      assert.equal(pieceLengthFor(boundary), atOrAbove);
      assert.equal(pieceLengthFor(boundary + 1), atOrAbove);
    });
  }

  test("small and empty content get the minimum", () => {
    assert.equal(pieceLengthFor(0), 4 * MiB);
    assert.equal(pieceLengthFor(1), 4 * MiB);
    assert.equal(pieceLengthFor(500), 4 * MiB);
    assert.equal(pieceLengthFor(100 * MiB), 4 * MiB);
  });

  test("huge content is clamped to 64 MiB", () => {
    assert.equal(pieceLengthFor(1024 * 1024 * MiB), 64 * MiB);
    assert.equal(pieceLengthFor(Number.MAX_SAFE_INTEGER), 64 * MiB);
  });

  test("negative or fractional lengths are refused", () => {
    assert.throws(() => pieceLengthFor(-1), RangeError);
    assert.throws(() => pieceLengthFor(1.5), RangeError);
  });
});

describe("pieceCount and planPieces: the cases of §3.2", () => {
  test("(1000, 5000) → 5 pieces, last offset 4000 length 1000", () => {
    const plan = planPieces(5000, 1000);
    assert.equal(pieceCount(5000, 1000), 5);
    assert.deepEqual(plan.map((p) => p.number), [0, 1, 2, 3, 4]);
    assert.deepEqual(plan.at(-1), { number: 4, offset: 4000, length: 1000 });
    assert.ok(plan.every((p) => p.length === 1000 && p.offset === p.number * 1000));
  });

  test("(10, 101) → 11 pieces, last offset 100 length 1", () => {
    const plan = planPieces(101, 10);
    assert.equal(pieceCount(101, 10), 11);
    assert.equal(plan.length, 11);
    assert.deepEqual(plan.at(-1), { number: 10, offset: 100, length: 1 });
    assert.equal(plan.reduce((sum, p) => sum + p.length, 0), 101);
  });

  test("(5000, 1000) → 1 piece of 1000", () => {
    assert.equal(pieceCount(1000, 5000), 1);
    assert.deepEqual(planPieces(1000, 5000), [{ number: 0, offset: 0, length: 1000 }]);
  });

  test("empty content has no pieces", () => {
    assert.equal(pieceCount(0, 4 * MiB), 0);
    assert.deepEqual(planPieces(0, 4 * MiB), []);
  });

  test("a zero piece length is refused", () => {
    assert.throws(() => pieceCount(10, 0), RangeError);
  });

  test("a real plan covers the content exactly once", () => {
    const length = 3 * 4 * MiB + 12345;
    const plan = planPieces(length, pieceLengthFor(length));
    assert.equal(plan.length, 4);
    assert.equal(plan[3]?.length, 12345);
    let expectedOffset = 0;
    for (const p of plan) {
      assert.equal(p.offset, expectedOffset);
      expectedOffset += p.length;
    }
    assert.equal(expectedOffset, length);
  });
});

describe("goesStraightToOrigin (§3.3)", () => {
  test("≤ 4 MiB goes to the origin when back-to-source is allowed", () => {
    assert.equal(goesStraightToOrigin(0, false), true);
    assert.equal(goesStraightToOrigin(4 * MiB, false), true);
    assert.equal(goesStraightToOrigin(4 * MiB + 1, false), false);
  });

  test("never when back-to-source is disabled", () => {
    assert.equal(goesStraightToOrigin(0, true), false);
    assert.equal(goesStraightToOrigin(4 * MiB, true), false);
  });
});
