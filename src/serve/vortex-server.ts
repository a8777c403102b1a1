// A vortex TCP piece server (client reference §5.2): each connection carries one
// DownloadPiece request, answered with PieceContent + the raw bytes (or an Error frame),
// then closed — what a Rust dfdaemon storage server does. Our upload server and the
// test fake parent both serve pieces through this.
import { createServer, type Server, type Socket } from "node:net";
import { writeWatched, type UploadLowSpeed } from "./upload-body.js";
import {
  PIECE_REQUEST_LIMITS,
  VortexErrorCode,
  VortexProtocolError,
  VortexReader,
  decodeDownloadPiece,
  encodeError,
  encodePieceContentHeader,
  type PieceMetadata,
} from "../transport/vortex-codec.js";

export interface PieceLookupResult {
  metadata: PieceMetadata;
  /**
   * The bytes to send. More than metadata.length: only metadata.length are sent. Fewer:
   * they are sent and the connection is then destroyed, so the child sees a short piece
   * (as when a Rust parent's piece file read fails mid-copy) instead of waiting.
   */
  data: Buffer;
}

export interface VortexServerHooks {
  /** A whole piece was handed to the kernel. */
  onServed?(taskId: string, pieceNumber: number, bytes: number): void;
  /**
   * The body was cut short (short data, client gone, deadline, or — `lowSpeed` set, its
   * message — the child read too slowly); bytes = body bytes the kernel took.
   */
  onAborted?(taskId: string, pieceNumber: number, bytes: number, lowSpeed?: string): void;
  /** Every upload slot was busy: the request was answered with an Error frame at once. */
  onRefused?(taskId: string, pieceNumber: number): void;
}

export interface VortexServerOptions {
  host: string;
  /** 0 = ephemeral. */
  port: number;
  /** undefined → NotFound frame; a throw → Internal frame. */
  lookup: (taskId: string, pieceNumber: number) => Promise<PieceLookupResult | undefined>;
  /**
   * Uploads (lookup + send) running at once; default 64. A request beyond it is answered
   * at once with an Error frame (Internal, "upload slots full"), which a Rust child
   * treats like any failed piece: it asks the next parent that has it. A Rust parent has
   * no such cap (it only rate-limits bandwidth), so it never needs a busy answer; ours
   * holds whole pieces in memory, hence the cap — but a queued child would wait without
   * a word for up to its 360 s piece timeout, so none waits.
   */
  maxConcurrent?: number;
  /**
   * The low-speed rule for sending (upload-body.ts): a child that takes fewer than
   * limitBytesPerSecond over windowMs (or nothing) is cut and its slot freed. Unset: only
   * uploadTimeoutMs bounds a child that stops reading.
   */
  lowSpeed?: UploadLowSpeed;
  /** Deadline to receive the 74-byte request after accepting; default 10 s. */
  requestTimeoutMs?: number;
  /** Deadline for lookup + sending; default 360 s (Rust writePieceTimeout). */
  uploadTimeoutMs?: number;
  hooks?: VortexServerHooks;
}

export interface VortexServer {
  port: number;
  /** Stops listening and destroys open connections (in-flight uploads are cut). */
  close(): Promise<void>;
  /** Connections currently open (reading, waiting or sending). */
  connections(): number;
}

const DEFAULT_MAX_CONCURRENT = 64;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_UPLOAD_TIMEOUT_MS = 360_000;

export async function startVortexServer(opts: VortexServerOptions): Promise<VortexServer> {
  const maxConcurrent = opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError(`maxConcurrent ${maxConcurrent} must be a positive integer`);
  const slots = new UploadSlots(maxConcurrent);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    void serveConnection(socket, opts, slots);
  });
  await listen(server, opts.host, opts.port);
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("vortex server: no TCP address after listen");

  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    connections: () => sockets.size,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

async function serveConnection(socket: Socket, opts: VortexServerOptions, slots: UploadSlots): Promise<void> {
  socket.setNoDelay(true);
  // Failures show up as a closed socket or a failed write; nothing here needs the event.
  socket.on("error", () => {});

  const requestTimer = setTimeout(() => socket.destroy(), opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  let uploadTimer: NodeJS.Timeout | undefined;
  // A lookup that never settles must not keep a timer (and the process) alive after close().
  socket.once("close", () => {
    clearTimeout(requestTimer);
    clearTimeout(uploadTimer);
  });
  let request: { taskId: string; pieceNumber: number };
  try {
    const frame = await new VortexReader(socket).readFrame(PIECE_REQUEST_LIMITS);
    request = decodeDownloadPiece(frame.value);
  } catch (err) {
    // A short read means the client is gone (or our deadline fired): nobody to answer.
    if (err instanceof VortexProtocolError && err.reason !== "truncated" && !socket.destroyed) {
      endAndClose(socket, encodeError(VortexErrorCode.InvalidArgument, err.message));
    } else {
      socket.destroy();
    }
    return;
  } finally {
    clearTimeout(requestTimer);
  }

  if (socket.destroyed) return;
  const release = slots.tryAcquire();
  if (!release) {
    endAndClose(socket, encodeError(VortexErrorCode.Internal, `upload slots full (${slots.max} uploads in progress), try another parent`));
    opts.hooks?.onRefused?.(request.taskId, request.pieceNumber);
    return;
  }
  uploadTimer = setTimeout(() => socket.destroy(), opts.uploadTimeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS);
  try {
    await answer(socket, request.taskId, request.pieceNumber, opts);
  } finally {
    release();
    clearTimeout(uploadTimer);
  }
}

async function answer(socket: Socket, taskId: string, pieceNumber: number, opts: VortexServerOptions): Promise<void> {
  let found: PieceLookupResult | undefined;
  let header: Buffer;
  try {
    found = await opts.lookup(taskId, pieceNumber);
    if (!found) {
      // Rust parents put the piece id (`<task id>-<number>`) in the NotFound message.
      endAndClose(socket, encodeError(VortexErrorCode.NotFound, `piece ${taskId}-${pieceNumber} not found`));
      return;
    }
    header = encodePieceContentHeader(found.metadata);
  } catch (err) {
    endAndClose(socket, encodeError(VortexErrorCode.Internal, err instanceof Error ? err.message : String(err)));
    return;
  }
  if (socket.destroyed) return;

  const declared = found.metadata.length;
  const body = found.data.length > declared ? found.data.subarray(0, declared) : found.data;
  const what = `child ${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"} (piece ${pieceNumber})`;
  const outcome = await writeWatched(socket, header, body, what, opts.lowSpeed);
  if (outcome.sent && body.length === declared) {
    endAndClose(socket);
    opts.hooks?.onServed?.(taskId, pieceNumber, body.length);
  } else {
    socket.destroy();
    opts.hooks?.onAborted?.(taskId, pieceNumber, outcome.bytes, outcome.lowSpeed);
  }
}

/**
 * Flush, then close both directions, as a Rust parent drops its stream after the answer.
 * A plain end() would leave the socket half-open until the child closes, and nothing
 * reads our side any more to notice that.
 */
function endAndClose(socket: Socket, last?: Buffer): void {
  const close = (): void => {
    socket.destroy();
  };
  if (last) socket.end(last, close);
  else socket.end(close);
}

/** A counting semaphore without a queue: a request finds a free slot or is refused. */
class UploadSlots {
  private active = 0;

  constructor(readonly max: number) {}

  /** A release function, or undefined when every slot is busy. */
  tryAcquire(): (() => void) | undefined {
    if (this.active >= this.max) return undefined;
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
    };
  }
}
