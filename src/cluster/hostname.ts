// The Go manager validates ListSchedulersRequest.hostname as a DNS hostname (PGV
// `hostname` rule: labels of 1–63 letters, digits and '-', no leading or trailing '-',
// at most 253 characters, empty fails) and rejects the whole call with InvalidArgument
// otherwise. OS hostnames break that easily ("My_Laptop", "build agent 7", a trailing
// dot), so the name we send is derived, not copied.

const MAX_LABEL = 63;
const MAX_NAME = 253;
const FALLBACK = "localhost";

/**
 * Lowercases, replaces every character outside [a-z0-9.-] with '-', trims '-' from each
 * label, drops empty labels, cuts labels to 63 characters and the name to whole labels
 * within 253. Nothing valid left → "localhost". A valid name comes back unchanged except
 * for case.
 */
export function sanitizeHostname(raw: string): string {
  const labels = raw
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, "-")
    .split(".")
    .map((label) => label.slice(0, MAX_LABEL).replace(/^-+|-+$/g, ""))
    .filter((label) => label.length > 0);
  while (labels.join(".").length > MAX_NAME) labels.pop();
  const name = labels.join(".");
  return name === "" ? FALLBACK : name;
}

/** The same rule the Go manager applies, for tests and for a config check. */
export function isValidHostname(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME) return false;
  return name.split(".").every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}
