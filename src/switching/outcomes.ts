// How a scheduler failure is classified: one table keyed by gRPC status number and
// errno code (style-by-example §4), never by message text.
import { status } from "@grpc/grpc-js";

/** Outcomes as the JSON summary spells them (cli.md), plus the two that do not cool. */
export type AttemptOutcome =
  | "ok"
  | "refused"
  | "timeout"
  | "not-serving"
  | "unavailable"
  | "cooling"
  | "stream-broken"
  | "resource-exhausted"
  | "rejected"
  /** Outrun by another scheduler's SERVING, then failed or never answered: cools. */
  | "hedged"
  /** A scheduler name with no address: does not cool (there is nothing to cool). */
  | "unresolved";

/** What to do about a failed call to a scheduler. */
export type FailureAction =
  /** Transport failure: switch to the next scheduler and cool this one down. */
  | { kind: "switch-and-cool"; outcome: AttemptOutcome }
  /** Overloaded (RESOURCE_EXHAUSTED): switch, but the scheduler is not broken. */
  | { kind: "switch"; outcome: AttemptOutcome }
  /** Application answer (InvalidArgument, NotFound, ...): report it, do not switch. */
  | { kind: "report"; outcome: AttemptOutcome };

const SWITCH_AND_COOL: ReadonlySet<number> = new Set([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.CANCELLED, // a GOAWAY/reset surfaces as CANCELLED or UNAVAILABLE in grpc-js
  status.INTERNAL, // RST_STREAM with an internal error code from a dying server
  status.UNKNOWN,
]);

/** Classify a failure of an established AnnouncePeer stream or a register call. */
export function classifyGrpcFailure(code: number | undefined, midStream: boolean): FailureAction {
  if (code === undefined) return { kind: "switch-and-cool", outcome: midStream ? "stream-broken" : "unavailable" };
  if (code === status.RESOURCE_EXHAUSTED) return { kind: "switch", outcome: "resource-exhausted" };
  if (SWITCH_AND_COOL.has(code)) {
    if (code === status.DEADLINE_EXCEEDED) return { kind: "switch-and-cool", outcome: midStream ? "stream-broken" : "timeout" };
    return { kind: "switch-and-cool", outcome: midStream ? "stream-broken" : "unavailable" };
  }
  return { kind: "report", outcome: "rejected" };
}

const COOLING_OUTCOMES: ReadonlySet<AttemptOutcome> = new Set(["refused", "timeout", "not-serving", "unavailable", "stream-broken", "hedged"]);

/** Outcomes that put a scheduler into cooldown. */
export function outcomeCools(outcome: AttemptOutcome): boolean {
  return COOLING_OUTCOMES.has(outcome);
}

/**
 * Failures that make the next registration a switch. `hedged` is counted when the
 * scheduler that outran it is chosen, so it is not counted again here.
 */
export function isSwitchOutcome(outcome: AttemptOutcome): boolean {
  return outcome !== "ok" && outcome !== "cooling" && outcome !== "unresolved" && outcome !== "hedged" && outcome !== "rejected";
}

/** How a failure reads in a fallback line. */
const FAILURE_TEXT: Partial<Record<AttemptOutcome, string>> = {
  timeout: "not answering (connect timeout)",
  "not-serving": "not serving",
  "stream-broken": "lost the stream",
  "resource-exhausted": "overloaded (RESOURCE_EXHAUSTED)",
  hedged: "outrun and never answered",
};

/** "scheduler 10.0.0.1:8002 refused → 10.0.0.2:8002", or without "→ …" when nobody is next. */
export function fallbackLine(addr: string, outcome: AttemptOutcome, next: string | undefined): string {
  const why = FAILURE_TEXT[outcome] ?? outcome;
  return next === undefined ? `scheduler ${addr} ${why}` : `scheduler ${addr} ${why} → ${next}`;
}
