package io.meridian.testing.chaos;

import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LockGrpc;
import io.meridian.testing.ProcessRegion;

/**
 * Where a workload's clients send their calls: each member of the region, numbered from 0, and then
 * its router when it has one. A client picks one at random per operation, so every path a real
 * client takes (a member that forwards to the leader, the leader itself, a router in front) meets
 * the faults.
 */
public final class Endpoints {
  private final ProcessRegion nodes;
  private final ChaosRouter router;

  Endpoints(ProcessRegion nodes, ChaosRouter router) {
    this.nodes = nodes;
    this.router = router;
  }

  /** How many: the members, and the router if there is one. */
  public int count() {
    return nodes.size() + (router == null ? 0 : 1);
  }

  /** A member's name (n1, n2, ...) or "router", for logs. */
  public String name(int index) {
    return isRouter(index) ? "router" : "n" + (index + 1);
  }

  public KVGrpc.KVBlockingStub kv(int index) {
    return isRouter(index) ? router.kv() : nodes.kv(index);
  }

  public LeaseGrpc.LeaseBlockingStub lease(int index) {
    return isRouter(index) ? router.lease() : nodes.lease(index);
  }

  public LockGrpc.LockBlockingStub lock(int index) {
    return isRouter(index) ? router.lock() : nodes.lock(index);
  }

  private boolean isRouter(int index) {
    return router != null && index == nodes.size();
  }
}
