// Our host in the cluster, once per process however many downloads run in it: the
// identity, the upload servers (started on first use), and the schedulers it was
// announced to. AnnounceHost happens once per scheduler; DeleteHost once, at close().
import * as grpc from "@grpc/grpc-js";
import type { AnnounceHostRequest } from "../gen/scheduler/v2/scheduler.js";
import type { Clock } from "../clock.js";
import type { UploadServer } from "../serve/upload.js";
import type { SchedulerClients } from "./parts.js";

export interface HostIdentity {
  hostId: string;
  hostname: string;
  ip: string;
  idc: string;
  location: string;
  version: string;
}

export interface PeerHostParts {
  identity: HostIdentity;
  startUpload: () => Promise<UploadServer>;
  clients: SchedulerClients;
  clock: Clock;
}

/** Longest wait for each DeleteHost on the way out (best effort). */
const LEAVE_TIMEOUT_MS = 1000;

/** A host not re-announced within 2 × this interval is collected by the scheduler. */
const ANNOUNCE_INTERVAL_SECONDS = 300n;

export class PeerHost {
  readonly identity: HostIdentity;
  private readonly parts: PeerHostParts;
  private upload: Promise<UploadServer> | undefined;
  /** Scheduler address → its AnnounceHost; a failed one is forgotten so the next run retries. */
  private readonly announced = new Map<string, Promise<void>>();

  constructor(parts: PeerHostParts) {
    this.parts = parts;
    this.identity = parts.identity;
  }

  /** The upload servers, started by the first download that needs them. */
  uploads(): Promise<UploadServer> {
    this.upload ??= this.parts.startUpload();
    const upload = this.upload;
    upload.catch(() => {
      if (this.upload === upload) this.upload = undefined;
    });
    return upload;
  }

  /** AnnounceHost at `addr` unless already done; `deadline` is absolute epoch ms. */
  announceTo(addr: string, deadline: number): Promise<void> {
    let call = this.announced.get(addr);
    if (!call) {
      call = this.announce(addr, deadline);
      this.announced.set(addr, call);
      call.catch(() => this.forget(addr));
    }
    return call;
  }

  /** The scheduler broke: it no longer knows us, so no DeleteHost goes there. */
  forget(addr: string): void {
    this.announced.delete(addr);
  }

  /** Best effort: DeleteHost at every scheduler that knows us, then stop serving. */
  async close(): Promise<void> {
    const deadline = this.parts.clock.now() + LEAVE_TIMEOUT_MS;
    const hostId = this.identity.hostId;
    const addrs = [...this.announced.keys()];
    this.announced.clear();
    await Promise.all(
      addrs.map(
        (addr) =>
          new Promise<void>((resolve) => {
            this.parts.clients.open(addr).deleteHost({ hostId }, new grpc.Metadata(), { deadline }, () => resolve());
          }),
      ),
    );
    const upload = this.upload;
    this.upload = undefined;
    if (upload) await upload.then((u) => u.close()).catch(() => undefined);
  }

  private async announce(addr: string, deadline: number): Promise<void> {
    const upload = await this.uploads();
    const request = announceHostRequest(this.identity, upload);
    const client = this.parts.clients.open(addr);
    await new Promise<void>((resolve, reject) => {
      client.announceHost(request, new grpc.Metadata(), { deadline }, (err) => (err ? reject(err) : resolve()));
    });
  }
}

function announceHostRequest(h: HostIdentity, upload: UploadServer): AnnounceHostRequest {
  return {
    host: {
      id: h.hostId,
      type: 0,
      hostname: h.hostname,
      ip: h.ip,
      port: upload.grpcPort,
      downloadPort: upload.grpcPort,
      os: process.platform,
      platform: process.platform,
      platformFamily: "",
      platformVersion: "",
      kernelVersion: "",
      network: {
        tcpConnectionCount: 0,
        uploadTcpConnectionCount: 0,
        idc: h.idc || undefined,
        location: h.location || undefined,
        maxRxBandwidth: 0n,
        maxTxBandwidth: 0n,
      },
      build: { gitVersion: h.version, platform: `${process.platform}/${process.arch}` },
      schedulerClusterId: 0n,
      disableShared: false,
      proxyPort: 0,
      name: h.hostname,
    },
    interval: { seconds: ANNOUNCE_INTERVAL_SECONDS, nanos: 0 },
  };
}
