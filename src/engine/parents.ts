// Pieces from parent peers: SyncPieces tells us which parent has which piece and where
// its vortex server is; pieces are then fetched over vortex TCP, several at once, each
// checked against its crc32 digest before it counts (client reference §5).
import * as grpc from "@grpc/grpc-js";
import type { DfdaemonUploadClient, SyncPiecesResponse } from "../gen/dfdaemon/v2/dfdaemon.js";
import type { Peer } from "../gen/common/v2/common.js";
import { formatHostPort, peerAddressProblem } from "../net/address.js";
import { DfgetError, ExitCode, TimeoutError } from "../errors.js";
import { VORTEX_CONNECT_TIMEOUT_MS } from "../transport/vortex-client.js";
import type { Timer } from "../clock.js";
import type { ParentClients, VortexTransport } from "./parts.js";
import { ParentRetries } from "./parent-retries.js";
import type { FinishedPiece, PieceLedger } from "./piece-ledger.js";

export interface ParentReport {
  finished(piece: FinishedPiece): void;
  failed(pieceNumber: number, parentId: string, reason: string): void;
  debug(message: string): void;
}

export interface ParentFetcherOptions {
  parents: readonly Peer[];
  ledger: PieceLedger;
  vortex: VortexTransport;
  clients: ParentClients;
  /** Arms the stall timer and the backoff before a piece is asked of the same parent again. */
  timer: Timer;
  /** The run's absolute deadline (epoch ms): SyncPieces streams end by then. */
  deadline: number;
  taskId: string;
  hostId: string;
  concurrency: number;
  pieceTimeoutMs: number;
  /** download.lowSpeedLimit (bytes/s) over a pieceTimeoutMs window, as on the origin path. */
  lowSpeedLimit: number;
  /** No new piece reported by any parent and none finished for this long → give up on them. */
  stallTimeoutMs: number;
  report: ParentReport;
  /** The run's signal: aborts transfers in flight (stop() lets them finish). */
  signal?: AbortSignal;
}

/** A parent's piece arrived but is not the piece (length or crc32 differ): retryable elsewhere. */
export class ParentPieceError extends DfgetError {
  constructor(message: string) {
    super(message, "ERR_PIECE_CORRUPT", ExitCode.partial);
    this.name = "ParentPieceError";
  }
}

/** complete: every piece is here; exhausted: these parents cannot give the rest; stopped: stop() was called. */
export type ParentFetchResult = "complete" | "exhausted" | "stopped";

interface ParentLink {
  peer: Peer;
  id: string;
  /** None for a candidate without a usable address: it is never dialled. */
  client?: DfdaemonUploadClient;
  call?: grpc.ClientReadableStream<SyncPiecesResponse>;
  /** piece number → where to fetch it */
  has: Map<number, { ip: string; port: number }>;
  syncEnded: boolean;
  dead: boolean;
  active: number;
  /** A SyncPieces answer named an address we cannot dial (said once per parent). */
  badAnswerSaid?: boolean;
}

export class ParentFetcher {
  private readonly opts: ParentFetcherOptions;
  private readonly links: ParentLink[];
  /** Who failed which piece, when it may be asked again, whose budget is spent. */
  private readonly retries: ParentRetries;
  private active = 0;
  private stopped = false;
  private settle: ((r: ParentFetchResult) => void) | undefined;
  private cancelStall: (() => void) | undefined;
  /** Pieces finished or given up elsewhere (an older conversation's transfers) change what is left. */
  private readonly onStateChange = (): void => this.pump();

  constructor(opts: ParentFetcherOptions) {
    this.opts = opts;
    this.retries = new ParentRetries(opts.timer);
    this.links = opts.parents.map((peer) => this.linkTo(peer));
  }

  /**
   * A candidate without a usable address (no host, an empty IP, a port outside
   * 1..65535) is skipped with one debug line and never dialled; one on our own host is
   * ourselves (the Go scheduler never offers one): it has nothing we miss, and waiting
   * on it only costs a stall timeout.
   */
  private linkTo(peer: Peer): ParentLink {
    const host = peer.host;
    const problem = host ? peerAddressProblem(host.ip, host.port) : "no host";
    if (problem) this.opts.report.debug(`parent ${peer.id}: ${problem}${host ? ` (${JSON.stringify(host.ip)}, port ${host.port})` : ""}; skipped`);
    return {
      peer,
      id: peer.id,
      // Opening makes no connection: only SyncPieces would, and a dead link never calls it.
      client: host && !problem ? this.opts.clients.open(formatHostPort(host.ip, host.port)) : undefined,
      has: new Map(),
      syncEnded: false,
      dead: !host || problem !== undefined || host.id === this.opts.hostId,
      active: 0,
    };
  }

