// Fetches one piece from a parent's vortex TCP server (client reference §5.2): one TCP
// connection per request, as the Rust server answers one request and closes.
import type { Socket } from "node:net";
import { crc32 } from "../storage/crc32.js";
import { DfgetError, TimeoutError } from "../errors.js";
import { formatHostPort, peerAddressProblem } from "../net/address.js";
import { LowSpeedWatchdog, type WatchdogTimers } from "./low-speed.js";
import { ReusedBufferSource } from "./vortex-socket.js";
import {
  PIECE_RESPONSE_LIMITS,
  VortexProtocolError,
  VortexReader,
  VortexRemoteError,
  VortexTag,
  decodeError,
  decodePieceContentValue,
  encodeDownloadPiece,
  vortexErrorCodeName,
  type PieceMetadata,
} from "./vortex-codec.js";

/** Rust's vortex client gives up connecting after 2 s (dragonfly-client-storage client/tcp.rs). */
export const VORTEX_CONNECT_TIMEOUT_MS = 2_000;

export interface FetchPieceOptions {
  host: string;
  port: number;
  taskId: string;
  pieceNumber: number;
  /** Whole exchange: connect, request, metadata and every piece byte. */
  timeoutMs: number;
  /** Connect deadline inside timeoutMs; default VORTEX_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** When given, a parent announcing another length is refused before any byte is read. */
  expectedLength?: number;
  /** Largest piece we will allocate for; checked before allocating. */
  maxLength: number;
  signal?: AbortSignal;
  /**
   * Where to put the bytes when it is large enough (the caller's reusable buffer); the
   * returned `data` is then a view of it. Saves a piece-sized allocation per transfer,
   * which at 8 concurrent 4 MiB pieces is most of the garbage a P2P download makes.
   */
  into?: Buffer;
  /**
   * Streams the piece instead: each chunk goes to `sink` as it arrives, at its position
   * in the file (metadata offset + bytes so far), awaited before the next is read, and
   * the returned `data` is empty. Nothing in the sink counts until the caller has
   * compared `digest` — a bad piece is simply written again when it is refetched.
   */
  sink?: (chunk: Buffer, position: number) => Promise<void> | void;
  /** Where the piece starts in the file (for the sink's positions); default the parent's metadata offset. */
  fileOffset?: number;
  /**
   * curl's low-speed rule, as on the origin path: fewer than `limitBytesPerSecond` over
   * `windowMs` from the connect on — or silence for the window — ends the transfer with a
   * TimeoutError (phase "low-speed"). A slow but moving parent is never cut by it.
   */
  lowSpeed?: { limitBytesPerSecond: number; windowMs: number; timers?: WatchdogTimers };
  /**
   * The parent's piece header, once it passed the checks above and before any byte: its
   * digest says which version of the piece the parent holds, even if the bytes never come.
   */
  onMetadata?: (metadata: PieceMetadata) => void;
}

export interface FetchedPiece {
  metadata: PieceMetadata;
  /** Exactly metadata.length bytes (empty when streamed to a sink). The digest is not checked here. */
  data: Buffer;
  /** `crc32:<decimal>` of the bytes received, computed as they arrived. */
  digest: string;
}

/**
 * The socket failed (refused, reset, unreachable). Following got, `code` is the errno
 * (ECONNREFUSED, ECONNRESET, ...) when there is one, else ERR_VORTEX_CONNECTION.
 */
export class VortexConnectionError extends DfgetError {
  constructor(message: string, errno: string | undefined, options?: { cause?: unknown }) {
    super(message, errno ?? "ERR_VORTEX_CONNECTION", undefined, options);
    this.name = "VortexConnectionError";
  }
}

/**
 * Resolves with the piece, or rejects with: TimeoutError (phase "connect" or "piece"),
 * VortexRemoteError (the parent's Error frame; NotFound = vortexCode 2),
 * VortexProtocolError (bad or short bytes), VortexConnectionError, or — once `signal`
 * aborts — the signal's reason as it is.
 * The socket is destroyed on every path; bytes after the piece are ignored. The socket
 * reads into one reused buffer (vortex-socket.ts), so no chunk outlives the call.
 */
