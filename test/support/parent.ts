// A fake seed parent peer on 127.0.0.1 that behaves like a Rust dfdaemon parent (client
// reference §5.1–5.2, wire spec §8.2–8.3): DfdaemonUpload/SyncPieces over gRPC tells a
// child which pieces it has and where its vortex server is; the vortex TCP server hands
// out the bytes with a `crc32:<decimal>` digest. Pieces can appear over time, and fault
// switches corrupt or cut single pieces.
import { randomUUID } from "node:crypto";
import { connect, createServer, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { crc32 } from "@node-rs/crc32";
import { Host } from "../../src/gen/common/v2/common.js";
import {
  DfdaemonUploadService,
  type DfdaemonUploadServer,
  type SyncPiecesRequest,
  type SyncPiecesResponse,
} from "../../src/gen/dfdaemon/v2/dfdaemon.js";
import { HealthCheckResponse_ServingStatus, HealthService, type HealthServer } from "../../src/gen/grpc/health/v1/health.js";
import { decodeDownloadPiece, VORTEX_DOWNLOAD_PIECE_VALUE_BYTES, VORTEX_HEADER_BYTES, type PieceMetadata } from "../../src/transport/vortex-codec.js";
import { startVortexServer, type PieceLookupResult } from "../../src/serve/vortex-server.js";

export interface SeedParentOptions {
  /** The parent's version of the object: its crc32s are those of these bytes. */
  content: Buffer;
  taskId: string;
  pieceLength: number;
  /** Pieces present at start; default "all". */
  pieces?: "all" | number[];
  /** Default `seed-<random>`. */
  hostname?: string;
}

/** The true piece a raw handler may (mis)serve: its metadata as an honest parent sends it, and its bytes. */
export interface RawPieceRequest {
  pieceNumber: number;
  taskId: string;
  metadata: PieceMetadata;
  truth: Buffer;
}

/**
 * Answers one vortex request with whatever bytes it likes on `socket` (the 74-byte request
 * is already read); "pass" hands the request to the honest vortex server instead.
 */
export type RawVortexHandler = (socket: Socket, request: RawPieceRequest) => "pass" | void;

export interface FakeParent {
  peerId: string;
  hostId: string;
  hostname: string;
  ip: "127.0.0.1";
  grpcPort: number;
  tcpPort: number;
  /** Pieces appear over time; open SyncPieces streams send them at once. */
  addPiece(n: number): void;
  addAllPieces(): void;
  /** Serve wrong bytes for piece n (the first `times` requests; default every one); the metadata digest stays that of the true bytes. */
  corruptPiece(n: number, times?: number): void;
  /** For piece n: send header, metadata and half the bytes, then destroy the socket. */
  dieMidPiece(n: number): void;
  /**
   * From now on the vortex server accepts each request and never answers (SyncPieces
   * still advertises every piece): a parent that went silent. `silentRequests()` counts them.
   */
  goSilent(): void;
  /** Vortex requests held unanswered by goSilent(), in arrival order (piece numbers). */
  silentRequests(): number[];
  /**
   * From now on SyncPieces advertises a raw TCP server whose answers `handler` writes
   * byte by byte (wrong headers, lengths, tags…); undefined: back to the honest server.
   * `rawRequests()` lists the piece numbers it was asked for.
   */
  rawVortex(handler: RawVortexHandler | undefined): void;
  rawRequests(): number[];
  /** Piece bytes actually sent over vortex, cut pieces included. */
  bytesServed(): number;
  /** Piece numbers sent whole over vortex, in order. */
  piecesServed(): number[];
  /** Every SyncPieces request received, valid or not. */
  syncRequests: SyncPiecesRequest[];
  /** SyncPieces streams open and waiting for pieces (cancelled and ended ones are gone). */
  openSyncStreams(): number;
  /** Abrupt: destroy every connection and stop listening. */
  kill(): Promise<void>;
  /** Ends open SyncPieces streams with UNAVAILABLE, then shuts down. */
  close(): Promise<void>;
}

const IP = "127.0.0.1";
const SERVING_NAMES = new Set(["", "dfdaemon.v2.DfdaemonUpload"]);
/** common.v2.TrafficType.REMOTE_PEER, what a Rust parent puts in PieceContent. */
const REMOTE_PEER = 1;
/** common.v2.HostType.SUPER: seed peers. */
const SUPER_SEED_HOST_TYPE = 1;
const SHUTDOWN_GRACE_MS = 500;

export async function startSeedParent(opts: SeedParentOptions): Promise<FakeParent> {
  if (!Number.isInteger(opts.pieceLength) || opts.pieceLength <= 0) throw new RangeError(`pieceLength ${opts.pieceLength}`);
  const hostname = opts.hostname ?? `seed-${randomUUID().slice(0, 8)}`;
  // Seed ids carry a -seed suffix (client reference §2.5).
  const hostId = `${IP}-${hostname}-seed`;
  const peerId = `${IP}-${hostname}-${randomUUID()}-seed`;
  const pieceCount = Math.ceil(opts.content.length / opts.pieceLength);
  const have = new Set<number>();
  /** piece number → how many more requests get wrong bytes */
  const corrupt = new Map<number, number>();
  const dieMid = new Set<number>();
  let silent = false;
  const held: number[] = [];
  const listeners = new Set<() => void>();
  /** The pump of every SyncPieces stream that waits for pieces. */
  const openCalls = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  const syncRequests: SyncPiecesRequest[] = [];
  const served: number[] = [];
  let bytesSent = 0;

  const span = (n: number): { offset: number; length: number } => {
    const offset = n * opts.pieceLength;
    return { offset, length: Math.min(opts.pieceLength, opts.content.length - offset) };
  };
  const checkPiece = (n: number): void => {
    if (!Number.isInteger(n) || n < 0 || n >= pieceCount) throw new RangeError(`piece ${n} is not in 0..${pieceCount - 1}`);
  };
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };

  const honestMetadata = (n: number): { metadata: PieceMetadata; truth: Buffer } => {
    const { offset, length } = span(n);
    const truth = opts.content.subarray(offset, offset + length);
    const metadata: PieceMetadata = {
      number: n,
      offset,
      length,
      digest: `crc32:${crc32(truth)}`,
      parentId: "",
      trafficType: REMOTE_PEER,
      costSeconds: 0n,
      createdAtSeconds: BigInt(Math.floor(Date.now() / 1000)),
    };
    return { metadata, truth };
  };

  const vortex = await startVortexServer({
    host: IP,
    port: 0,
    lookup: async (taskId, n): Promise<PieceLookupResult | undefined> => {
      if (taskId !== opts.taskId || !have.has(n)) return undefined;
      if (silent) {
        held.push(n);
        // Never settles; the server's close() destroys the socket, which ends the wait.
        return new Promise<never>(() => {});
      }
      const { metadata, truth } = honestMetadata(n);
      const length = metadata.length;
      let data = truth;
      const corruptLeft = corrupt.get(n) ?? 0;
      if (corruptLeft > 0 && length > 0) {
        corrupt.set(n, corruptLeft - 1);
        data = Buffer.from(truth);
        data[0] = data[0]! ^ 0xff;
      }
      if (dieMid.has(n)) data = data.subarray(0, Math.floor(length / 2));
      return { metadata, data };
    },
    hooks: {
      onServed: (_taskId, n, bytes) => {
        bytesSent += bytes;
        served.push(n);
      },
      onAborted: (_taskId, _n, bytes) => {
        bytesSent += bytes;
      },
    },
  });

  // The raw server: reads the request itself, then lets the handler answer (or pipes the
  // request to the honest server).
  let rawHandler: RawVortexHandler | undefined;
  const rawAsked: number[] = [];
  const rawSockets = new Set<Socket>();
  const raw = createServer((socket) => {
    rawSockets.add(socket);
    socket.once("close", () => rawSockets.delete(socket));
    socket.on("error", () => {});
    let got = Buffer.alloc(0);
    const need = VORTEX_HEADER_BYTES + VORTEX_DOWNLOAD_PIECE_VALUE_BYTES;
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      if (got.length < need) return;
      socket.off("data", onData);
      socket.pause();
      const request = got.subarray(0, need);
      const { taskId, pieceNumber } = decodeDownloadPiece(request.subarray(VORTEX_HEADER_BYTES));
      rawAsked.push(pieceNumber);
      const handler = rawHandler;
      const honest = pieceNumber < pieceCount ? honestMetadata(pieceNumber) : undefined;
      if (handler && honest && handler(socket, { pieceNumber, taskId, ...honest }) !== "pass") return;
      const upstream = connect({ host: IP, port: vortex.port });
      upstream.on("error", () => socket.destroy());
      socket.on("close", () => upstream.destroy());
      upstream.write(request);
      upstream.pipe(socket);
      socket.resume();
    };
    socket.on("data", onData);
  });
  const rawPort = await new Promise<number>((resolve) => {
    raw.listen({ host: IP, port: 0 }, () => resolve((raw.address() as { port: number }).port));
  });

  const upload: DfdaemonUploadServer = {
    syncPieces(call) {
      const req = call.request;
      syncRequests.push(req);
      const invalid = !req.hostId ? "host_id" : !req.taskId ? "task_id" : req.interestedPieceNumbers.length === 0 ? "interested_piece_numbers" : undefined;
      if (invalid) {
        call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: `invalid SyncPiecesRequest.${invalid}` });
        return;
      }
      if (req.taskId !== opts.taskId) {
        call.emit("error", { code: grpc.status.INTERNAL, details: `task ${req.taskId} not found` });
        return;
      }
      const remaining = new Set(req.interestedPieceNumbers);
      const stop = (): void => {
        listeners.delete(pump);
        openCalls.delete(call);
      };
      // Like the Rust loop: send what is finished, end when every interested piece went
      // out or the task is complete, otherwise wait for the next finished piece.
      const pump = (): void => {
        for (const n of remaining) {
          if (!have.has(n)) continue;
          const { offset, length } = span(n);
          const answer: SyncPiecesResponse = { number: n, offset: BigInt(offset), length: BigInt(length), ip: IP, tcpPort: rawHandler ? rawPort : vortex.port };
          call.write(answer);
          remaining.delete(n);
        }
        if (remaining.size === 0 || have.size === pieceCount) {
          stop();
          call.end();
        }
      };
      listeners.add(pump);
      openCalls.add(call);
      call.on("cancelled", stop);
      pump();
    },
    syncHost(call) {
      if (!call.request.hostId || !call.request.peerId) {
        call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "invalid SyncHostRequest" });
        return;
      }
      call.write(Host.fromPartial({ id: hostId, type: SUPER_SEED_HOST_TYPE, hostname, ip: IP, port: grpcPort, downloadPort: grpcPort }));
      call.end();
    },
  };

  const health: HealthServer = {
    check(call, callback) {
      if (SERVING_NAMES.has(call.request.service)) callback(null, { status: HealthCheckResponse_ServingStatus.SERVING });
      else callback({ code: grpc.status.NOT_FOUND, details: "unknown service" });
    },
    watch(call) {
      const known = SERVING_NAMES.has(call.request.service);
      call.write({ status: known ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN });
      openCalls.add(call);
      call.on("cancelled", () => openCalls.delete(call));
    },
  };

  const server = new grpc.Server();
  server.addService(DfdaemonUploadService, upload);
  server.addService(HealthService, health);
  let grpcPort: number;
  try {
    grpcPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${IP}:0`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
  } catch (err) {
    raw.close();
    await vortex.close();
    throw err;
  }

  const initial = opts.pieces ?? "all";
  for (const n of initial === "all" ? Array.from({ length: pieceCount }, (_, i) => i) : initial) {
    checkPiece(n);
    have.add(n);
  }

  let stopped: Promise<void> | undefined;
  const shutdown = (graceful: boolean): Promise<void> => {
    stopped ??= (async () => {
      listeners.clear();
      if (graceful) {
        for (const call of openCalls) call.emit("error", { code: grpc.status.UNAVAILABLE, details: "parent shutting down" });
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, SHUTDOWN_GRACE_MS);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
      } else {
        server.forceShutdown();
      }
      openCalls.clear();
      for (const socket of rawSockets) socket.destroy();
      await Promise.all([vortex.close(), new Promise<void>((resolve) => raw.close(() => resolve()))]);
    })();
    return stopped;
  };

  return {
    peerId,
    hostId,
    hostname,
    ip: IP,
    grpcPort,
    tcpPort: vortex.port,
    addPiece(n) {
      checkPiece(n);
      if (have.has(n)) return;
      have.add(n);
      notify();
    },
    addAllPieces() {
      for (let n = 0; n < pieceCount; n++) have.add(n);
      notify();
    },
    corruptPiece(n, times = Infinity) {
      checkPiece(n);
      corrupt.set(n, times);
    },
    dieMidPiece(n) {
      checkPiece(n);
      dieMid.add(n);
    },
    goSilent() {
      silent = true;
    },
    silentRequests: () => [...held],
    rawVortex(handler) {
      rawHandler = handler;
    },
    rawRequests: () => [...rawAsked],
    bytesServed: () => bytesSent,
    piecesServed: () => [...served],
    syncRequests,
    openSyncStreams: () => listeners.size,
    kill: () => shutdown(false),
    close: () => shutdown(true),
  };
}