  run(): Promise<ParentFetchResult> {
    return new Promise((resolve) => {
      this.settle = resolve;
      this.opts.ledger.on("changed", this.onStateChange);
      const interested = this.opts.ledger.unfinished().map((p) => p.number);
      if (interested.length === 0) return this.finish("complete");
      for (const link of this.links) this.sync(link, interested);
      this.armStall();
      this.pump();
    });
  }

  /** Start no new transfers; those in flight finish and still count. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.finish("stopped");
  }

  private sync(link: ParentLink, interested: number[]): void {
    if (link.dead || !link.client) {
      link.syncEnded = true;
      return;
    }
    const call = link.client.syncPieces({ hostId: this.opts.hostId, taskId: this.opts.taskId, interestedPieceNumbers: interested }, new grpc.Metadata(), { deadline: this.opts.deadline });
    link.call = call;
    call.on("data", (msg: SyncPiecesResponse) => {
      // A piece laid out otherwise than our plan (another length or piece length) is not ours.
      const planned = this.opts.ledger.plan[msg.number];
      if (!planned || BigInt(planned.offset) !== msg.offset || BigInt(planned.length) !== msg.length) {
        this.opts.report.debug(`parent ${link.id}: piece ${msg.number} at ${msg.offset}+${msg.length} is not in our plan; ignored`);
        return;
      }
      const ip = msg.ip || link.peer.host?.ip || "";
      // A parent without a vortex port is reached at its gRPC port, as Rust children do.
      const port = msg.tcpPort ?? link.peer.host?.port ?? 0;
      const problem = peerAddressProblem(ip, port);
      if (problem) {
        if (!link.badAnswerSaid) this.opts.report.debug(`parent ${link.id}: piece ${msg.number} at ${JSON.stringify(ip)} port ${port}: ${problem}; answers like it ignored`);
        link.badAnswerSaid = true;
        return;
      }
      // Only news counts as progress: a parent repeating what it announced (or what we
      // have) must not hold the stall timer off for ever.
      const news = !link.has.has(msg.number) && !this.opts.ledger.isFinished(msg.number);
      link.has.set(msg.number, { ip, port });
      if (news) this.armStall();
      this.pump();
    });
    call.on("error", (err: grpc.ServiceError) => {
      link.syncEnded = true;
      if (err.code !== grpc.status.CANCELLED) {
        this.opts.report.debug(`parent ${link.id}: SyncPieces ended: ${err.code} ${err.details}`);
        if (link.has.size === 0) link.dead = true;
      }
      this.pump();
    });
    call.on("end", () => {
      link.syncEnded = true;
      this.pump();
    });
  }

  private pump(): void {
    if (this.stopped || !this.settle) return;
    const { ledger: state, concurrency } = this.opts;
    // Our own transfer may have stored the last piece and not reported it yet: its done()
    // pumps again after the report, so the conversation never says "finished" first.
    if (state.complete) {
      if (this.active === 0) this.finish("complete");
      return;
    }
    while (this.active < concurrency) {
      const pick = this.pickWork();
      if (!pick) break;
      this.transfer(pick.piece, pick.link);
    }
    if (this.active === 0 && !this.anyHope()) this.finish("exhausted");
  }

  /** Is there a piece some live parent has or may still report? */
  private anyHope(): boolean {
    const missing = this.opts.ledger.missing();
    if (missing.length === 0) return this.opts.ledger.unfinished().length > 0; // others are in flight elsewhere
    for (const link of this.links) {
      if (link.dead) continue;
      if (!link.syncEnded) return true;
      for (const p of missing) if (this.mayAsk(link, p.number)) return true;
    }
    return false;
  }

  /**
   * Now or after a backoff: the link has the piece, has not used up its tries of it, the
   * piece's budget is not spent, no other version found.
   */
  private mayAsk(link: ParentLink, n: number): boolean {
    return link.has.has(n) && this.retries.mayTry(n, link.id) && !this.retries.isSpent(n) && !this.opts.ledger.versions.mismatch;
  }

  private pickWork(): { piece: number; link: ParentLink } | undefined {
    let waitMs = Infinity;
    for (const p of this.opts.ledger.missing()) {
      const candidates = this.links.filter((link) => !link.dead && this.mayAsk(link, p.number));
      const choice = this.retries.choose(p.number, candidates);
      if (!choice) continue;
      if ("waitMs" in choice) {
        waitMs = Math.min(waitMs, choice.waitMs);
        continue;
      }
      if (this.opts.ledger.claim(p.number)) return { piece: p.number, link: choice.link };
    }
    if (waitMs < Infinity) this.retries.wakeIn(waitMs, () => this.pump());
    return undefined;
  }

