// TLS material for the bench's HTTPS origin, made fresh in the scratch directory by the
// openssl binary (node:crypto can make keys but not certificates): a throw-away CA and a
// server certificate for IP 127.0.0.1 signed by it. Every client trusts that CA explicitly —
// curl --cacert, aria2c --ca-certificate, dfget through NODE_EXTRA_CA_CERTS — so nothing
// runs with verification switched off and the figure measures real TLS.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface BenchTls {
  /** PEM of the CA every client is told to trust. */
  caCert: string;
  serverCert: string;
  serverKey: string;
}

const OPENSSL_DEADLINE_MS = 20_000;

function openssl(binary: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: OPENSSL_DEADLINE_MS }, (error, _stdout, stderr) =>
      error ? reject(new Error(`openssl ${args[0] ?? ""} failed: ${stderr.trim() || error.message}`)) : resolve(),
    );
  });
}

/** P-256 keys: what a modern origin serves, and quick to make. Valid for one day. */
export async function makeBenchTls(binary: string, dir: string): Promise<BenchTls> {
  await mkdir(dir, { recursive: true });
  const p = (name: string): string => join(dir, name);
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(binary, ["req", "-x509", ...key, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "1", "-subj", "/CN=dfget-bench-ca"]);
  await writeFile(p("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
  await openssl(binary, ["req", ...key, "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=127.0.0.1"]);
  await openssl(binary, [
    "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
    "-out", p("server.crt"), "-days", "1", "-extfile", p("server.ext"),
  ]);
  return { caCert: p("ca.crt"), serverCert: p("server.crt"), serverKey: p("server.key") };
}
