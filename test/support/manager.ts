// A strict fake Dragonfly v2.5.1 manager: ListSchedulers + health, behind a FaultProxy.
//
// Restates shared/reference/dragonfly-wire.md §6.1 without the searcher scoring and
// without the result cache (the real manager caches non-empty answers for minutes;
// tests want state changes to show up at once). Requests are validated like PGV (§4).
import { Server, status, type handleUnaryCall } from "@grpc/grpc-js";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
  type HealthServer,
} from "../../src/gen/grpc/health/v1/health.js";
import {
  ManagerService,
  Scheduler,
  type ListSchedulersRequest,
  type ListSchedulersResponse,
  type ManagerServer,
} from "../../src/gen/manager/v2/manager.js";
import { FaultProxy } from "./fault-proxy.js";
import { bindInternal } from "./scheduler.js";
import { validateListSchedulersRequest } from "./validate.js";

export interface FakeSchedulerEntry {
  /** "127.0.0.1:<port>" as the scheduler advertises itself. */
  addr: string;
  /** Scheduler cluster id; 1 when absent. */
  clusterId?: number;
  /** "active" when absent; anything else is dropped on the searcher path. */
  state?: string;
  hostname?: string;
}

export interface FakeManagerOptions {
  /** Read on every ListSchedulers call. */
  schedulers: () => FakeSchedulerEntry[];
}

export interface ManagerEvent {
  rpc: string;
  message: unknown;
  /** Epoch milliseconds. */
  at: number;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

export class FakeManager {
  readonly events: ManagerEvent[] = [];

  constructor(
    private readonly proxy: FaultProxy,
    private readonly server: Server,
    private readonly schedulers: () => FakeSchedulerEntry[],
  ) {}

  get addr(): string {
    return `127.0.0.1:${this.proxy.port}`;
  }

  /** Every ListSchedulersRequest received, valid or not, in arrival order. */
  requests(): ListSchedulersRequest[] {
    return this.events.filter((event) => event.rpc === "ListSchedulers").map((event) => event.message as ListSchedulersRequest);
  }

  connectionCount(): number {
    return this.proxy.connectionCount();
  }

  async refuse(): Promise<void> {
    await this.proxy.refuse();
  }

  blackhole(): void {
    this.proxy.blackhole();
  }

  async heal(): Promise<void> {
    await this.proxy.forward();
  }

  async stop(): Promise<void> {
    await this.proxy.stop();
    this.server.forceShutdown();
  }

  /**
   * scheduler_cluster_id ≠ 0: every scheduler of that cluster whatever its state, unknown
   * cluster → Unknown (the raw DB error). Otherwise only "active" schedulers, cluster by
   * cluster in first-seen order; none → an empty list with OK.
   */
  listSchedulers(request: ListSchedulersRequest): ListSchedulersResponse | { code: status; details: string } {
    const problem = validateListSchedulersRequest(request);
    if (problem !== undefined) return { code: status.INVALID_ARGUMENT, details: problem };
    const entries = this.schedulers().map((entry, index) => ({ entry, index, clusterId: entry.clusterId ?? 1 }));
    if (request.schedulerClusterId !== 0n) {
      const ofCluster = entries.filter(({ clusterId }) => BigInt(clusterId) === request.schedulerClusterId);
      if (ofCluster.length === 0) return { code: status.UNKNOWN, details: "record not found" };
      return { schedulers: ofCluster.map(({ entry, index }) => schedulerMessage(entry, index)) };
    }
    const active = entries.filter(({ entry }) => (entry.state ?? "active") === "active");
    const clusterOrder = [...new Set(active.map(({ clusterId }) => clusterId))];
    const sorted = clusterOrder.flatMap((clusterId) => active.filter((item) => item.clusterId === clusterId));
    return { schedulers: sorted.map(({ entry, index }) => schedulerMessage(entry, index)) };
  }

  managerService(): ManagerServer {
    const listSchedulers: handleUnaryCall<ListSchedulersRequest, ListSchedulersResponse> = (call, callback) => {
      this.record("ListSchedulers", call.request);
      const result = this.listSchedulers(call.request);
      if ("code" in result) callback(result);
      else callback(null, result);
    };
    return { listSchedulers };
  }

  healthService(): HealthServer {
    return {
      check: (call, callback) => {
        this.record("Health/Check", call.request);
        if (call.request.service === "") callback(null, { status: ServingStatus.SERVING });
        else callback({ code: status.NOT_FOUND, details: "unknown service" });
      },
      watch: (call) => {
        this.record("Health/Watch", call.request);
        call.write({ status: ServingStatus.SERVING });
      },
    };
  }

  private record(rpc: string, message: unknown): void {
    this.events.push({ rpc, message, at: Date.now() });
  }
}

function schedulerMessage(entry: FakeSchedulerEntry, index: number): Scheduler {
  const separator = entry.addr.lastIndexOf(":");
  const ip = entry.addr.slice(0, separator);
  const port = Number(entry.addr.slice(separator + 1));
  const clusterId = BigInt(entry.clusterId ?? 1);
  return Scheduler.fromPartial({
    id: BigInt(index + 1),
    hostname: entry.hostname ?? `scheduler-${index + 1}`,
    ip,
    port,
    state: entry.state ?? "active",
    schedulerClusterId: clusterId,
    schedulerCluster: {
      id: clusterId,
      name: `cluster-${clusterId}`,
      bio: "",
      config: json({ candidate_parent_limit: 4, filter_parent_limit: 15 }),
      clientConfig: json({ load_limit: 200 }),
      scopes: json({}),
      seedClientConfig: json({}),
    },
    seedPeers: [],
    features: json(["schedule"]),
  });
}

export async function startFakeManager(options: FakeManagerOptions): Promise<FakeManager> {
  const server = new Server();
  const internalPort = await bindInternal(server);
  const proxy = await FaultProxy.start(internalPort);
  const manager = new FakeManager(proxy, server, options.schedulers);
  server.addService(ManagerService, manager.managerService());
  server.addService(HealthService, manager.healthService());
  return manager;
}
