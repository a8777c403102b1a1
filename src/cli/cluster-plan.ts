// The scheduler list for a run, built from the resolved config: static list, managers
// (with the last good list cached in the state dir), or none.
import { systemClock, systemTimer } from "../clock.js";
import { resolverFromEnv, systemResolver } from "../net/address.js";
import type { RunConfig } from "../config/types.js";
import { createSchedulerList, type SchedulerList } from "../cluster/resolve.js";
import { createChannelCredentials } from "../rpc/channels.js";
import { probe } from "../rpc/health.js";
import { localIdentity } from "../engine/host.js";

/**
 * The label of TLS errors: the files are named only in the config file, so its errors
 * name the key and the file (cli.md), e.g. `config /etc/dfget.yaml: scheduler.caCert: …`.
 */
export function tlsScope(config: Pick<RunConfig, "configFile">, side: "manager" | "scheduler"): string {
  return config.configFile === undefined ? side : `config ${config.configFile}: ${side}`;
}

export function schedulerListFor(config: RunConfig, version: string, onWarning?: (m: string) => void, deadline?: number): SchedulerList {
  const me = localIdentity(config.host);
  return createSchedulerList(
    {
      schedulerAddrs: config.scheduler.addrs,
      managerAddrs: config.manager.addrs,
      stateDir: config.stateDir,
      caller: {
        hostname: me.hostname,
        ip: me.ip,
        idc: config.host.idc || undefined,
        location: config.host.location || undefined,
        version,
        commit: "",
      },
      managerCredentials: createChannelCredentials(config.manager.tls, tlsScope(config, "manager")),
      connectTimeoutMs: config.scheduler.connectTimeoutMs,
      callTimeoutMs: Math.max(config.scheduler.connectTimeoutMs, 5000),
      deadline,
    },
    {
      clock: systemClock,
      timer: systemTimer,
      // Tests give names loopback addresses through DFGET_TEST_HOSTS (never DNS).
      resolver: resolverFromEnv(process.env.DFGET_TEST_HOSTS) ?? systemResolver,
      onWarning,
      // As the Rust dfdaemon: keep the first cluster (in manager order) with a healthy scheduler.
      probe: (addr) => probe(addr, { credentials: createChannelCredentials(config.scheduler.tls, tlsScope(config, "scheduler")), timeoutMs: config.scheduler.connectTimeoutMs, deadline }),
    },
  );
}
