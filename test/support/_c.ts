import { startCluster } from "./cluster.js";
import { randomBytes } from "node:crypto";
const content = randomBytes(20 * 1024 * 1024 + 123);
startCluster({ schedulers: 3, origin: { files: { "/f.bin": content } } }).then((c) => {
  console.log(c.origin!.url("/f.bin"), c.schedulerAddrs().join(","), c.manager.addr);
  if (process.argv[2] === "refuse") void c.schedulers[Number(process.argv[3])]!.refuse();
  setTimeout(() => { for (const s of c.schedulers) console.error(s.name, s.events.map((e) => e.rpc + (e.rpc === "AnnouncePeer.end" ? JSON.stringify(e.message) : "")).join(" ")); void c.stop(); }, 25000);
});
