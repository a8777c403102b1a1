// Time as a value passed in (Kraken's clock.Clock): switching/ never reads Date.now() itself.
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * One-shot timers on an injected time source, for code that races deadlines (hedged
 * probes, DNS lookups); a fake one lets tests move time by hand.
 */
export interface Timer {
  /** Milliseconds on any fixed origin; only differences are meaningful. */
  now(): number;
  /** Calls `fn` once after `ms`; the returned function cancels it. */
  setTimeout(fn: () => void, ms: number): () => void;
}

export const systemTimer: Timer = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    return () => clearTimeout(handle);
  },
};
