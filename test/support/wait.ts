// Waiting on what a fake recorded, never on the clock: a test either sees the condition or
// fails with a message once the hang guard fires. The guard is generous on purpose (a
// loaded 2-core machine is slow, not wrong); it only turns a hang into a failure.
import { setTimeout as pause } from "node:timers/promises";

/** Default hang guard for waitFor, in ms. */
export const HANG_GUARD_MS = 20_000;

/**
 * Resolves once check() is true; rejects after timeoutMs. The 10 ms cadence only spares the
 * CPU (the dfget child shares two cores); correctness never depends on it.
 */
export async function waitFor(what: string, check: () => boolean, timeoutMs = HANG_GUARD_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(10);
  }
}

/** A promise with its resolve function, for a fake to settle when something happens. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
