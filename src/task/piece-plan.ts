// The piece plan, identical to the Rust dfdaemon's (`resource/piece.rs`;
// ../shared/reference/dragonfly-client.md §3). Parents number and cut pieces this way, so
// our numbers, offsets and lengths must match theirs exactly.

const MiB = 1024 * 1024;

/** `MIN_PIECE_LENGTH` (dragonfly-client-config): also the smallest `--piece-length` accepted. */
export const MIN_PIECE_LENGTH = 4 * MiB;
/** `MAX_PIECE_LENGTH` (piece.rs). */
export const MAX_PIECE_LENGTH = 64 * MiB;
/** `MAX_PIECE_COUNT`: the optimiser aims for at most this many pieces. */
const TARGET_PIECE_COUNT = 500;
/** Content up to this size goes straight to the origin (task.rs::download). */
export const SMALL_FILE_LIMIT = 4 * MiB;

export interface PlannedPiece {
  /** 0-based piece number. */
  number: number;
  /** Byte offset in the content: number × piece length. */
  offset: number;
  /** piece length, except for the last piece, which holds the remainder. */
  length: number;
}

function assertByteCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

/** Rust's `u64::next_power_of_two`: the smallest power of two ≥ n, with 0 → 1. */
function nextPowerOfTwo(n: number): number {
  let power = 1;
  while (power < n) power *= 2;
  return power;
}

/**
 * Piece length when the user gave none (`OptimizeByFileLength`): truncate(L / 500), next
 * power of two, then p if 4 MiB < p < 64 MiB, 64 MiB if larger, 4 MiB otherwise.
 */
export function pieceLengthFor(contentLength: number): number {
  assertByteCount("content length", contentLength);
  const power = nextPowerOfTwo(Math.trunc(contentLength / TARGET_PIECE_COUNT));
  if (power >= MAX_PIECE_LENGTH) return MAX_PIECE_LENGTH;
  if (power > MIN_PIECE_LENGTH) return power;
  return MIN_PIECE_LENGTH;
}

/** ceil(L / pieceLength); 0 for empty content. */
export function pieceCount(contentLength: number, pieceLength: number): number {
  assertByteCount("content length", contentLength);
  assertByteCount("piece length", pieceLength);
  if (pieceLength === 0) throw new RangeError("piece length must be positive");
  return Math.ceil(contentLength / pieceLength);
}

/** Every piece of the content, in order; empty for empty content. */
export function planPieces(contentLength: number, pieceLength: number): PlannedPiece[] {
  const count = pieceCount(contentLength, pieceLength);
  const pieces: PlannedPiece[] = [];
  for (let number = 0; number < count; number++) {
    const offset = number * pieceLength;
    pieces.push({ number, offset, length: Math.min(pieceLength, contentLength - offset) });
  }
  return pieces;
}

/**
 * True when the Rust dfdaemon would skip the scheduler and fetch from the origin: the
 * content is at most 4 MiB and back-to-source is allowed.
 */
export function goesStraightToOrigin(contentLength: number, disableBackToSource: boolean): boolean {
  return !disableBackToSource && contentLength <= SMALL_FILE_LIMIT;
}
