// undici's Agent with the one method we call (request), without undici's index: the index
// also loads fetch, WebSocket, EventSource, cookies, caches, mocks and proxies, and touches
// Node's own bundled undici — about a quarter of a direct download's start-up (issue 12
// item 5). The index gives every dispatcher its API by assigning it to the prototype;
// we assign the same function, so an Agent from here is the Agent of the index.
import UndiciAgent from "undici/lib/dispatcher/agent.js";
import UndiciDispatcher from "undici/lib/dispatcher/dispatcher.js";
import request from "undici/lib/api/api-request.js";

UndiciDispatcher.prototype.request = request;

export const Agent = UndiciAgent;
export type Agent = InstanceType<typeof UndiciAgent>;
