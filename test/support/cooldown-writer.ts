// Child process for the cooldown concurrency test: marks scheduler(s) failed in the
// ledger at <stateDir>, as one dfget run would, then exits.
//   node --import tsx test/support/cooldown-writer.ts <stateDir> <outcome> <addr>...
// Exit 0 = every write landed without a warning; 3 = a warning was printed to stderr.
import { CooldownLedger } from "../../src/switching/cooldown.js";
import { systemClock } from "../../src/clock.js";

const [stateDir, outcome, ...addrs] = process.argv.slice(2);
if (stateDir === undefined || outcome === undefined || addrs.length === 0) {
  process.stderr.write("usage: cooldown-writer <stateDir> <outcome> <addr>...\n");
  process.exit(2);
}

let warned = false;
const warn = (message: string): void => {
  warned = true;
  process.stderr.write(`warning: ${message}\n`);
};

const ledger = await CooldownLedger.load(stateDir, systemClock, warn);
for (const addr of addrs) await ledger.markFailed(addr, outcome);
process.exitCode = warned ? 3 : 0;
