package io.meridian.router;

import com.google.protobuf.Message;
import io.grpc.Deadline;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

/**
 * Sends one request to one region cluster of a shard. {@link UpstreamClient} makes the call;
 * decorators wrap it, Armeria-style ({@code Function<RegionClient, RegionClient>}), to see or
 * change every answer on its way back ({@link PrimaryProber}).
 */
interface RegionClient {
  /** The answer of {@code request}'s region cluster, or its failure as a Meridian error. */
  <R extends Message> CompletableFuture<R> execute(Request<R> request);

  /** Why the router calls a region cluster, as tagged in its metrics ({@code route}). */
  enum Route {
    /** A write, lease, lock or strong read at the shard's PRIMARY region. */
    PRIMARY,
    /** A LOCAL or CACHED read at one of the regions it tries. */
    LOCAL,
    /** A Status or MemberList gathered from every region cluster. */
    STATUS,
    /** The router's own question to a primary, not a client's: neither counted nor guarded. */
    PROBE;

    String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** One call to {@code region}'s cluster of {@code shard}, bounded by {@code deadline}. */
  record Request<R extends Message>(
      Route route,
      RoutingTable.Shard shard,
      RoutingTable.Region region,
      Deadline deadline,
      UpstreamCall<R> call) {}
}
