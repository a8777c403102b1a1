// A hand-driven Timer for tests: time moves only in advance(), which fires the timers
// that fall due in order and lets the promises they settle run before going on.
import type { Timer } from "../../src/clock.js";
import type { WatchdogTimers } from "../../src/transport/low-speed.js";

export interface FakeTimer extends Timer {
  /** Moves time forward by `ms`, firing due timers one by one (microtasks drained between). */
  advance(ms: number): Promise<void>;
  /** Timers armed and not yet fired or cancelled. */
  pending(): number;
}

/** Lets every queued promise callback (and the ones they queue) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function fakeTimer(startMs = 0): FakeTimer {
  let current = startMs;
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const due = (until: number): [number, { at: number; fn: () => void }] | undefined =>
    [...timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
  return {
    now: () => current,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: current + Math.max(0, ms), fn });
      return () => timers.delete(id);
    },
    async advance(ms) {
      const until = current + ms;
      await settle();
      for (let next = due(until); next; next = due(until)) {
        const [id, timer] = next;
        timers.delete(id);
        current = timer.at;
        timer.fn();
        await settle();
      }
      current = until;
      await settle();
    },
    pending: () => timers.size,
  };
}

/** Low-speed watchdog timers for tests: time moves only in advance(), which runs each armed interval once. */
export function handTimers(): WatchdogTimers & { advance(ms: number): void } {
  let now = 0;
  const ticks = new Set<() => void>();
  return {
    now: () => now,
    setInterval: (fn) => {
      ticks.add(fn);
      return fn;
    },
    clearInterval: (handle) => {
      ticks.delete(handle as () => void);
    },
    advance(ms) {
      now += ms;
      for (const fn of [...ticks]) fn();
    },
  };
}
