// Figures 1 and 2 — back-to-source: the big file from the origin to disk, dfget (no
// scheduler: parallel ranged GETs) against `curl -o` and `aria2c -x8` on the same URL,
// interleaved; over plain HTTP (figure 1) and over HTTPS from the same nginx (figure 2),
// every client trusting the bench's CA explicitly.
import { join } from "node:path";
import { compareHeaders, compareRows, notInstalledRow } from "../compare.js";
import { checkAndRemove, checkSameBytes, deadlineFor, type BenchContext } from "../context.js";
import { aria2Download, curlDownload, dfgetDownload, freshStateDir, summaryOf } from "../dfget.js";
import { ensureDir, interleaved, rssOf, wallsOf, type Contender } from "../loop.js";
import { ratioGoal, type Goal, type Table } from "../report.js";
import { fmtSize, pairRatios } from "../stats.js";

export interface FigureResult {
  table: Table;
  goals: Goal[];
}

export interface BackToSourceResult extends FigureResult {
  /** Peak RSS of each measured dfget run, KiB (for the memory figure). */
  dfgetRssKiB: number[];
}

export const DFGET = "dfget (back-to-source)";
const CURL = "curl -o";
const ARIA = "aria2c -x8";

export type Scheme = "http" | "https";
/** dfget's wall ÷ curl's, per scheme: issue 12's goals. */
export const CURL_LIMIT: Record<Scheme, number> = { http: 0.9, https: 1.0 };

/** Figure 2 without an HTTPS origin: said so, its goals n/a; not a failure of the run. */
function skipped(why: string): BackToSourceResult {
  const goals = [`wall ≤ ${CURL_LIMIT.https.toFixed(1)} × curl -o`, "faster than aria2c -x8"].map((goal) => ratioGoal(`back-to-source over HTTPS: ${goal}`, [], () => false, why));
  return { table: { title: "2. Back-to-source over HTTPS — skipped", headers: ["why"], rows: [[why]], notes: [] }, goals, dfgetRssKiB: [] };
}

export async function backToSourceFigure(ctx: BenchContext, scheme: Scheme): Promise<BackToSourceResult> {
  const https = ctx.origin.https;
  if (scheme === "https" && https === undefined) return skipped("no HTTPS origin: it needs nginx and openssl (the test origin has no TLS)");
  const caCert = scheme === "https" ? https?.caCert : undefined;
  const dir = await ensureDir(join(ctx.work, `b2s-${scheme}`));
  const { content, path } = ctx.large;
  const url = scheme === "https" ? https!.url(path) : ctx.origin.url(path);
  const originText = scheme === "https" ? https!.description : ctx.origin.description;
  const deadline = deadlineFor(content.length);
  const out = (name: string, round: number): string => join(dir, `${name}-${round + 1}.bin`);

  const contenders: Contender[] = [
    {
      label: DFGET,
      command: async (round) =>
        dfgetDownload({ label: DFGET, url, output: out("dfget", round), stateDir: await freshStateDir(join(dir, "state")), caCert, timeoutMs: deadline }),
      after: async (sample, round) => {
        const summary = summaryOf(sample);
        if (summary.bytesWritten !== content.length) throw new Error(`${DFGET}: wrote ${summary.bytesWritten} bytes`);
        // The warm-up run also proves the bytes are right; later runs check the size only.
        if (round < 0) await checkSameBytes(DFGET, out("dfget", round), content);
        await checkAndRemove(DFGET, out("dfget", round), content.length);
      },
    },
  ];
  const notes: string[] = [];
  if (ctx.tools.curl !== undefined) {
    const curl = ctx.tools.curl;
    contenders.push({
      label: CURL,
      command: (round) => curlDownload(curl, url, out("curl", round), deadline, caCert),
      after: async (sample, round) => {
        if (sample.code !== 0) throw new Error(`curl failed (exit ${sample.code}): ${sample.stderr.trim()}`);
        await checkAndRemove("curl", out("curl", round), content.length);
      },
    });
  } else notes.push("curl is not installed: no reference, no ratios (apt-get install -y curl)");
  if (ctx.tools.aria2c !== undefined) {
    const aria2c = ctx.tools.aria2c;
    contenders.push({
      label: ARIA,
      command: (round) => aria2Download(aria2c, url, out("aria2c", round), deadline, caCert),
      after: async (sample, round) => {
        if (sample.code !== 0) throw new Error(`aria2c failed (exit ${sample.code}): ${sample.stderr.trim()}`);
        await checkAndRemove("aria2c", out("aria2c", round), content.length);
      },
    });
  } else notes.push("aria2c is not installed: row skipped (apt-get install -y aria2)");

  const samples = await interleaved(contenders, { runs: ctx.knobs.runs, rotate: true, log: ctx.log });
  const rows = compareRows(samples, contenders.map((c) => c.label), CURL, content.length);
  if (ctx.tools.curl === undefined) rows.push(notInstalledRow(CURL));
  if (ctx.tools.aria2c === undefined) rows.push(notInstalledRow(ARIA));
  notes.unshift(
    `${fmtSize(content.length)} random bytes from ${originText} to a file on disk; output deleted after every run.`,
    "aria2c runs with -x8 -s8 (its default split of 5 would cap -x8 at 5 connections) and --file-allocation=none.",
  );
  if (caCert !== undefined) {
    notes.push("certificate verification on for every client: curl --cacert, aria2c --ca-certificate, dfget NODE_EXTRA_CA_CERTS (dfget has no origin CA option).");
  }
  notes.push("CPU: user + sys of the measured process (GNU time %U + %S, 10 ms resolution).");

  const walls = (label: string): number[] => wallsOf(samples.get(label) ?? []);
  const over = scheme === "https" ? "HTTPS" : "HTTP";
  const limit = CURL_LIMIT[scheme];
  const goals: Goal[] = [
    ratioGoal(`back-to-source over ${over}: wall ≤ ${limit.toFixed(1)} × curl -o`, pairRatios(walls(DFGET), walls(CURL)), (m) => m <= limit, "curl not installed"),
    ratioGoal(`back-to-source over ${over}: faster than aria2c -x8`, pairRatios(walls(DFGET), walls(ARIA)), (m) => m < 1, "aria2c not installed"),
  ];
  return {
    table: {
      title: `${scheme === "https" ? 2 : 1}. Back-to-source over ${over}, ${fmtSize(content.length)} to disk`,
      headers: compareHeaders("tool", "curl"),
      rows,
      notes,
    },
    goals,
    dfgetRssKiB: rssOf(samples.get(DFGET) ?? []),
  };
}
