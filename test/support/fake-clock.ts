// A hand-driven Clock for tests: time moves only when the test says so.
import type { Clock } from "../../src/clock.js";

export interface FakeClock extends Clock {
  /** Moves time forward (or back, with a negative value) by `ms`. */
  advance(ms: number): void;
  /** Jumps to an absolute epoch-ms value. */
  set(ms: number): void;
}

export function fakeClock(startMs: number): FakeClock {
  let current = startMs;
  return {
    now: () => current,
    advance: (ms: number) => {
      current += ms;
    },
    set: (ms: number) => {
      current = ms;
    },
  };
}
