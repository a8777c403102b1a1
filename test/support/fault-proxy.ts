// A TCP proxy that puts network-level faults in front of a fake gRPC server.
//
// The fake servers listen on an internal 127.0.0.1 ephemeral port; clients only ever see
// the proxy's port, so a fault can be switched on and off at run time on the SAME
// advertised address, and every accepted TCP connection can be counted.
//   forward   — pipe bytes both ways (normal).
//   refuse    — close the listener (connect → ECONNREFUSED) and reset every open
//               connection; the port number is kept and listened on again by forward().
//   blackhole — accept new connections but never forward them; freeze open connections
//               (no bytes either way). Nothing is closed, so a client only notices
//               through its own deadline. forward() thaws everything: held and frozen
//               bytes are delivered late, as after a healed partition.
import net from "node:net";

export type ProxyMode = "forward" | "refuse" | "blackhole";

interface ProxiedConnection {
  readonly client: net.Socket;
  upstream: net.Socket | undefined;
  /** True while bytes are held back (accepted or frozen during a blackhole). */
  frozen: boolean;
}

export class FaultProxy {
  private listener: net.Server | undefined;
  private readonly connections = new Set<ProxiedConnection>();
  private accepted = 0;
  private currentMode: ProxyMode = "forward";

  private constructor(
    private readonly targetPort: number,
    readonly port: number,
    /** The loopback address listened on (127.0.0.1 unless a test spreads servers over 127/8). */
    readonly host: string,
  ) {}

  /** Listens on `host`:`port` (0 = ephemeral) and forwards to 127.0.0.1:`targetPort`. */
  static async start(targetPort: number, port = 0, host = "127.0.0.1"): Promise<FaultProxy> {
    const listener = net.createServer();
    const bound = await listenOn(listener, port, host);
    const proxy = new FaultProxy(targetPort, bound, host);
    proxy.attach(listener);
    return proxy;
  }

  get mode(): ProxyMode {
    return this.currentMode;
  }

  /** TCP connections accepted since start (blackholed ones included, refused ones not). */
  connectionCount(): number {
    return this.accepted;
  }

  async refuse(): Promise<void> {
    this.currentMode = "refuse";
    this.resetAll();
    await this.closeListener();
  }

  blackhole(): void {
    this.currentMode = "blackhole";
    for (const connection of this.connections) freeze(connection);
  }

  async forward(): Promise<void> {
    this.currentMode = "forward";
    if (!this.listener) {
      const listener = net.createServer();
      await listenOn(listener, this.port, this.host);
      this.attach(listener);
    }
    for (const connection of this.connections) this.thaw(connection);
  }

  /** Resets every open connection (RST, no FIN): the peer sees an abrupt failure. */
  resetAll(): void {
    for (const connection of this.connections) {
      if (!connection.client.destroyed) connection.client.resetAndDestroy();
      connection.upstream?.destroy();
    }
    this.connections.clear();
  }

  async stop(): Promise<void> {
    this.currentMode = "refuse";
    this.resetAll();
    await this.closeListener();
  }

  private attach(listener: net.Server): void {
    this.listener = listener;
    listener.on("connection", (client) => this.onConnection(client));
  }

  private async closeListener(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    if (!listener) return;
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  private onConnection(client: net.Socket): void {
    if (this.currentMode === "refuse") {
      // Raced with refuse(): the listener was closing while this connection was accepted.
      client.resetAndDestroy();
      return;
    }
    this.accepted += 1;
    const connection: ProxiedConnection = { client, upstream: undefined, frozen: false };
    this.connections.add(connection);
    client.on("error", () => this.drop(connection));
    client.on("close", () => this.drop(connection));
    if (this.currentMode === "blackhole") {
      connection.frozen = true;
      client.pause();
      return;
    }
    this.connectUpstream(connection);
  }

  private connectUpstream(connection: ProxiedConnection): void {
    const upstream = net.connect({ host: "127.0.0.1", port: this.targetPort });
    connection.upstream = upstream;
    upstream.on("error", () => this.drop(connection));
    upstream.on("close", () => this.drop(connection));
    upstream.on("connect", () => {
      if (this.currentMode === "forward") pipeBoth(connection, upstream);
    });
  }

  private thaw(connection: ProxiedConnection): void {
    if (!connection.frozen) return;
    connection.frozen = false;
    if (!connection.upstream) {
      this.connectUpstream(connection);
      return;
    }
    if (!connection.upstream.connecting) pipeBoth(connection, connection.upstream);
  }

  private drop(connection: ProxiedConnection): void {
    if (!this.connections.delete(connection)) return;
    connection.client.destroy();
    connection.upstream?.destroy();
  }
}

function pipeBoth(connection: ProxiedConnection, upstream: net.Socket): void {
  connection.client.pipe(upstream);
  upstream.pipe(connection.client);
  connection.client.resume();
  upstream.resume();
}

function freeze(connection: ProxiedConnection): void {
  connection.frozen = true;
  connection.client.unpipe();
  connection.client.pause();
  if (connection.upstream) {
    connection.upstream.unpipe();
    connection.upstream.pause();
  }
}

function listenOn(listener: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    listener.once("error", reject);
    listener.listen({ host, port, exclusive: true }, () => {
      listener.off("error", reject);
      const address = listener.address();
      if (address === null || typeof address === "string") {
        reject(new Error("proxy listener has no TCP address"));
        return;
      }
      resolve(address.port);
    });
  });
}
