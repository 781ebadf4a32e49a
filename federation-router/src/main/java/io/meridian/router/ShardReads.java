package io.meridian.router;

import com.google.protobuf.Message;
import io.grpc.Deadline;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.serving.Headers;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends calls to the regions {@link RoutingPolicy} chooses: a write or strong read to the shard's
 * PRIMARY region; a LOCAL or CACHED read to each region of its read order in turn, until one
 * answers within the namespace's staleness limit (as the {@code lag_*} fields its answer is marked
 * with say), each region but the last given at most {@code reads.region-timeout-ms}. A failure that
 * stands for unavailability names the shard and the region.
 */
final class ShardReads implements ShardReader {
  private static final Logger log = LoggerFactory.getLogger(ShardReads.class);

  private final RoutingPolicy routing;
  private final RegionClient regions;
  private final long regionTimeoutMs;
  private final Deadline.Ticker clock;
  private final LongSupplier tableVersion;
  private final RouterMeters meters;

  ShardReads(
      RoutingPolicy routing,
      RegionClient regions,
      long regionTimeoutMs,
      Deadline.Ticker clock,
      LongSupplier tableVersion,
      RouterMeters meters) {
    this.routing = routing;
    this.regions = regions;
    this.regionTimeoutMs = regionTimeoutMs;
    this.clock = clock;
    this.tableVersion = tableVersion;
    this.meters = meters;
  }

  @Override
  public <R extends Message> CompletableFuture<R> read(Read<R> read) {
    return RoutingPolicy.localFirst(read.consistency())
        ? local(read)
        : primary(read.shard(), read.deadline(), read.call());
  }

  /** Sends {@code call} to the shard's PRIMARY region. */
  <R extends Message> CompletableFuture<R> primary(
      RoutingTable.Shard shard, Deadline deadline, UpstreamCall<R> call) {
    RoutingTable.Region region = shard.primary();
    return regions
        .execute(
            new RegionClient.Request<>(RegionClient.Route.PRIMARY, shard, region, deadline, call))
        .exceptionally(
            e -> {
              throw inRegion(e, shard, region);
            });
  }

  /** Local region first, then the others by preference; stale answers count as missing. */
  private <R extends Message> CompletableFuture<R> local(Read<R> read) {
    List<RoutingTable.Region> order = routing.readOrder(read.shard());
    if (order.isEmpty()) {
      return CompletableFuture.failedFuture(
          MeridianException.of(
              Error.Code.UNAVAILABLE,
              "shard %d: every region is FENCED in routing table version %d",
              read.shard().id(),
              tableVersion.getAsLong()));
    }
    CompletableFuture<R> result = new CompletableFuture<>();
    tryRegion(read, order, 0, null, result);
    return result;
  }

  private <R extends Message> void tryRegion(
      Read<R> read,
      List<RoutingTable.Region> order,
      int i,
      R staleBest,
      CompletableFuture<R> result) {
    RoutingTable.Shard shard = read.shard();
    RouterConfig.Policy policy = read.policy();
    Deadline deadline = read.deadline();
    RoutingTable.Region region = order.get(i);
    Deadline bound =
        RoutingPolicy.boundedByRegionTimeout(order, i)
            ? Deadline.after(regionTimeoutMs, TimeUnit.MILLISECONDS, clock).minimum(deadline)
            : deadline;
    regions
        .execute(
            new RegionClient.Request<>(RegionClient.Route.LOCAL, shard, region, bound, read.call()))
        .whenComplete(
            (answer, failure) -> {
              if (failure != null) {
                MeridianException e = Router.unwrap(failure);
                switch (RoutingPolicy.afterFailure(
                    order, i, e.code(), deadline.isExpired(), staleBest != null, policy)) {
                  case FALL_BACK -> {
                    fellBack(region, order.get(i + 1), "unavailable", shard);
                    tryRegion(read, order, i + 1, staleBest, result);
                  }
                  case ANSWER -> result.complete(staleBest);
                  default -> result.completeExceptionally(inRegion(e, shard, region));
                }
                return;
              }
              PrimaryProgress.Lag lag = PrimaryProgress.Lag.of(Headers.of(answer));
              switch (RoutingPolicy.afterAnswer(order, i, lag, deadline.isExpired(), policy)) {
                case FALL_BACK -> {
                  fellBack(region, order.get(i + 1), "stale", shard);
                  tryRegion(read, order, i + 1, RoutingPolicy.kept(staleBest, answer), result);
                }
                case REFUSE_STALE -> result.completeExceptionally(tooStale(shard, policy, lag));
                default -> result.complete(RoutingPolicy.chosen(staleBest, answer));
              }
            });
  }

  private static MeridianException tooStale(
      RoutingTable.Shard shard, RouterConfig.Policy policy, PrimaryProgress.Lag lag) {
    return MeridianException.of(
        Error.Code.UNAVAILABLE,
        "shard %d: no region answered within the staleness limit of namespace policy (%d"
            + " revisions, %d ms); the freshest was %d revisions, %d ms behind the primary",
        shard.id(),
        policy.maxStalenessRevisions(),
        policy.maxStalenessMs(),
        lag.revisions(),
        lag.millis());
  }

  private void fellBack(
      RoutingTable.Region from, RoutingTable.Region to, String reason, RoutingTable.Shard shard) {
    meters.count(
        "meridian.router.fallbacks", "from", from.region(), "to", to.region(), "reason", reason);
    log.debug("shard {}: LOCAL read falls back from {} to {} ({})", shard.id(), from, to, reason);
  }

  /** The failure, its message saying which region cluster failed when it is unavailability. */
  static MeridianException inRegion(
      Throwable failure, RoutingTable.Shard shard, RoutingTable.Region region) {
    MeridianException e = Router.unwrap(failure);
    if (!RoutingPolicy.REGION_DOWN.contains(e.code())) {
      return e;
    }
    Error error = e.toError();
    return MeridianException.fromError(
        error.toBuilder()
            .setMessage(
                "shard " + shard.id() + ", region " + region.region() + ": " + error.getMessage())
            .putDetails("shard", Integer.toString(shard.id()))
            .putDetails("region", region.region())
            .build());
  }
}
