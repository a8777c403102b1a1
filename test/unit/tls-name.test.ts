// TLS to a scheduler addressed by IP: no IP in the ServerName (DEP0123), the certificate
// still checked against that IP.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { PeerCertificate } from "node:tls";
import { checkIdentityOf, ipStandInName } from "../../src/rpc/channels.js";

const certFor = (san: string): PeerCertificate => ({ subject: { CN: "scheduler" }, subjectaltname: san }) as unknown as PeerCertificate;

test("the stand-in name is not an IP and encodes it", () => {
  assert.equal(ipStandInName("127.0.0.1"), "ip-7f000001.dfget.invalid");
  assert.equal(ipStandInName("10.0.0.2"), "ip-0a000002.dfget.invalid");
  assert.equal(ipStandInName("fd00::1"), "ip-fd000000000000000000000000000001.dfget.invalid");
});

test("the certificate is checked against the IP behind the stand-in", () => {
  assert.equal(checkIdentityOf(ipStandInName("127.0.0.1"), certFor("IP Address:127.0.0.1")), undefined);
  assert.ok(checkIdentityOf(ipStandInName("127.0.0.1"), certFor("IP Address:10.0.0.9")) instanceof Error);
  assert.ok(checkIdentityOf(ipStandInName("127.0.0.1"), certFor("DNS:ip-7f000001.dfget.invalid")) instanceof Error, "a cert for the stand-in name itself does not pass");
  assert.equal(checkIdentityOf(ipStandInName("fd00::1"), certFor("IP Address:FD00:0:0:0:0:0:0:1")), undefined);
  assert.equal(checkIdentityOf("scheduler.local", certFor("DNS:scheduler.local")), undefined, "names are checked as names");
});
