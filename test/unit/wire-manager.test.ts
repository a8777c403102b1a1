// Wire tests, part 6: manager.v2 ListSchedulers. Expected bytes are built by hand from
// shared/reference/dragonfly-wire.md §3.6.
import { describe, test } from "node:test";
import assert from "node:assert/strict";

import {
  ListSchedulersRequest,
  ListSchedulersResponse,
  Scheduler,
  SourceType,
} from "../../src/gen/manager/v2/manager.js";
import {
  assertWireRoundTrip,
  concat,
  lengthDelimited,
  messageField,
  stringField,
  varintField,
} from "../support/protowire.js";

// §3.6 manager.v2.
const LIST_SCHEDULERS_REQUEST = {
  sourceType: 1, hostname: 2, ip: 3, idc: 4, location: 5, version: 6, commit: 7, schedulerClusterId: 8,
} as const;
const LIST_SCHEDULERS_RESPONSE = { schedulers: 1 } as const;
const SCHEDULER = {
  id: 1, hostname: 2, idc: 3, location: 4, ip: 5, port: 6, state: 7, schedulerClusterId: 8,
  schedulerCluster: 9, seedPeers: 10, features: 11,
} as const;
const SCHEDULER_CLUSTER = {
  id: 1, name: 2, bio: 3, config: 4, clientConfig: 5, scopes: 6, seedClientConfig: 7,
} as const;
const SEED_PEER = {
  id: 1, hostname: 2, type: 3, idc: 4, location: 5, ip: 6, port: 7, downloadPort: 8, state: 9,
  seedPeerClusterId: 10, seedPeerCluster: 11, schedulers: 12,
} as const;
const SEED_PEER_CLUSTER = { id: 1, name: 2, bio: 3, config: 4 } as const;

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const FEATURES = '["schedule","preheat"]';
const CLUSTER_CONFIG = '{"candidate_parent_limit":4,"filter_parent_limit":15}';
const CLIENT_CONFIG = '{"load_limit":200}';
const SCOPES = '{"idc":"idc-a","location":"cn|zhejiang","cidrs":["192.0.2.0/24"]}';
const SEED_CLIENT_CONFIG = '{"block_list":{}}';

describe("manager.v2.ListSchedulersRequest", () => {
  test("a normal peer's request: PEER_SOURCE, idc/location, version, cluster id", () => {
    assertWireRoundTrip(
      ListSchedulersRequest,
      ListSchedulersRequest.fromPartial({
        sourceType: SourceType.PEER_SOURCE, hostname: "dfget-host", ip: "192.0.2.10", idc: "idc-a",
        location: "cn|zhejiang|hangzhou", version: "v0.1.0", commit: "abc1234", schedulerClusterId: 1n,
      }),
      concat(
        varintField(LIST_SCHEDULERS_REQUEST.sourceType, 1),
        stringField(LIST_SCHEDULERS_REQUEST.hostname, "dfget-host"),
        stringField(LIST_SCHEDULERS_REQUEST.ip, "192.0.2.10"),
        stringField(LIST_SCHEDULERS_REQUEST.idc, "idc-a"),
        stringField(LIST_SCHEDULERS_REQUEST.location, "cn|zhejiang|hangzhou"),
        stringField(LIST_SCHEDULERS_REQUEST.version, "v0.1.0"),
        stringField(LIST_SCHEDULERS_REQUEST.commit, "abc1234"),
        varintField(LIST_SCHEDULERS_REQUEST.schedulerClusterId, 1),
      ),
    );
  });

  test("presence: unset idc/location are absent, \"\" would be sent; plain zeros are omitted", () => {
    const base = { hostname: "dfget-host", ip: "192.0.2.10" };
    const ids = concat(
      stringField(LIST_SCHEDULERS_REQUEST.hostname, "dfget-host"),
      stringField(LIST_SCHEDULERS_REQUEST.ip, "192.0.2.10"),
    );
    // SCHEDULER_SOURCE = 0, version "", commit "", cluster id 0: nothing on the wire.
    assertWireRoundTrip(
      ListSchedulersRequest,
      ListSchedulersRequest.fromPartial({ ...base, sourceType: SourceType.SCHEDULER_SOURCE }),
      ids,
    );
    // The manager rejects idc/location "" (min_len 1 if set), so callers must leave them unset.
    assertWireRoundTrip(
      ListSchedulersRequest,
      ListSchedulersRequest.fromPartial({ ...base, sourceType: SourceType.SEED_PEER_SOURCE, idc: "", location: "" }),
      concat(
        varintField(LIST_SCHEDULERS_REQUEST.sourceType, 2),
        ids,
        stringField(LIST_SCHEDULERS_REQUEST.idc, ""),
        stringField(LIST_SCHEDULERS_REQUEST.location, ""),
      ),
    );
  });
});

