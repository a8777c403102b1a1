// The origin every tool downloads from in one bench run: Debian's nginx when it is
// installed (a production-grade static server with sendfile, so the origin is never the
// bottleneck), otherwise the fake origin of test/support (node:http, files in memory).
// The files are written to a temp directory either way: nginx serves them from there.
// With TLS material (bench/tls.ts) nginx also serves the same files over HTTPS on a second
// port; the test origin has no HTTPS, so the HTTPS figure is skipped without nginx.
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { startOrigin } from "../test/support/origin.js";
import { findTool } from "./measure.js";
import type { BenchTls } from "./tls.js";

export interface BenchHttps {
  /** "nginx 1.22.1, TLS 1.2–1.3, P-256 certificate of a bench CA". */
  readonly description: string;
  url(path: string): string;
  /** PEM file of the CA that signed the server certificate. */
  readonly caCert: string;
}

export interface BenchOrigin {
  /** "nginx 1.22.1 (sendfile)" or "test origin (node:http)". */
  readonly description: string;
  url(path: string): string;
  /** The same files over HTTPS; undefined on the test origin or without TLS material. */
  readonly https: BenchHttps | undefined;
  close(): Promise<void>;
}

const START_DEADLINE_MS = 10_000;
const STOP_DEADLINE_MS = 5_000;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function tlsServer(root: string, port: number, tls: BenchTls): string[] {
  return [
    "  server {",
    `    listen 127.0.0.1:${port} ssl;`,
    `    ssl_certificate ${tls.serverCert};`,
    `    ssl_certificate_key ${tls.serverKey};`,
    "    ssl_protocols TLSv1.2 TLSv1.3;",
    `    root ${root};`,
    "    location / { }",
    "  }",
  ];
}

function nginxConfig(root: string, prefix: string, port: number, runAsRoot: boolean, tls?: { port: number; files: BenchTls }): string {
  return [
    "daemon off;",
    "master_process on;",
    "worker_processes 1;",
    // As root, nginx would drop its workers to `nobody`, who may not read the temp dir.
    runAsRoot ? "user root;" : "",
    `pid ${join(prefix, "nginx.pid")};`,
    `error_log ${join(prefix, "error.log")} warn;`,
    "events { worker_connections 256; }",
    "http {",
    "  access_log off;",
    "  sendfile on;",
    "  tcp_nopush on;",
    "  keepalive_timeout 30s;",
    "  default_type application/octet-stream;",
    `  client_body_temp_path ${join(prefix, "client_body")};`,
    `  proxy_temp_path ${join(prefix, "proxy")};`,
    `  fastcgi_temp_path ${join(prefix, "fastcgi")};`,
    `  uwsgi_temp_path ${join(prefix, "uwsgi")};`,
    `  scgi_temp_path ${join(prefix, "scgi")};`,
    "  server {",
    `    listen 127.0.0.1:${port};`,
    `    root ${root};`,
    "    location / { }",
    "  }",
    ...(tls === undefined ? [] : tlsServer(root, tls.port, tls.files)),
    "}",
    "",
  ].join("\n");
}

/** HEAD until nginx answers, the child dies, or the deadline passes. */
async function waitForHttp(url: string, child: ChildProcess, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.request(url, { method: "HEAD", timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(false));
      req.end();
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("nginx did not answer in time");
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_DEADLINE_MS);
  await exited;
  clearTimeout(timer);
}

async function startNginx(nginx: string, root: string, prefix: string, probePath: string, tls: BenchTls | undefined): Promise<BenchOrigin> {
  await mkdir(prefix, { recursive: true });
  const runAsRoot = process.getuid?.() === 0;
  let lastError: unknown;
  // A port free a moment ago can be taken before nginx binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let tlsPort = tls === undefined ? 0 : await freePort();
    while (tls !== undefined && tlsPort === port) tlsPort = await freePort();
    const conf = join(prefix, "nginx.conf");
    await writeFile(conf, nginxConfig(root, prefix, port, runAsRoot, tls === undefined ? undefined : { port: tlsPort, files: tls }));
    const child = spawn(nginx, ["-e", join(prefix, "error.log"), "-p", prefix, "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", (error) => (lastError = error));
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitForHttp(`${base}${probePath}`, child, Date.now() + START_DEADLINE_MS);
    } catch (error) {
      lastError = new Error(`${error instanceof Error ? error.message : String(error)}: ${stderr.trim()}`);
      await stopChild(child);
      continue;
    }
    const version = await new Promise<string>((resolve) => {
      const v = spawn(nginx, ["-v"], { stdio: ["ignore", "ignore", "pipe"] });
      let text = "";
      v.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
      v.on("close", () => resolve(/nginx\/([\w.]+)/.exec(text)?.[1] ?? "?"));
      v.on("error", () => resolve("?"));
    });
    // nginx is not ours to leave behind: if the bench exits on a path that skips close()
    // (process.exit, an uncaught error), kill it synchronously on the way out.
    const killOnExit = (): void => void child.kill("SIGKILL");
    process.once("exit", killOnExit);
    // nginx binds every listener before it serves any, so HTTP answering means HTTPS is up.
    const httpsBase = `https://127.0.0.1:${tlsPort}`;
    return {
      description: `nginx ${version} (sendfile on)`,
      url: (path) => `${base}${path}`,
      https:
        tls === undefined
          ? undefined
          : { description: `nginx ${version} over TLS 1.2–1.3 (P-256 certificate of a bench CA; no sendfile)`, url: (path) => `${httpsBase}${path}`, caCert: tls.caCert },
      close: async () => {
        process.off("exit", killOnExit);
        await stopChild(child);
      },
    };
  }
  throw new Error(`could not start nginx: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

/**
 * Writes `files` (URL path → bytes) under `dir`/www and serves them. nginx when found and
 * `preferNginx`, the test origin otherwise (or when nginx fails to start, with a warning).
 */
export async function startBenchOrigin(
  dir: string,
  files: Record<string, Buffer>,
  warn: (message: string) => void,
  preferNginx = true,
  tls?: BenchTls,
): Promise<BenchOrigin> {
  const nginx = preferNginx ? findTool("nginx") : undefined;
  if (nginx !== undefined) {
    const root = join(dir, "www");
    await mkdir(root, { recursive: true });
    for (const [path, content] of Object.entries(files)) await writeFile(join(root, path), content);
    // mkdtemp makes 0700 directories; nginx workers must be able to walk into them.
    await chmod(dir, 0o755);
    await chmod(root, 0o755);
    try {
      return await startNginx(nginx, root, join(dir, "nginx"), Object.keys(files)[0] ?? "/", tls);
    } catch (error) {
      warn(`${error instanceof Error ? error.message : String(error)}; using the test origin instead`);
    }
  }
  const origin = await startOrigin({ files });
  return {
    description: "test origin (node:http, test/support/origin.ts)",
    url: (path) => origin.url(path),
    https: undefined,
    close: () => origin.close(),
  };
}