export async function fetchPiece(opts: FetchPieceOptions): Promise<FetchedPiece> {
  const request = encodeDownloadPiece(opts.taskId, opts.pieceNumber);
  const where = `vortex ${formatHostPort(opts.host, opts.port)} piece ${opts.pieceNumber}`;
  opts.signal?.throwIfAborted();
  // Never dialled: an empty host would reach localhost, a bad port throws in connect().
  const problem = peerAddressProblem(opts.host, opts.port);
  if (problem) throw new VortexConnectionError(`${where}: ${problem}`, "ERR_VORTEX_ADDRESS");

  const source = new ReusedBufferSource({ host: opts.host, port: opts.port });
  const socket = source.socket;
  // Every failure reaches us through destroy(err) → the pending read; this listener only
  // keeps an error that arrives between reads from becoming an uncaught 'error' event.
  socket.on("error", () => {});
  const timers = armDeadlines(socket, opts, where);
  const watchdog = opts.lowSpeed && new LowSpeedWatchdog({ ...opts.lowSpeed, what: where });
  watchdog?.signal.addEventListener("abort", () => socket.destroy(watchdog.signal.reason), { once: true });
  const onAbort = (): void => {
    socket.destroy(new DfgetError(`${where}: aborted`, "ERR_ABORTED"));
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  // The sink's own failure (a disk error) is passed on as it is, not as a socket error.
  const sinkFailure: { error?: unknown } = {};
  const sink = opts.sink;
  const guarded = sink && (async (chunk: Buffer, position: number): Promise<void> => {
    try {
      await sink(chunk, position);
    } catch (err) {
      sinkFailure.error = err;
      throw err;
    }
  });
  try {
    await connected(socket);
    clearTimeout(timers.connect);
    socket.write(request);
    return await readPiece(new VortexReader(source), { ...opts, sink: guarded }, where, watchdog);
  } catch (err) {
    // Whatever the socket reported after an abort, the caller asked for the abort.
    if (opts.signal?.aborted) throw opts.signal.reason;
    if ("error" in sinkFailure) throw sinkFailure.error;
    throw withContext(err, where);
  } finally {
    clearTimeout(timers.connect);
    clearTimeout(timers.total);
    watchdog?.stop();
    opts.signal?.removeEventListener("abort", onAbort);
    // Nothing returned is a view of the receive buffer (frame values are copies): reuse it.
    source.close();
  }
}

async function readPiece(reader: VortexReader, opts: FetchPieceOptions, where: string, watchdog?: LowSpeedWatchdog): Promise<FetchedPiece> {
  const frame = await reader.readFrame(PIECE_RESPONSE_LIMITS);
  if (frame.tag === VortexTag.Error) {
    const { code, message } = decodeError(frame.value);
    throw new VortexRemoteError(code, `${where}: parent answered ${vortexErrorCodeName(code)}: ${message}`);
  }
  const metadata = decodePieceContentValue(frame.value);
  if (metadata.number !== opts.pieceNumber) {
    throw new VortexProtocolError("mismatch", `parent sent piece ${metadata.number} instead`);
  }
  if (metadata.length > opts.maxLength) {
    throw new VortexProtocolError("oversized", `piece is ${metadata.length} bytes, limit ${opts.maxLength}`);
  }
  if (opts.expectedLength !== undefined && metadata.length !== opts.expectedLength) {
    throw new VortexProtocolError("mismatch", `piece is ${metadata.length} bytes, expected ${opts.expectedLength}`);
  }
  opts.onMetadata?.(metadata);
  if (opts.sink) {
    // Written while still in cache, crc32 on the way: no piece-sized buffer, no cold copy.
    const sink = opts.sink;
    let position = opts.fileOffset ?? metadata.offset;
    let crc = 0;
    await reader.readChunks(metadata.length, "piece content", (chunk) => {
      watchdog?.bytes(chunk.length);
      crc = crc32(chunk, crc);
      const at = position;
      position += chunk.length;
      return sink(chunk, at);
    });
    return { metadata, data: Buffer.alloc(0), digest: `crc32:${crc >>> 0}` };
  }
  const data = opts.into && opts.into.length >= metadata.length ? opts.into.subarray(0, metadata.length) : Buffer.allocUnsafe(metadata.length);
  if (watchdog) {
    // Chunk by chunk, so that the watchdog sees a slow but moving parent move.
    let filled = 0;
    await reader.readChunks(data.length, "piece content", (chunk) => {
      watchdog.bytes(chunk.length);
      filled += chunk.copy(data, filled);
    });
  } else {
    await reader.readInto(data, "piece content");
  }
  return { metadata, data, digest: `crc32:${crc32(data) >>> 0}` };
}

function armDeadlines(socket: Socket, opts: FetchPieceOptions, where: string): { connect: NodeJS.Timeout; total: NodeJS.Timeout } {
  const connectMs = Math.min(opts.connectTimeoutMs ?? VORTEX_CONNECT_TIMEOUT_MS, opts.timeoutMs);
  const connectTimer = setTimeout(() => {
    socket.destroy(new TimeoutError("connect", `${where}: not connected within ${connectMs} ms`));
  }, connectMs);
  const totalTimer = setTimeout(() => {
    socket.destroy(new TimeoutError("piece", `${where}: not received within ${opts.timeoutMs} ms`));
  }, opts.timeoutMs);
  return { connect: connectTimer, total: totalTimer };
}

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    const onClose = (): void => reject(new VortexConnectionError("closed before connecting", undefined));
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.once("connect", () => {
      socket.off("error", onError);
      socket.off("close", onClose);
      resolve();
    });
  });
}

/** Our own typed errors gain the address; socket errors become VortexConnectionError. */
function withContext(err: unknown, where: string): unknown {
  if (err instanceof VortexProtocolError) {
    return new VortexProtocolError(err.reason, `${where}: ${err.message}`, { cause: err });
  }
  if (err instanceof DfgetError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  if (errno === "ERR_STREAM_PREMATURE_CLOSE") {
    return new VortexProtocolError("truncated", `${where}: connection closed early`, { cause: err });
  }
  const text = err instanceof Error ? err.message : String(err);
  return new VortexConnectionError(`${where}: ${text}`, errno, { cause: err });
}

