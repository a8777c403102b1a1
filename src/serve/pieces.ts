// What the upload server needs to know about a task: which pieces are verified and where
// their bytes are. The engine's piece ledger implements it; serve/ never imports engine/.

/** A verified piece, as the upload server describes it to children. */
export interface ServedPiece {
  number: number;
  offset: number;
  length: number;
  /** `crc32:<decimal>`, as Dragonfly reports it. */
  digest: string;
  /** Peer id of the parent it came from (empty or undefined when from the origin). */
  parentId?: string;
  costMs: number;
  createdAt: Date;
}

export interface ServedPieces {
  /** The piece when it is verified; undefined while it is missing or in flight. */
  finishedPiece(n: number): ServedPiece | undefined;
  /** The verified bytes of piece n, or undefined when it is not (or no longer) readable. */
  read(n: number): Promise<{ piece: ServedPiece; data: Buffer } | undefined>;
  /** Calls `listener` for every piece verified from now on; returns the unsubscribe. */
  onFinished(listener: (piece: ServedPiece) => void): () => void;
}
