// Types for the parts of undici imported by path in undici-agent.ts (undici ships types
// for its index only); they are the index's own classes.
declare module "undici/lib/dispatcher/agent.js" {
  import { Agent } from "undici";
  export default Agent;
}
declare module "undici/lib/dispatcher/dispatcher.js" {
  import { Dispatcher } from "undici";
  export default Dispatcher;
}
declare module "undici/lib/api/api-request.js" {
  import { Dispatcher } from "undici";
  const request: Dispatcher["request"];
  export default request;
}
