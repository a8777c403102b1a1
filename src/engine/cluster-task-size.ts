// The task's size from the cluster, for a run whose origin HEAD failed transiently (503,
// reset, timeout…) while a scheduler is configured: the parents may hold the whole task
// although the origin is down. The scheduler that owns the task on the ring knows its
// content length from the first peer that registered it (Go v2.5.1 keeps
// actual_content_length; dragonfly-wire.md §5.3), and StatTask reads it without
// registering — a register without a length would make a new task look 0 bytes to
// everyone (§5.3, "Consequence"), so we never register blind.
//
// Candidates are asked in ring order (where the task's peers meet), each under the
// connect timeout; a transport failure moves on to the next, an answer decides. The
// selector still probes and records cooldowns when the run registers afterwards.
import * as grpc from "@grpc/grpc-js";
import type { Task } from "../gen/common/v2/common.js";
import { grpcCodeOf, statusName } from "../rpc/channels.js";
import { ringCandidates } from "../switching/ring.js";
import { planPieces } from "../task/piece-plan.js";
import { statedTaskLength } from "./parent-versions.js";
import type { RunParts } from "./parts.js";

/** Schedulers asked at most: past the ring owner and two successors, peers do not meet. */
const MAX_CANDIDATES = 3;

export type TaskSizeAnswer = { size: number; addr: string } | { why: string };

type StatParts = Pick<RunParts, "schedulers" | "clients" | "host" | "clock" | "deadline"> & {
  config: { scheduler: { connectTimeoutMs: number }; pieceLength?: number };
};

/**
 * The content length the cluster holds for `taskId`, or why there is none to trust. The
 * size must be positive (an empty task is how a task registered without a length looks)
 * and agree with the piece count the scheduler recorded for it under `pieceLengthOf`.
 */
export async function taskSizeFromCluster(parts: StatParts, taskId: string, pieceLengthOf: (size: number) => number, signal: AbortSignal): Promise<TaskSizeAnswer> {
  const list = await parts.schedulers.resolve();
  const candidates = ringCandidates(list.addrs, taskId).slice(0, MAX_CANDIDATES);
  if (candidates.length === 0) return { why: list.warning ?? "no scheduler to ask" };
  const failures: string[] = [];
  for (const addr of candidates) {
    signal.throwIfAborted();
    const deadline = Math.min(parts.deadline, parts.clock.now() + parts.config.scheduler.connectTimeoutMs);
    let task: Task;
    try {
      task = await statTask(parts, addr, taskId, deadline);
    } catch (err) {
      const code = grpcCodeOf(err);
      if (code === grpc.status.NOT_FOUND) return { why: `scheduler ${addr} does not know the task` };
      if (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.RESOURCE_EXHAUSTED) {
        failures.push(`${addr} ${statusName(code)}`);
        parts.clients.drop(addr); // a later dial starts afresh
        continue;
      }
      return { why: `scheduler ${addr} answered StatTask with ${code === undefined ? String(err) : statusName(code)}` };
    }
    return judge(task, addr, pieceLengthOf);
  }
  return { why: `no scheduler answered StatTask (${failures.join(", ")})` };
}

function judge(task: Task, addr: string, pieceLengthOf: (size: number) => number): TaskSizeAnswer {
  const size = statedTaskLength(task.contentLength);
  if (size === undefined) {
    return { why: `scheduler ${addr} knows no size for the task (content length ${task.contentLength === 0n ? "0" : "unknown"})` };
  }
  const planned = planPieces(size, pieceLengthOf(size)).length;
  if (task.pieceCount > 0 && task.pieceCount !== planned) {
    return { why: `scheduler ${addr} says ${task.pieceCount} pieces for ${size} bytes, not ${planned}` };
  }
  return { size, addr };
}

function statTask(parts: StatParts, addr: string, taskId: string, deadline: number): Promise<Task> {
  return new Promise((resolve, reject) => {
    parts.clients.open(addr).statTask({ hostId: parts.host.identity.hostId, taskId }, new grpc.Metadata(), { deadline }, (err, task) => {
      if (err) reject(err);
      else if (task) resolve(task);
      else reject(new Error("StatTask: empty answer"));
    });
  });
}
