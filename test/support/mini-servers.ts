// Small real servers on 127.0.0.1 for the rpc/ and cluster/ tests: a grpc-js server with
// grpc.health.v1 (grpc-go semantics: unknown service → NOT_FOUND) and optionally a tiny
// manager.v2 ListSchedulers; a TCP blackhole that accepts and never answers; a port that
// refuses; and throw-away TLS material made with the openssl binary.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthService, type HealthServer } from "../../src/gen/grpc/health/v1/health.js";
import { ManagerService, type ListSchedulersRequest, type ManagerServer, type Scheduler } from "../../src/gen/manager/v2/manager.js";

export interface MiniGrpcOptions {
  /** Status per health service name; names not listed answer NOT_FOUND. Default {"": SERVING}. */
  health?: Record<string, ServingStatus>;
  /** Every health Check fails with this status code instead. */
  healthError?: grpc.status;
  /** Registers manager.v2.Manager answering with these schedulers. */
  schedulers?: Scheduler[];
  /** ListSchedulers fails with this status code instead. */
  listError?: grpc.status;
  credentials?: grpc.ServerCredentials;
}

export interface MiniGrpcServer {
  addr: string;
  port: number;
  /** Service names of the health Checks received, in order. */
  healthChecks: string[];
  listRequests: ListSchedulersRequest[];
  close(): Promise<void>;
}

export async function startMiniGrpc(opts: MiniGrpcOptions = {}): Promise<MiniGrpcServer> {
  const statuses = opts.health ?? { "": ServingStatus.SERVING };
  const healthChecks: string[] = [];
  const listRequests: ListSchedulersRequest[] = [];
  const server = new grpc.Server();
  const health: HealthServer = {
    check(call, callback) {
      healthChecks.push(call.request.service);
      if (opts.healthError !== undefined) return callback({ code: opts.healthError, details: "fault: health error" });
      const status = statuses[call.request.service];
      if (status === undefined) return callback({ code: grpc.status.NOT_FOUND, details: "unknown service" });
      callback(null, { status });
    },
    watch(call) {
      call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "not in the mini server" });
    },
  };
  server.addService(HealthService, health);
  if (opts.schedulers !== undefined || opts.listError !== undefined) {
    const manager: ManagerServer = {
      listSchedulers(call, callback) {
        listRequests.push(call.request);
        if (opts.listError !== undefined) return callback({ code: opts.listError, details: "fault: list error" });
        callback(null, { schedulers: opts.schedulers ?? [] });
      },
    };
    server.addService(ManagerService, manager);
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    addr: `127.0.0.1:${port}`,
    port,
    healthChecks,
    listRequests,
    close: async () => {
      server.forceShutdown();
    },
  };
}

/** A manager.v2 Scheduler message with the fields the client reads. */
export function schedulerMessage(ip: string, port: number, clusterId: number, hostname = `scheduler-${port}`, state = "active"): Scheduler {
  return {
    id: BigInt(port),
    hostname,
    ip,
    port,
    state,
    schedulerClusterId: BigInt(clusterId),
    seedPeers: [],
    features: Buffer.from(JSON.stringify(["schedule"])),
  };
}

export interface Blackhole {
  addr: string;
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** Accepts TCP connections and never writes a byte: the HTTP/2 handshake never finishes. */
export async function startBlackhole(): Promise<Blackhole> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    addr: `127.0.0.1:${port}`,
    connections: () => accepted,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** An address on which nothing listens (bound once, then released). */
export async function refusingAddr(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

export interface TlsFixture {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Deletes the temp dir; call it in after() so the suite leaves nothing in $TMPDIR. */
  remove(): void;
}

export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A CA, a server cert for IP 127.0.0.1 and a client cert, as PEM files in a temp dir. */
export function makeTlsFixture(): TlsFixture {
  const dir = mkdtempSync(join(tmpdir(), "dfget-tls-"));
  const p = (name: string): string => join(dir, name);
  const ssl = (...args: string[]): void => {
    execFileSync("openssl", args, { stdio: "ignore" });
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ssl("req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "3650", "-subj", "/CN=dfget-test-ca");
  writeFileSync(p("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  writeFileSync(p("client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const who of ["server", "client"]) {
    ssl("req", ...ec, "-keyout", p(`${who}.key`), "-out", p(`${who}.csr`), "-subj", `/CN=dfget-test-${who}`);
    ssl("x509", "-req", "-in", p(`${who}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
      "-out", p(`${who}.crt`), "-days", "3650", "-extfile", p(`${who}.ext`));
  }
  return {
    dir,
    caCert: p("ca.crt"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    clientCert: p("client.crt"),
    clientKey: p("client.key"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Server credentials that require a client certificate signed by the fixture CA. */
export function mtlsServerCredentials(t: TlsFixture): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(
    readFileSync(t.caCert),
    [{ cert_chain: readFileSync(t.serverCert), private_key: readFileSync(t.serverKey) }],
    true,
  );
}