  private transfer(n: number, link: ParentLink): void {
    const where = link.has.get(n)!;
    const entry = this.opts.ledger.plan[n]!;
    const started = Date.now();
    this.active++;
    link.active++;
    const done = (): void => {
      this.active--;
      link.active--;
      this.pump();
    };
    this.opts.vortex({
      host: where.ip,
      port: where.port,
      taskId: this.opts.taskId,
      pieceNumber: n,
      // Every wait has a deadline: the run's; a silent or dripping parent is cut by the
      // low-speed rule within one pieceTimeout window, a slow but moving one is not.
      timeoutMs: Math.max(this.opts.pieceTimeoutMs, this.opts.deadline - Date.now()),
      connectTimeoutMs: Math.min(this.opts.pieceTimeoutMs, VORTEX_CONNECT_TIMEOUT_MS),
      lowSpeed: { limitBytesPerSecond: this.opts.lowSpeedLimit, windowMs: this.opts.pieceTimeoutMs },
      expectedLength: entry.length,
      maxLength: entry.length,
      signal: this.opts.signal,
      // Each chunk to disk as it arrives (the file's one writer queues it), crc32 on the
      // way; the piece counts only below, once the digest matches.
      sink: (chunk, position) => this.opts.ledger.writePart(position, chunk),
      fileOffset: entry.offset,
      // Which version of the piece this parent holds, kept even if the bytes never come.
      onMetadata: (metadata) => this.opts.ledger.versions.announce(n, link.id, metadata.digest),
    })
      .then(({ metadata, digest }) => {
        if (metadata.length !== entry.length) throw new ParentPieceError(`piece ${n}: ${metadata.length} bytes, expected ${entry.length}`);
        // No crc32 in the header: nothing vouches for the bytes, so they do not count.
        if (metadata.digest !== digest) throw new ParentPieceError(`piece ${n}: digest ${digest}, parent said ${metadata.digest || "none"}`);
        if (this.opts.ledger.versions.mismatch) {
          // The parents hold another version (found meanwhile): the piece does not count.
          this.opts.ledger.release(n);
          return;
        }
        const finished = this.opts.ledger.markFinished(
          { number: n, digest, source: "parent", parentId: link.id, costMs: Date.now() - started, createdAt: new Date(started) },
        );
        this.armStall();
        this.opts.report.finished(finished);
      })
      .catch((err: unknown) => this.failed(n, link, err))
      .finally(done);
  }

  /**
   * A parent failed piece n (reset, short, silent or slow, bad crc32): one try less in the
   * piece's budget (download.retries, shared with the origin loop); the next try goes to
   * another parent that has it, or to this one after the backoff (ParentRetries). Budget
   * spent: no parent gets it again, so it is left to the origin (or, with
   * --disable-back-to-source, the run ends for want of parents).
   */
  private failed(n: number, link: ParentLink, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EHOSTUNREACH") link.dead = true;
    // A silent or dripping parent is dropped (curl's low-speed rule), not asked for more.
    if (err instanceof TimeoutError && err.phase !== "run") link.dead = true;
    // Our own abort or a local write error is not the parent's fault: no try is spent, and
    // no parent gets the piece again (a write error would only repeat at once).
    const parentsFault = !this.opts.signal?.aborted && code !== "ERR_WRITE";
    let delayMs: number | undefined;
    if (parentsFault) {
      const decision = this.opts.ledger.retry.onFailure(n, err, true);
      delayMs = decision.retry ? decision.delayMs : undefined;
      if (!decision.retry) this.opts.report.debug(`piece ${n}: ${this.opts.ledger.retry.retries} retries spent, no parent gets it again`);
    }
    this.retries.failed(n, link.id, delayMs);
    // Only now: release() pumps at once, and must not hand the piece back to this parent.
    this.opts.ledger.release(n);
    this.opts.report.failed(n, link.id, reason);
  }

  /**
   * Parents that are still downloading report pieces late; give up only after a quiet
   * spell. A transfer in flight is not quiet: a slow but moving parent is judged by its
   * own low-speed watchdog, so the spell starts again while one runs.
   */
  private armStall(): void {
    this.cancelStall?.();
    this.cancelStall = this.opts.timer.setTimeout(() => {
      if (this.active > 0) return this.armStall();
      this.opts.report.debug(`parents quiet for ${this.opts.stallTimeoutMs} ms`);
      for (const link of this.links) link.syncEnded = true;
      this.finish(this.opts.ledger.complete ? "complete" : "exhausted");
    }, this.opts.stallTimeoutMs);
  }

  private finish(result: ParentFetchResult): void {
    const settle = this.settle;
    if (!settle) return;
    this.settle = undefined;
    this.cancelStall?.();
    this.retries.stop();
    this.opts.ledger.off("changed", this.onStateChange);
    for (const link of this.links) {
      link.call?.cancel();
      link.client?.close();
    }
    settle(result);
  }
}

