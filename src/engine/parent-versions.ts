// Do the parents hold the same version of the object as the origin? Dragonfly keys a task
// by URL and carries no validator, so the cluster may still serve an older object while
// the origin's is pinned (If-Range). What can be compared: the content length of the
// parents' task against the origin's HEAD, and a piece's crc32 as a parent announced it
// (vortex piece header, also of a transfer that failed later) against the crc32 of the
// same piece fetched from the origin. The first difference makes the parents untrusted
// for the rest of the run; the ledger then drops their pieces (dropParentPieces).
import { EventEmitter } from "node:events";
import type { Peer } from "../gen/common/v2/common.js";

export type VersionMismatch =
  | { kind: "crc32"; piece: number; origin: string; parent: string; parentId: string }
  | { kind: "length"; origin: number; parents: number; parentId: string };

/** One line naming what differs (the notice, the summary's cluster warning, the error). */
export function describeMismatch(m: VersionMismatch): string {
  const what = m.kind === "crc32"
    ? `piece ${m.piece} is ${m.origin} at the origin but ${m.parent} at parent ${m.parentId}`
    : `the origin's object is ${m.origin} bytes but the parents' task (parent ${m.parentId}) is ${m.parents} bytes`;
  return `the cluster holds another version of this URL: ${what}`;
}

export class ParentVersionCheck extends EventEmitter<{ mismatch: [VersionMismatch] }> {
  /** piece number → crc32 digest → the parent that announced it */
  private readonly announcedDigests = new Map<number, Map<string, string>>();
  private comparisons = 0;
  private first: VersionMismatch | undefined;

  /** How many origin pieces were compared with a parent's crc32 so far. */
  get compared(): number {
    return this.comparisons;
  }

  /** The first difference found; from then on no parent piece counts. */
  get mismatch(): VersionMismatch | undefined {
    return this.first;
  }

  /** A parent announced `digest` for piece n (its vortex header). */
  announce(n: number, parentId: string, digest: string): void {
    if (!digest) return;
    let byDigest = this.announcedDigests.get(n);
    if (!byDigest) this.announcedDigests.set(n, (byDigest = new Map()));
    if (!byDigest.has(digest)) byDigest.set(digest, parentId);
  }

  /**
   * Piece n came from the origin with `originDigest`: compare it with every crc32 a parent
   * announced for it. Returns (and records) the difference, if any; nothing announced
   * means nothing compared.
   */
  compareWithOrigin(n: number, originDigest: string): VersionMismatch | undefined {
    const byDigest = this.announcedDigests.get(n);
    if (!byDigest || byDigest.size === 0) return undefined;
    this.comparisons++;
    for (const [digest, parentId] of byDigest) {
      if (digest !== originDigest) return this.distrust({ kind: "crc32", piece: n, origin: originDigest, parent: digest, parentId });
    }
    return undefined;
  }

  /** Record a difference (the first one wins and is announced once); returns it. */
  distrust(mismatch: VersionMismatch): VersionMismatch {
    if (this.first) return this.first;
    this.first = mismatch;
    this.emit("mismatch", mismatch);
    return mismatch;
  }
}

/**
 * A task's content length as the scheduler states it, when it states one: not 0 (how a
 * task registered without a length looks) and not Go's "unknown" (an int64 −1, which
 * arrives as 2^64−1) — anything at or past 2^53 is not a size.
 */
export function statedTaskLength(length: bigint | undefined): number | undefined {
  if (length === undefined || length <= 0n || length > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(length);
}

/** The first candidate whose task states a content length other than the origin's. */
export function otherVersionOf(parents: readonly Peer[], contentLength: number): VersionMismatch | undefined {
  for (const parent of parents) {
    const length = statedTaskLength(parent.task?.contentLength);
    if (length === undefined || length === contentLength) continue;
    return { kind: "length", origin: contentLength, parents: length, parentId: parent.id };
  }
  return undefined;
}
