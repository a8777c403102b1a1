// --dry-run: task id, piece plan and the scheduler candidates in the exact order the
// switching layer would try them, each with its cooling state; scheduler names with the
// addresses they resolved to. Contacts no origin except one HEAD when --piece-length is
// unset (the plan needs the length). Text for people, --json for programs.
import { stat } from "node:fs/promises";
import { systemClock } from "../clock.js";
import type { RunConfig } from "../config/types.js";
import { pieceCount, pieceLengthFor } from "../task/piece-plan.js";
import { taskIdOfConfig } from "../task/task-id.js";
import { CooldownLedger } from "../switching/cooldown.js";
import { ringCandidates } from "../switching/ring.js";
import { schedulerListFor } from "./cluster-plan.js";
import { originFor } from "./compose.js";
import { formatBytes } from "./render.js";

export interface DryRunPlan {
  taskId: string;
  pieceLength: number | null;
  pieceCount: number | null;
  contentLength: number | null;
  schedulerSource: string;
  schedulers: Array<{ addr: string; cooling: boolean; coolingUntil: string | null }>;
  /** "name:port" → ["ip:port", …] for each scheduler or manager name; {} when none. */
  resolved: Record<string, string[]>;
}

/** What the text form adds for people; not part of the JSON. */
export interface DryRunExtras {
  /** Scheduler names that did not resolve, with why. */
  unresolved: Array<{ addr: string; reason: string }>;
  /** Epoch ms when the plan was made (for "cooling for 42 s more"). */
  now: number;
}

export async function planDryRun(config: RunConfig, version: string, warn: (m: string) => void): Promise<DryRunPlan> {
  return (await planWithExtras(config, version, warn)).plan;
}

/** `signal` (--timeout, Ctrl-C) ends the HEAD; the caller stops waiting for the rest. */
async function planWithExtras(config: RunConfig, version: string, warn: (m: string) => void, signal?: AbortSignal): Promise<{ plan: DryRunPlan; extras: DryRunExtras }> {
  const taskId = taskIdOfConfig(config);
  let contentLength: number | null = null;
  if (config.pieceLength === undefined) {
    // The same client a download would use (S3 signer only for an s3:// URL).
    const origin = await originFor(config, version);
    try {
      contentLength = (await origin.head(config.url, signal)).contentLength ?? null;
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
  const plan: DryRunPlan = {
    taskId,
    pieceLength,
    pieceCount: count,
    contentLength,
    schedulerSource: resolved.source,
    schedulers,
    resolved: resolved.resolved,
  };
  if (config.output !== "" && config.output !== "-" && (await stat(config.output).then((s) => s.isFile(), () => false))) {
    warn(`${config.output} already exists: ${config.overwrite ? "--overwrite would replace it" : "the download would stop with exit 73 (add --overwrite to replace it)"}`);
  }
  return { plan, extras: { unresolved: resolved.unresolved, now: systemClock.now() } };
}

/** "4194304 (4.0 MiB)"; small counts stay bare. */
function sizeText(bytes: number | null, unknown: string): string {
  if (bytes === null) return unknown;
  return bytes < 1024 ? `${bytes} B` : `${bytes} (${formatBytes(bytes)})`;
}

/** "  cooling until 2026-…Z (42 s more)", rounded up so it never reads "0 s" while cooling. */
function coolingText(until: string | null, now: number): string {
  if (until === null) return "";
  const seconds = Math.max(1, Math.ceil((Date.parse(until) - now) / 1000));
  return `  cooling for ${seconds} s more (until ${until})`;
}

/** The text form: what a person checks before a run. */
export function formatDryRun(plan: DryRunPlan, extras: DryRunExtras): string {
  const names = Object.entries(plan.resolved);
  const lines = [
    `task id:        ${plan.taskId}`,
    `content length: ${plan.contentLength === null ? "unknown (not asked: --piece-length given)" : sizeText(plan.contentLength, "")}`,
    `piece length:   ${sizeText(plan.pieceLength, "unknown")}`,
    `piece count:    ${plan.pieceCount ?? "unknown"}`,
    ...(names.length + extras.unresolved.length === 0
      ? []
      : [
          "names:",
          ...names.map(([name, addrs]) => `  ${name} → ${addrs.join(", ")}`),
          ...extras.unresolved.map((u) => `  ${u.addr} → does not resolve (${u.reason})`),
        ]),
    `schedulers (${plan.schedulerSource}), in the order they would be tried:`,
    ...(plan.schedulers.length === 0
      ? ["  (none: the file would come straight from the origin)"]
      : plan.schedulers.map((s, i) => `  ${i + 1}. ${s.addr}${coolingText(s.coolingUntil, extras.now)}`)),
  ];
  return `${lines.join("\n")}\n`;
}

export async function runDryRun(config: RunConfig, version: string, warn: (m: string) => void, signal?: AbortSignal): Promise<string> {
  const { plan, extras } = await planWithExtras(config, version, warn, signal);
  if (config.json) return `${JSON.stringify(plan)}\n`;
  return formatDryRun(plan, extras);
}
