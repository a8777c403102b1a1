// The lean reader for 206 bodies of ranged GETs, over plain `net`/`tls` sockets. This is
// the one place where hand-written HTTP pays (measured, README "Why a hand-written range
// reader"): undici copies every socket chunk into its WebAssembly parser and hands it on
// through streams and promises, which saturated the one JS thread at ~1.5× curl. Here
// the kernel reads straight into a few reused 256 KiB buffers (`onread`), each chunk
// goes to the sink as it is — one user-space copy, none of it garbage.
//
// It only ever reads one kind of answer: a 206 with a Content-Length and no transfer
// coding, accepted by the caller's check. Anything else — redirects, 1xx, chunked or
// unknown lengths, a header we cannot send — is declined before a body byte is read,
// and the caller asks undici instead. Connections are kept alive and reused per origin.
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { redactUrl } from "../net/redact.js";
import { DfgetError, ExitCode, OriginUnreachableError, TimeoutError } from "../errors.js";
import { buildGetRequest } from "./http-head.js";
import { UNREACHABLE_CODES, certificateFailure } from "./origin-errors.js";
import { Exchange, type ExchangeEnd, type RangeAnswerCheck, type RangeSink } from "./range-exchange.js";

export type { RangeAnswerCheck, RangeSink };

export interface RangeReaderOptions {
  connectTimeoutMs: number;
  /** Deadline for the response head, and (unless bodyTimeoutMs) for each gap between body chunks. */
  readTimeoutMs: number;
  /** Gap deadline inside a body; a backstop where the caller runs its own low-speed rule. */
  bodyTimeoutMs?: number;
  /** Receive buffer size; each connection has BUFFERS_PER_CONNECTION of them. */
  bufferBytes?: number;
  /** Idle connections kept per origin for the next range. */
  maxIdlePerOrigin?: number;
  /** Connections in use per origin at once (undici's pool size); more requests wait their turn. */
  connections?: number;
  /** Extra CA (tests); the default store and NODE_EXTRA_CA_CERTS apply as for undici. */
  ca?: string | Buffer;
}

export interface LeanRangeRequest {
  url: URL;
  offset: number;
  length: number;
  /** Flat name, value pairs: -H headers, range, user-agent, authorization, if-range. */
  headers: readonly string[];
  /** "range 0-4194303 of http://host/file", for messages. */
  where: string;
  check: RangeAnswerCheck;
  sink: RangeSink;
  /** Body bytes as they come off the wire (before they are gathered for the sink). */
  progress?: (bytes: number) => void;
  signal?: AbortSignal;
}

/** done: exactly `length` bytes went to the sink. declined: nothing did; ask undici. */
export type LeanRangeResult = { kind: "done" } | { kind: "declined"; reason: string };

export const DEFAULT_BUFFER_BYTES = 256 * 1024;
/** Two: one being written while the other fills. A third measured no faster. */
const BUFFERS_PER_CONNECTION = 2;
/**
 * Spares kept per connection. Each resume fills the spare and then the buffer given back,
 * so on a disk-bound download a connection comes to hold up to 2 + 6 buffers (measured,
 * 1 GiB from nginx: 6 spares per connection, 24 allocations in all); a smaller cap turns
 * the rest into a new 256 KiB buffer per pause again.
 */
const MAX_SPARES = 8;
const DEFAULT_MAX_IDLE = 8;
const DEFAULT_CONNECTIONS = 8;

type OnRead = { buffer: () => Buffer; callback: (n: number, buf: Buffer) => boolean };

/** One keep-alive socket and its receive buffers; `exchange` is the request it serves now. */
export class Connection {
  readonly socket: Socket;
  readonly buffers: Buffer[];
  exchange: Exchange | undefined;
  /** Set by an exchange that left it fit for another request. */
  reusable = false;
  used = 0;
  /** The view the socket reads into next (set after every read; a read cannot be redirected). */
  nextBuffer: Buffer;
  /** Buffers for the read after a pause, kept for the next pauses (see spare()). */
  private readonly spares: Buffer[] = [];
  private readonly bufferBytes: number;

