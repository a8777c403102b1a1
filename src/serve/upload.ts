// Serving our verified pieces while we run (architecture.md, "Serve while downloading").
// Our host is announced with these real ports, so the scheduler may send children to
// us: SyncPieces over gRPC tells them what we have, vortex TCP hands out the bytes.
// One server pair per process: every download in it offers its task with serve().
import * as grpc from "@grpc/grpc-js";
import {
  DfdaemonUploadService,
  type DfdaemonUploadServer,
  type SyncPiecesRequest,
  type SyncPiecesResponse,
} from "../gen/dfdaemon/v2/dfdaemon.js";
import { HealthService, HealthCheckResponse_ServingStatus, type HealthServer } from "../gen/grpc/health/v1/health.js";
import { DfgetError, ExitCode } from "../errors.js";
import { startVortexServer, type PieceLookupResult } from "./vortex-server.js";
import type { UploadLowSpeed } from "./upload-body.js";
import type { ServedPiece, ServedPieces } from "./pieces.js";

export type { ServedPiece, ServedPieces } from "./pieces.js";

export interface UploadServerOptions {
  /** Address we listen on; "0.0.0.0" unless the advertise IP is loopback. */
  bindIp: string;
  /** The IP children are told to dial (SyncPiecesResponse.ip). */
  advertiseIp: string;
  grpcPort: number;
  tcpPort: number;
  /** Uploads at once (default 16); a request beyond them is refused at once with an Error frame. */
  maxConcurrentUploads?: number;
  /** download.lowSpeedLimit over a download.pieceTimeout window, for children as for us. */
  lowSpeed?: UploadLowSpeed;
  onUpload?: (taskId: string, pieceNumber: number, bytes: number) => void;
}

export interface UploadServer {
  grpcPort: number;
  tcpPort: number;
  /** Offer a task's pieces to children until the returned withdraw() is called. */
  serve(taskId: string, pieces: ServedPieces): () => void;
  /** Ends open SyncPieces streams and closes both servers. */
  close(): Promise<void>;
}

/** The upload server cannot listen: exit 1, as before any transfer. */
export class UploadListenError extends DfgetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "ERR_UPLOAD_LISTEN", ExitCode.other, options);
    this.name = "UploadListenError";
  }
}

const SERVING_NAMES = new Set(["", "dfdaemon.v2.DfdaemonUpload"]);

/** How long close() waits for in-flight calls before forcing the gRPC server down. */
const SHUTDOWN_GRACE_MS = 500;

type SyncStream = grpc.ServerWritableStream<SyncPiecesRequest, SyncPiecesResponse>;

export async function startUploadServer(opts: UploadServerOptions): Promise<UploadServer> {
  const tasks = new Map<string, ServedPieces>();
  const openStreams = new Set<SyncStream>();
  const vortex = await startVortexServer({
    host: opts.bindIp,
    port: opts.tcpPort,
    maxConcurrent: opts.maxConcurrentUploads ?? 16,
    lowSpeed: opts.lowSpeed,
    lookup: (taskId, n) => lookupPiece(tasks.get(taskId), n),
    hooks: { onServed: (taskId, n, bytes) => opts.onUpload?.(taskId, n, bytes) },
  });
  const server = new grpc.Server({ "grpc.max_send_message_length": -1 });
  const upload: Pick<DfdaemonUploadServer, "syncPieces" | "syncHost"> = {
    syncPieces: (call) => syncPieces(call, tasks, openStreams, { ip: opts.advertiseIp, tcpPort: vortex.port }),
    syncHost: (call) => call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "SyncHost is not served by dfget" }),
  };
  server.addService(DfdaemonUploadService, upload as DfdaemonUploadServer);
  server.addService(HealthService, healthService);
  const grpcPort = await bind(server, opts.bindIp, opts.grpcPort).catch(async (err: unknown) => {
    await vortex.close();
    throw err;
  });
  return {
    grpcPort,
    tcpPort: vortex.port,
    serve(taskId, pieces) {
      tasks.set(taskId, pieces);
      return () => {
        if (tasks.get(taskId) === pieces) tasks.delete(taskId);
      };
    },
    async close() {
      for (const call of openStreams) if (!call.writableEnded) call.end();
      openStreams.clear();
      await Promise.all([vortex.close(), shutdown(server)]);
    },
  };
}

/** SyncPieces: each interested piece once, as soon as it is verified; ends when all were sent. */
function syncPieces(call: SyncStream, tasks: ReadonlyMap<string, ServedPieces>, openStreams: Set<SyncStream>, where: { ip: string; tcpPort: number }): void {
  const req = call.request;
  if (!req.hostId || !req.taskId || req.interestedPieceNumbers.length === 0) {
    call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "host_id, task_id and interested_piece_numbers are required" });
    return;
  }
  const pieces = tasks.get(req.taskId);
  if (!pieces) {
    call.emit("error", { code: grpc.status.INTERNAL, details: `task ${req.taskId} not found` });
    return;
  }
  const waiting = new Set(req.interestedPieceNumbers);
  let unsubscribe: () => void = () => undefined;
  const stop = (): void => {
    unsubscribe();
    openStreams.delete(call);
    if (!call.writableEnded) call.end();
  };
  const send = (piece: ServedPiece): void => {
    if (!waiting.delete(piece.number)) return;
    call.write({ number: piece.number, offset: BigInt(piece.offset), length: BigInt(piece.length), ip: where.ip, tcpPort: where.tcpPort });
    if (waiting.size === 0) stop();
  };
  openStreams.add(call);
  call.on("cancelled", stop);
  unsubscribe = pieces.onFinished(send);
  for (const n of [...waiting]) {
    const piece = pieces.finishedPiece(n);
    if (piece) send(piece);
  }
}

async function lookupPiece(pieces: ServedPieces | undefined, n: number): Promise<PieceLookupResult | undefined> {
  const found = await pieces?.read(n);
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
}

const healthService: HealthServer = {
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

function bind(server: grpc.Server, ip: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(`${ip}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(new UploadListenError(`cannot listen for uploads on ${ip}:${port}: ${err.message}`, { cause: err }));
      else resolve(bound);
    });
  });
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

