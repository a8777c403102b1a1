import { startRig, dfget } from "/work/main/test/e2e/switching-harness.js";
const r = await startRig();
let bad = 0;
const N = Number(process.argv[2] ?? 10);
for (let i = 0; i < N; i++) {
  const run = await dfget(r, r.staticArgs);
  const peerId = run.json!.peerId!;
  const ev = r.owner.events;
  const last = ev.findLastIndex((e) => e.rpc === "AnnouncePeer" && e.peerId === peerId);
  const del = ev.findIndex((e) => e.rpc === "DeletePeer" && e.peerId === peerId);
  const end = ev.find((e) => e.rpc === "AnnouncePeer.end" && e.peerId === peerId);
  if (del < last) { bad++; console.log("race", JSON.stringify(end?.message), run.json!.durationMs); }
}
console.log(`bad ${bad}/${N}`);
await r.stop();
