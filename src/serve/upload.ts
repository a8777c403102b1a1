// Serving our verified pieces while we run (architecture.md, "Serve while downloading").
// Our host is announced with these real ports, so the scheduler may send children to
// us: SyncPieces over gRPC tells them what we have, vortex TCP hands out the bytes.
import * as grpc from "@grpc/grpc-js";
import {
  DfdaemonUploadService,
  type DfdaemonUploadServer,
  type SyncPiecesRequest,
  type SyncPiecesResponse,
} from "../gen/dfdaemon/v2/dfdaemon.js";
import { HealthService, HealthCheckResponse_ServingStatus, type HealthServer } from "../gen/grpc/health/v1/health.js";
import { DfgetError } from "../errors.js";
import { startVortexServer } from "./vortex-server.js";
import type { FinishedPiece, PieceState } from "../engine/piece-ledger.js";

export interface UploadServerOptions {
  state: PieceState;
  taskId: string;
  /** Address we listen on; "0.0.0.0" unless the advertise IP is loopback. */
  bindIp: string;
  /** The IP children are told to dial (SyncPiecesResponse.ip). */
  advertiseIp: string;
  grpcPort: number;
  tcpPort: number;
  maxConcurrentUploads?: number;
  onUpload?: (pieceNumber: number, bytes: number) => void;
}

export interface UploadServer {
  grpcPort: number;
  tcpPort: number;
  /** Ends open SyncPieces streams and closes both servers. */
  close(): Promise<void>;
}

const SERVING_NAMES = new Set(["", "dfdaemon.v2.DfdaemonUpload"]);

export async function startUploadServer(opts: UploadServerOptions): Promise<UploadServer> {
  const { state, taskId } = opts;
  const openStreams = new Set<grpc.ServerWritableStream<SyncPiecesRequest, SyncPiecesResponse>>();

  const vortex = await startVortexServer({
    host: opts.bindIp,
    port: opts.tcpPort,
    maxConcurrent: opts.maxConcurrentUploads ?? 16,
    lookup: async (askedTaskId, n) => {
      if (askedTaskId !== taskId) return undefined;
      const found = await state.read(n);
      if (!found) return undefined;
      const { piece, data } = found;
      return {
        metadata: {
          number: piece.number,
          offset: piece.offset,
          length: piece.length,
          digest: piece.digest,
          parentId: piece.parentId ?? "",
          trafficType: 1,
          costSeconds: BigInt(Math.floor(piece.costMs / 1000)),
          createdAtSeconds: BigInt(Math.floor(piece.createdAt.getTime() / 1000)),
        },
        data,
      };
    },
    hooks: { onServed: (_task, n, bytes) => opts.onUpload?.(n, bytes) },
  });

  const upload: Pick<DfdaemonUploadServer, "syncPieces" | "syncHost"> = {
    syncPieces(call) {
      const req = call.request;
      if (!req.hostId || !req.taskId || req.interestedPieceNumbers.length === 0) {
        call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "host_id, task_id and interested_piece_numbers are required" });
        return;
      }
      if (req.taskId !== taskId) {
        call.emit("error", { code: grpc.status.INTERNAL, details: `task ${req.taskId} not found` });
        return;
      }
      const waiting = new Set(req.interestedPieceNumbers);
      const send = (piece: FinishedPiece): void => {
        if (!waiting.delete(piece.number)) return;
        call.write({ number: piece.number, offset: BigInt(piece.offset), length: BigInt(piece.length), ip: opts.advertiseIp, tcpPort: vortex.port });
        if (waiting.size === 0) stop();
      };
      const stop = (): void => {
        state.off("finished", send);
        openStreams.delete(call);
        if (!call.writableEnded) call.end();
      };
      openStreams.add(call);
      call.on("cancelled", stop);
      state.on("finished", send);
      for (const n of [...waiting]) {
        const piece = state.finishedPiece(n);
        if (piece) send(piece);
      }
    },
    syncHost(call) {
      call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "SyncHost is not served by dfget" });
    },
  };
  const health: HealthServer = {
    check(call, callback) {
      if (SERVING_NAMES.has(call.request.service)) {
        callback(null, { status: HealthCheckResponse_ServingStatus.SERVING });
      } else {
        callback({ code: grpc.status.NOT_FOUND, details: "unknown service" }, null);
      }
    },
    watch(call) {
      call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "Watch is not served" });
    },
  };

  const server = new grpc.Server({ "grpc.max_send_message_length": -1 });
  server.addService(DfdaemonUploadService, upload as DfdaemonUploadServer);
  server.addService(HealthService, health);
  const grpcPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${opts.bindIp}:${opts.grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(new DfgetError(`cannot listen for uploads on ${opts.bindIp}:${opts.grpcPort}: ${err.message}`, "ERR_UPLOAD_LISTEN", 1, { cause: err }));
      else resolve(port);
    });
  }).catch(async (err: unknown) => {
    await vortex.close();
    throw err;
  });

  return {
    grpcPort,
    tcpPort: vortex.port,
    async close() {
      for (const call of openStreams) if (!call.writableEnded) call.end();
      openStreams.clear();
      await Promise.all([
        vortex.close(),
        new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 500);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        }),
      ]);
    },
  };
}
