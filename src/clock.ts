// Time as a value passed in (Kraken's clock.Clock): switching/ never reads Date.now() itself.
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
