// --dry-run: task id, piece plan and the scheduler candidates in the exact order the
// switching layer would try them, each with its cooling state. Contacts no origin
// except one HEAD when --piece-length is unset (the plan needs the length).
import { systemClock } from "../clock.js";
import type { RunConfig } from "../config/types.js";
import { OriginClient } from "../transport/origin.js";
import { isS3Url } from "../transport/s3-location.js";
import { s3ClientFor } from "../transport/s3-origin.js";
import { pieceCount, pieceLengthFor } from "../task/piece-plan.js";
import { taskIdOf } from "../task/task-id.js";
import { CooldownLedger } from "../switching/cooldown.js";
import { ringCandidates } from "../switching/ring.js";
import { schedulerListFor } from "./cluster-plan.js";

export interface DryRunPlan {
  taskId: string;
  pieceLength: number | null;
  pieceCount: number | null;
  contentLength: number | null;
  schedulerSource: string;
  schedulers: Array<{ addr: string; cooling: boolean; coolingUntil: string | null }>;
}

export async function planDryRun(config: RunConfig, version: string, warn: (m: string) => void): Promise<DryRunPlan> {
  const taskId = taskIdOf({
    url: config.url,
    tag: config.tag,
    application: config.application,
    pieceLength: config.pieceLength,
    filteredQueryParams: config.filteredQueryParams,
    contentForCalculatingTaskId: config.contentForCalculatingTaskId,
  });
  let contentLength: number | null = null;
  if (config.pieceLength === undefined) {
    const origin = isS3Url(config.url) ? s3ClientFor(config, version) : new OriginClient({
      headers: config.headers,
      connectTimeoutMs: config.scheduler.connectTimeoutMs,
      readTimeoutMs: config.download.pieceTimeoutMs,
      userAgent: `dfget/${version}`,
    });
    try {
      contentLength = (await origin.head(config.url)).contentLength ?? null;
    } finally {
      await origin.close();
    }
  }
  const pieceLength = config.pieceLength ?? (contentLength === null ? null : pieceLengthFor(contentLength));
  const count = contentLength === null || pieceLength === null ? null : pieceCount(contentLength, pieceLength);

  const resolved = await schedulerListFor(config, version, warn).resolve();
  if (resolved.warning) warn(resolved.warning);
  const ledger = await CooldownLedger.load(config.stateDir, systemClock, warn);
  const schedulers = ringCandidates(resolved.addrs, taskId).map((addr) => {
    const until = ledger.coolingUntil(addr, config.scheduler.cooldownIntervalMs);
    return { addr, cooling: until !== null, coolingUntil: until === null ? null : new Date(until).toISOString() };
  });
  return { taskId, pieceLength, pieceCount: count, contentLength, schedulerSource: resolved.source, schedulers };
}

export async function runDryRun(config: RunConfig, version: string, warn: (m: string) => void): Promise<string> {
  const plan = await planDryRun(config, version, warn);
  if (config.json) return `${JSON.stringify(plan)}\n`;
  const lines = [
    `task id:        ${plan.taskId}`,
    `content length: ${plan.contentLength ?? "unknown (not asked: --piece-length given)"}`,
    `piece length:   ${plan.pieceLength ?? "unknown"}`,
    `piece count:    ${plan.pieceCount ?? "unknown"}`,
    `schedulers (${plan.schedulerSource}), in the order they would be tried:`,
    ...(plan.schedulers.length === 0
      ? ["  (none: the file would come straight from the origin)"]
      : plan.schedulers.map((s, i) => `  ${i + 1}. ${s.addr}${s.cooling ? `  cooling until ${s.coolingUntil}` : ""}`)),
  ];
  return `${lines.join("\n")}\n`;
}
