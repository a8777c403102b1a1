import { startCluster } from "./cluster.js";
import { startSeedParent } from "./parent.js";
import { taskIdOf, DEFAULT_FILTERED_QUERY_PARAMS } from "../../src/p2p/task-id.js";
import { randomBytes } from "node:crypto";
const content = randomBytes(40 * 1024 * 1024 + 123);
startCluster({ schedulers: 3, origin: { files: { "/f.bin": content } } }).then(async (c) => {
  const url = c.origin!.url("/f.bin");
  const taskId = taskIdOf({ url: new URL(url).href, tag: "", application: "", filteredQueryParams: DEFAULT_FILTERED_QUERY_PARAMS });
  const mode = process.argv[2] ?? "all";
  const p = await startSeedParent({ content, taskId, pieceLength: 4 * 1024 * 1024, pieces: mode === "late" || mode.startsWith("mid") ? [0, 1, 2, 3] : "all" });
  c.seedParents.push(p);
  if (mode === "late") setTimeout(() => p.addAllPieces(), 3000);
  if (mode.startsWith("mid")) { process.stdin.once("data", () => { setTimeout(() => p.addAllPieces(), 1500); }); }
  if (mode === "corrupt") p.corruptPiece(3);
  if (mode === "die") p.dieMidPiece(2);
  if (mode.startsWith("mid")) {
    const { ringCandidates } = await import("../../src/switching/ring.js");
    const owner = ringCandidates(c.schedulerAddrs(), taskId)[0];
    const s = c.schedulers.find((x) => x.addr === owner)!;
    if (mode === "mid-die") s.dieAfterPieces(3); else s.silentAfterPieces(3);
  }
  console.log(url, c.schedulerAddrs().join(","), c.manager.addr);
  setTimeout(() => { console.error("parent served", p.bytesServed(), "origin served", c.origin!.bytesServed()); for (const s of c.schedulers) console.error(s.name, s.events.map((e) => e.rpc.replace("AnnouncePeer", "AP") + (e.rpc === "AnnouncePeer.end" ? JSON.stringify(e.message) : "")).join(" ")); void c.stop(); void p.close(); }, 20000);
});