  constructor(make: (onread: OnRead) => Socket, bufferBytes: number) {
    this.bufferBytes = bufferBytes;
    // alloc, not allocUnsafe: each buffer owns its ArrayBuffer, so a view maps back to it.
    this.buffers = Array.from({ length: BUFFERS_PER_CONNECTION }, () => Buffer.alloc(bufferBytes));
    this.nextBuffer = this.buffers[0]!;
    this.socket = make({
      // Called right after each callback: the buffer the next read goes into. The exchange
      // picks it (one not waiting on the sink) or pauses the socket until one is free.
      buffer: () => this.nextBuffer,
      callback: (n) => {
        const exchange = this.exchange;
        if (!exchange) {
          // Bytes on an idle keep-alive connection: nothing we asked for. Drop it.
          this.socket.destroy();
          return false;
        }
        const next = exchange.onBytes(n);
        this.nextBuffer = next.buffer;
        return next.keepReading;
      },
    });
    this.socket.on("error", (err) => this.exchange?.onSocketError(err));
    this.socket.on("end", () => this.exchange?.onSocketEnd());
    this.socket.on("close", () => this.exchange?.onSocketEnd());
  }

  /**
   * A receive buffer none of `busy` holds, for the read after a pause: a kept spare the
   * sink has given back, else a new one, kept for later pauses (up to MAX_SPARES). Not a
   * new one per pause: on a disk-bound download the sink still holds the last spare at
   * nearly every pause, and 256 KiB buffers dropped at that rate (2,700 per GiB, measured)
   * left 20 MiB of them waiting for GC and cost a zero-fill each.
   */
  spare(busy: ReadonlyMap<Buffer, number>): Buffer {
    const free = this.spares.find((b) => !busy.has(b));
    if (free) return free;
    const fresh = Buffer.alloc(this.bufferBytes);
    if (this.spares.length < MAX_SPARES) this.spares.push(fresh);
    return fresh;
  }

  /** The receive buffer a view the socket was given belongs to. */
  bufferOf(view: Buffer): Buffer | undefined {
    return this.buffers.find((b) => b.buffer === view.buffer) ?? this.spares.find((b) => b.buffer === view.buffer);
  }
}

export class RangeReader {
  private readonly opts: RangeReaderOptions;
  private readonly idle = new Map<string, Connection[]>();
  /** Per origin: connections in use, and requests waiting for one. */
  private readonly slots = new Map<string, { used: number; waiting: Array<() => void> }>();
  private closed = false;

  constructor(opts: RangeReaderOptions) {
    this.opts = opts;
  }

  async read(req: LeanRangeRequest): Promise<LeanRangeResult> {
    if (req.url.protocol !== "http:" && req.url.protocol !== "https:") return { kind: "declined", reason: `${req.url.protocol} URL` };
    const request = buildGetRequest(req.url, req.headers);
    if (!request) return { kind: "declined", reason: "a header undici must send" };
    req.signal?.throwIfAborted();
    const key = keyOf(req.url);
    await this.acquire(key, req.signal);
    try {
      return await this.exchange(request, req);
    } finally {
      this.releaseSlot(key);
    }
  }

  private async exchange(request: Buffer, req: LeanRangeRequest): Promise<LeanRangeResult> {
    // A reused connection the server closed meanwhile fails before any answer: try once more on a fresh one.
    for (let attempt = 0; ; attempt++) {
      const reused = attempt === 0 ? this.takeIdle(req.url) : undefined;
      const conn = reused ?? (await this.open(req.url, req.signal));
      const end = await this.run(conn, request, req);
      if (end.kind === "stale" && reused) continue;
      this.settle(conn, req.url);
      if (end.kind === "failed") throw end.error;
      if (end.kind === "stale") throw new OriginUnreachableError(`origin ${req.url.host} closed the connection before answering ${req.where}`);
      return end.kind === "done" ? { kind: "done" } : { kind: "declined", reason: end.reason };
    }
  }

