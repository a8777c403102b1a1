import { test, after } from "node:test";
import { randomBytes } from "node:crypto";
import { startOrigin } from "../support/origin.js";
import { runDfget, baseEnv, workDir } from "../support/cli.js";
test("probe", async () => {
  const o = await startOrigin({ files: { "/a": randomBytes(5000), "/big": randomBytes(4*1024*1024+1) } });
  o.setFault("/loop", { kind: "redirect", to: "/loop" });
  const w = await workDir();
  for (const args of [
    [o.url("/a"), "-O", w.out, "--json"],
    [o.url("/big"), "-O", w.out, "--json", "--overwrite", "-v"],
    [o.url("/loop"), "-O", w.out+"2", "--json"],
    [o.url("/a"), "-O", w.out+"3", "--config", "/tmp/probe/bad.yaml"],
    [o.url("/a"), "-O", w.out+"3", "--color", "always", "--timeout", "abc"],
  ]) {
    const r = await runDfget(args, { env: baseEnv() });
    console.log(args.slice(1).join(" "), r.code, r.ms, JSON.stringify(r.stderr), r.stdout);
  }
  console.log(o.requests.map(r => `${r.method} ${r.path} ${r.range} ${r.status}`));
  await o.close(); await w.remove();
});
