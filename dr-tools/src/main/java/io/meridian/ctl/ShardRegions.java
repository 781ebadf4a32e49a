package io.meridian.ctl;

import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.StatusRuntimeException;
import io.meridian.api.MeridianException;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.ReplaceTableRequest;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.ReplicationStatusResponse;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.RouterAdminGrpc;
import io.meridian.api.v1.RoutingTableResponse;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.api.v1.SetRoleResponse;
import io.meridian.client.Stubs;
import io.meridian.router.RoutingTable;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * One shard of a federation as its routers describe it: the routing table they serve and, for each
 * of the shard's regions, calls to that region's cluster (any member answers: proposals go through
 * the cluster's log). What failover, switchover and rejoin act on.
 */
final class ShardRegions {
  final int shard;
  final List<RoutingCommand.Served> routers;
  // The newest table: the one read, then each one this run applied.
  RoutingTable table;
  private final Duration timeout;
  // The connections of this command line: TLS as --cacert, --cert and --key say.
  final ClientFactory factory;

  private ShardRegions(
      int shard,
      List<RoutingCommand.Served> routers,
      RoutingTable table,
      Duration timeout,
      ClientFactory factory) {
    this.shard = shard;
    this.routers = routers;
    this.table = table;
    this.timeout = timeout;
    this.factory = factory;
  }

  /**
   * The shard as the routers among {@code urls} see it: the highest table version any of them
   * serves (routers that do not answer are kept, to be reported).
   *
   * @throws MeridianException UNAVAILABLE when no router answers, NOT_FOUND when the table has no
   *     such shard
   */
  static ShardRegions of(List<String> urls, int shard, Duration timeout, ClientFactory factory) {
    List<RoutingCommand.Served> routers = RoutingCommand.served(urls, timeout, factory);
    RoutingTableResponse newest =
        routers.stream()
            .map(RoutingCommand.Served::table)
            .filter(t -> t != null)
            .max(Comparator.comparingLong(RoutingTableResponse::getVersion))
            .orElseThrow(
                () ->
                    MeridianException.of(
                        Error.Code.UNAVAILABLE,
                        "no router among %s answered (expected: --endpoints naming the routers)",
                        urls));
    RoutingTable table = RoutingTable.parse(newest.getTable());
    if (table.shard(shard) == null) {
      throw MeridianException.of(
          Error.Code.NOT_FOUND,
          "shard %d: not in routing table version %d (its shards: %s)",
          shard,
          table.version(),
          table.shards().keySet());
    }
    return new ShardRegions(shard, routers, table, timeout, factory);
  }

  RoutingTable.Shard described() {
    return table.shard(shard);
  }

  /**
   * Region {@code name} of the shard.
   *
   * @throws MeridianException INVALID_ARGUMENT naming the shard's regions when it has none such
   */
  RoutingTable.Region region(String name) {
    return described()
        .region(name)
        .orElseThrow(
            () ->
                MeridianException.of(
                    Error.Code.INVALID_ARGUMENT,
                    "region %s: shard %d has none such in routing table version %d (expected: one"
                        + " of %s)",
                    name,
                    shard,
                    table.version(),
                    described().regions().stream().map(RoutingTable.Region::region).toList()));
  }

  /** The highest epoch the table gives any region of the shard. */
  long tableEpoch() {
    return described().regions().stream().mapToLong(RoutingTable.Region::epoch).max().orElse(0);
  }

  /** The table's router URLs that answered (and so serve a version), in the order given. */
  List<String> answering() {
    return routers.stream().filter(r -> r.table() != null).map(RoutingCommand.Served::url).toList();
  }

  /**
   * Calls {@code call} on the members of {@code region} in turn until one answers with anything but
   * UNAVAILABLE.
   */
  <S, T> T call(RoutingTable.Region region, Class<S> stub, Duration deadline, Function<S, T> call) {
    MeridianException last = null;
    for (URI endpoint : region.endpoints()) {
      try {
        S s =
            GrpcClients.builder(endpoint.toString())
                .factory(factory)
                .responseTimeout(deadline)
                .addHeader(ShardHeader.NAME, Integer.toString(shard))
                .build(stub);
        return call.apply(s);
      } catch (StatusRuntimeException e) {
        last = Stubs.failure(e);
        if (last.code() != Error.Code.UNAVAILABLE) {
          throw last;
        }
      }
    }
    throw MeridianException.of(
        Error.Code.UNAVAILABLE,
        "region %s: no member of shard %d answered (%s)",
        region.region(),
        shard,
        last == null ? "it has no endpoints" : last.getMessage());
  }

  <T> T cluster(RoutingTable.Region region, Function<ClusterGrpc.ClusterBlockingStub, T> call) {
    return call(region, ClusterGrpc.ClusterBlockingStub.class, timeout, call);
  }

  /** The region's replication state (revision, chain hash, source position) and its header. */
  ReplicationStatusResponse replication(RoutingTable.Region region, Duration deadline) {
    return call(
        region,
        ReplicationGrpc.ReplicationBlockingStub.class,
        deadline,
        s -> s.replicationStatus(ReplicationStatusRequest.getDefaultInstance()));
  }

  SetRoleResponse setRole(RoutingTable.Region region, SetRoleRequest request) {
    return cluster(region, s -> s.setRole(request));
  }

  /**
   * Serves {@code next} on every router that answered; returns one line per router. Routers that
   * already serve {@code next}'s version or a higher one are left alone (a rerun).
   */
  List<String> apply(RoutingTable next) {
    List<String> lines = new ArrayList<>();
    for (RoutingCommand.Served s : routers) {
      if (s.table() == null) {
        lines.add(s.url() + ": did not answer (" + s.problem() + ")");
        continue;
      }
      if (s.table().getVersion() >= next.version()) {
        lines.add(s.url() + ": serves version " + s.table().getVersion());
        continue;
      }
      try {
        RoutingTableResponse r =
            GrpcClients.builder(s.url())
                .factory(factory)
                .responseTimeout(timeout)
                .build(RouterAdminGrpc.RouterAdminBlockingStub.class)
                .replaceTable(ReplaceTableRequest.newBuilder().setTable(next.text()).build());
        lines.add(s.url() + " (" + r.getRegion() + "): serves version " + r.getVersion());
      } catch (StatusRuntimeException e) {
        MeridianException m = Stubs.failure(e);
        throw MeridianException.of(
            m.code(),
            "router %s did not take routing table version %d: %s",
            s.url(),
            next.version(),
            m.getMessage());
      }
    }
    table = next;
    return lines;
  }

  /** The table at the next version with {@code roles} for this shard at {@code epoch}. */
  RoutingTable next(Map<String, Role> roles, long epoch) {
    return table.withRoles(shard, roles, epoch);
  }
}