  /** Waits for a free connection slot; no deadline runs while waiting (as in undici's queue). */
  private acquire(key: string, signal: AbortSignal | undefined): Promise<void> {
    const slot = this.slots.get(key) ?? { used: 0, waiting: [] };
    this.slots.set(key, slot);
    if (slot.used < (this.opts.connections ?? DEFAULT_CONNECTIONS)) {
      slot.used++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        slot.waiting.splice(slot.waiting.indexOf(grant), 1);
        reject(signal?.reason);
      };
      const grant = (): void => {
        signal?.removeEventListener("abort", onAbort);
        slot.used++;
        resolve();
      };
      slot.waiting.push(grant);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private releaseSlot(key: string): void {
    const slot = this.slots.get(key);
    if (!slot) return;
    slot.used--;
    slot.waiting.shift()?.();
  }

  /** Closes idle connections; requests in flight finish or fail on their own deadlines. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const conn of list) conn.socket.destroy();
    this.idle.clear();
  }

  private run(conn: Connection, request: Buffer, req: LeanRangeRequest): Promise<ExchangeEnd> {
    return new Promise<ExchangeEnd>((resolve) => {
      const exchange = new Exchange({
        conn,
        offset: req.offset,
        length: req.length,
        where: req.where,
        readTimeoutMs: this.opts.readTimeoutMs,
        bodyTimeoutMs: this.opts.bodyTimeoutMs ?? this.opts.readTimeoutMs,
        check: req.check,
        sink: req.sink,
        progress: req.progress,
        signal: req.signal,
        finished: resolve,
      });
      conn.exchange = exchange;
      conn.used++;
      exchange.start(request);
    });
  }

  private settle(conn: Connection, url: URL): void {
    conn.exchange = undefined;
    const list = this.idle.get(keyOf(url)) ?? [];
    if (!conn.reusable || this.closed || conn.socket.destroyed || list.length >= (this.opts.maxIdlePerOrigin ?? DEFAULT_MAX_IDLE)) {
      conn.socket.destroy();
      return;
    }
    conn.socket.unref();
    list.push(conn);
    this.idle.set(keyOf(url), list);
  }

  private takeIdle(url: URL): Connection | undefined {
    const list = this.idle.get(keyOf(url));
    for (let conn = list?.pop(); conn; conn = list?.pop()) {
      if (conn.socket.destroyed || conn.socket.readableEnded) continue;
      conn.socket.ref();
      return conn;
    }
    return undefined;
  }

  private open(url: URL, signal: AbortSignal | undefined): Promise<Connection> {
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const secure = url.protocol === "https:";
    const port = Number(url.port) || (secure ? 443 : 80);
    const bufferBytes = this.opts.bufferBytes ?? DEFAULT_BUFFER_BYTES;
    const conn = new Connection((onread) => {
      if (!secure) return netConnect({ host, port, onread, noDelay: true });
      // tls.connect takes onread as net.connect does (Node ≥ 12); @types/node does not list it.
      const options: ConnectionOptions & { onread: OnRead } = { host, port, onread, ALPNProtocols: ["http/1.1"], ca: this.opts.ca };
      if (!isIP(host)) options.servername = host;
      return tlsConnect(options);
    }, bufferBytes);
    const ready = secure ? "secureConnect" : "connect";
    return new Promise<Connection>((resolve, reject) => {
      const fail = (err: unknown): void => {
        cleanup();
        conn.socket.destroy();
        reject(signal?.aborted ? signal.reason : err);
      };
      const timer = setTimeout(
        () => fail(new TimeoutError("origin-connect", `origin ${url.host}: no connection within ${this.opts.connectTimeoutMs} ms for ${redactUrl(url)}`)),
        this.opts.connectTimeoutMs,
      );
      const onError = (err: Error): void => fail(connectFailure(err, url));
      const onClose = (): void => fail(new OriginUnreachableError(`origin ${url.host} closed the connection for ${redactUrl(url)}`));
      const onAbort = (): void => fail(signal?.reason);
      const cleanup = (): void => {
        clearTimeout(timer);
        conn.socket.off("error", onError).off("close", onClose).off(ready, onReady);
        signal?.removeEventListener("abort", onAbort);
      };
      const onReady = (): void => {
        cleanup();
        resolve(conn);
      };
      conn.socket.once("error", onError).once("close", onClose).once(ready, onReady);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

function keyOf(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** Connect failures, mapped as the undici path maps them (cli.md: 7 unreachable, else 1). */
function connectFailure(err: Error, url: URL): DfgetError {
  // Happy-eyeballs connects fail with an AggregateError of the attempts.
  const first = err instanceof AggregateError && err.errors.length > 0 ? (err.errors[0] as Error) : err;
  const code = (err as NodeJS.ErrnoException).code ?? (first as NodeJS.ErrnoException).code;
  const certificate = certificateFailure(first, url);
  if (certificate) return certificate;
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return new OriginUnreachableError(`origin ${url.host} unreachable (${code}) for ${redactUrl(url)}`, { cause: err });
  }
  return new DfgetError(`origin request failed for ${redactUrl(url)}: ${code ?? err.message}`, "ERR_ORIGIN", ExitCode.other, { cause: err });
}