describe("manager.v2.ListSchedulersResponse", () => {
  test("schedulers with scheduler_cluster, seed_peers and features bytes", () => {
    const active = Scheduler.fromPartial({
      id: 3n, hostname: "scheduler-0", idc: "idc-a", location: "cn|zhejiang", ip: "203.0.113.5", port: 8002,
      state: "active", schedulerClusterId: 1n,
      schedulerCluster: {
        id: 1n, name: "cluster-1", bio: "default", config: Buffer.from(CLUSTER_CONFIG),
        clientConfig: Buffer.from(CLIENT_CONFIG), scopes: Buffer.from(SCOPES),
        seedClientConfig: Buffer.from(SEED_CLIENT_CONFIG),
      },
      seedPeers: [{
        id: 9n, hostname: "seed-1", type: "super", ip: "198.51.100.20", port: 4000, downloadPort: 4000,
        state: "active", seedPeerClusterId: 1n,
        seedPeerCluster: { id: 1n, name: "seed-cluster-1", config: Buffer.from("{}") },
        schedulers: [{ id: 3n, hostname: "scheduler-0" }],
      }],
      features: Buffer.from(FEATURES),
    });
    const inactive = Scheduler.fromPartial({
      id: 4n, hostname: "scheduler-1", ip: "203.0.113.6", port: 8002, state: "inactive", schedulerClusterId: 1n,
    });
    const expected = concat(
      messageField(
        LIST_SCHEDULERS_RESPONSE.schedulers,
        varintField(SCHEDULER.id, 3),
        stringField(SCHEDULER.hostname, "scheduler-0"),
        stringField(SCHEDULER.idc, "idc-a"),
        stringField(SCHEDULER.location, "cn|zhejiang"),
        stringField(SCHEDULER.ip, "203.0.113.5"),
        varintField(SCHEDULER.port, 8002),
        stringField(SCHEDULER.state, "active"),
        varintField(SCHEDULER.schedulerClusterId, 1),
        messageField(
          SCHEDULER.schedulerCluster,
          varintField(SCHEDULER_CLUSTER.id, 1),
          stringField(SCHEDULER_CLUSTER.name, "cluster-1"),
          stringField(SCHEDULER_CLUSTER.bio, "default"),
          lengthDelimited(SCHEDULER_CLUSTER.config, utf8(CLUSTER_CONFIG)),
          lengthDelimited(SCHEDULER_CLUSTER.clientConfig, utf8(CLIENT_CONFIG)),
          lengthDelimited(SCHEDULER_CLUSTER.scopes, utf8(SCOPES)),
          lengthDelimited(SCHEDULER_CLUSTER.seedClientConfig, utf8(SEED_CLIENT_CONFIG)),
        ),
        messageField(
          SCHEDULER.seedPeers,
          varintField(SEED_PEER.id, 9),
          stringField(SEED_PEER.hostname, "seed-1"),
          stringField(SEED_PEER.type, "super"),
          stringField(SEED_PEER.ip, "198.51.100.20"),
          varintField(SEED_PEER.port, 4000),
          varintField(SEED_PEER.downloadPort, 4000),
          stringField(SEED_PEER.state, "active"),
          varintField(SEED_PEER.seedPeerClusterId, 1),
          messageField(
            SEED_PEER.seedPeerCluster,
            varintField(SEED_PEER_CLUSTER.id, 1),
            stringField(SEED_PEER_CLUSTER.name, "seed-cluster-1"),
            lengthDelimited(SEED_PEER_CLUSTER.config, utf8("{}")),
          ),
          messageField(
            SEED_PEER.schedulers,
            varintField(SCHEDULER.id, 3),
            stringField(SCHEDULER.hostname, "scheduler-0"),
          ),
        ),
        lengthDelimited(SCHEDULER.features, utf8(FEATURES)),
      ),
      messageField(
        LIST_SCHEDULERS_RESPONSE.schedulers,
        varintField(SCHEDULER.id, 4),
        stringField(SCHEDULER.hostname, "scheduler-1"),
        stringField(SCHEDULER.ip, "203.0.113.6"),
        varintField(SCHEDULER.port, 8002),
        stringField(SCHEDULER.state, "inactive"),
        varintField(SCHEDULER.schedulerClusterId, 1),
      ),
    );
    assertWireRoundTrip(ListSchedulersResponse, ListSchedulersResponse.fromPartial({ schedulers: [active, inactive] }), expected);
    const decoded = ListSchedulersResponse.decode(expected);
    assert.deepEqual(JSON.parse(decoded.schedulers[0]?.features.toString("utf8") ?? "null"), ["schedule", "preheat"]);
    assert.equal(decoded.schedulers[1]?.idc, undefined);
  });

  test("an empty list is an empty body; unknown Scheduler fields are skipped", () => {
    assertWireRoundTrip(ListSchedulersResponse, ListSchedulersResponse.fromPartial({}), new Uint8Array(0));
    const bytes = messageField(
      LIST_SCHEDULERS_RESPONSE.schedulers,
      varintField(SCHEDULER.id, 4),
      stringField(12, "future"),
      varintField(SCHEDULER.port, 8002),
    );
    assert.deepEqual(
      ListSchedulersResponse.decode(bytes),
      ListSchedulersResponse.fromPartial({ schedulers: [{ id: 4n, port: 8002 }] }),
    );
  });
});
