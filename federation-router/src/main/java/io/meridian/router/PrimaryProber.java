package io.meridian.router;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Message;
import io.grpc.Deadline;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.ShardStatus;
import io.meridian.api.v1.StatusRequest;
import io.meridian.api.v1.StatusResponse;
import io.meridian.client.Stubs;
import io.meridian.serving.Headers;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decorates a {@link RegionClient} with what the router knows of each shard's primary ({@link
 * PrimaryProgress}): every answer from a PRIMARY region (writes included) is news of how far the
 * primary has got; every answer from another region leaves marked with how stale it may be ({@code
 * lag_revisions}, {@code lag_ms}), which is what {@link RoutingPolicy} judges it by. Built with
 * {@link Builder#probeEvery}, it also asks each shard's primary for its {@code Status} at that
 * interval, so the figures stay fresh while no client writes; those probes go through the decorated
 * client as {@link RegionClient.Route#PROBE}. Status gathering passes by unmarked.
 *
 * <pre>{@code
 * PrimaryProber prober =
 *     PrimaryProber.builder(new PrimaryProgress(ticker))
 *         .probeEvery(Duration.ofSeconds(1), timer, servedTable::current, Deadlines.ticker(ticker))
 *         .newDecorator()
 *         .apply(upstreamClient);
 * }</pre>
 */
final class PrimaryProber implements RegionClient, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PrimaryProber.class);

  private static final UpstreamCall<StatusResponse> STATUS =
      UpstreamCall.of(
          StatusRequest.getDefaultInstance(), Stubs::cluster, ClusterGrpc.ClusterStub::status);

  private final RegionClient delegate;
  private final PrimaryProgress progress;
  private final Supplier<RoutingTable> table;
  private final Deadline.Ticker clock;
  private final Duration probeTimeout;
  private final ScheduledFuture<?> probes;

  PrimaryProber(RegionClient delegate, Builder b) {
    this.delegate = requireNonNull(delegate, "delegate");
    this.progress = b.progress;
    this.table = b.table;
    this.clock = b.clock;
    this.probeTimeout = b.probeTimeout;
    this.probes =
        b.timer == null
            ? null
            : b.timer.scheduleWithFixedDelay(
                this::probe, 0, b.interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** A decorator that observes and marks answers but sends no probes. */
  static Function<RegionClient, PrimaryProber> newDecorator(PrimaryProgress progress) {
    return builder(progress).newDecorator();
  }

  static Builder builder(PrimaryProgress progress) {
    return new Builder(progress);
  }

  /** What this router has seen of each shard's primary. */
  PrimaryProgress progress() {
    return progress;
  }

  @Override
  public <R extends Message> CompletableFuture<R> execute(Request<R> request) {
    CompletableFuture<R> answer = delegate.execute(request);
    RegionClient.Route route = request.route();
    if (route == Route.STATUS || route == Route.PROBE) {
      return answer;
    }
    int shard = request.shard().id();
    if (request.region().role() == Role.PRIMARY) {
      return answer.thenApply(
          r -> {
            progress.observe(shard, Headers.of(r).getRevision());
            return r;
          });
    }
    return answer.thenApply(
        r -> Headers.with(r, h -> lagged(h, progress.lag(shard, h.getRevision()))));
  }

  /** Asks the primary of every shard of the table served for its revision. */
  void probe() {
    for (RoutingTable.Shard shard : table.get().shards().values()) {
      if (!shard.hasPrimary()) {
        continue; // A failover is under way: nothing takes writes to measure lag against.
      }
      Deadline deadline = Deadline.after(probeTimeout.toMillis(), TimeUnit.MILLISECONDS, clock);
      try {
        delegate
            .execute(new Request<>(Route.PROBE, shard, shard.primary(), deadline, STATUS))
            .thenAccept(
                status -> {
                  for (ShardStatus s : status.getShardsList()) {
                    if (s.getHeader().getShard() == shard.id()) {
                      progress.observe(shard.id(), s.getHeader().getRevision());
                    }
                  }
                })
            .exceptionally(
                e -> {
                  log.debug("shard {}: primary probe failed: {}", shard.id(), e.toString());
                  return null;
                });
      } catch (RuntimeException e) {
        log.warn("shard {}: primary probe failed: {}", shard.id(), e.toString());
      }
    }
  }

  private static ResponseHeader lagged(ResponseHeader h, PrimaryProgress.Lag lag) {
    return h.toBuilder().setLagRevisions(lag.revisions()).setLagMs(lag.millis()).build();
  }

  /** Stops the probes; calls already made finish. */
  @Override
  public void close() {
    if (probes != null) {
      probes.cancel(false);
    }
  }

  /** Configures a {@link PrimaryProber}; without {@link #probeEvery} it sends no probes. */
  static final class Builder {
    private final PrimaryProgress progress;
    private ScheduledExecutorService timer;
    private Duration interval;
    private Supplier<RoutingTable> table;
    private Deadline.Ticker clock;
    private Duration probeTimeout = Duration.ofSeconds(2);

    private Builder(PrimaryProgress progress) {
      this.progress = requireNonNull(progress, "progress");
    }

    /**
     * Probes the primary of every shard of {@code table}'s current table every {@code interval}, on
     * {@code timer}, the first time at once; probe deadlines are read on {@code clock}.
     */
    Builder probeEvery(
        Duration interval,
        ScheduledExecutorService timer,
        Supplier<RoutingTable> table,
        Deadline.Ticker clock) {
      if (interval.isZero() || interval.isNegative()) {
        throw new IllegalArgumentException("interval: " + interval + " (expected: > 0)");
      }
      this.interval = interval;
      this.timer = requireNonNull(timer, "timer");
      this.table = requireNonNull(table, "table");
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /** How long a probe may take ({@code reads.region-timeout-ms}); 2 s by default. */
    Builder probeTimeout(Duration timeout) {
      if (timeout.isZero() || timeout.isNegative()) {
        throw new IllegalArgumentException("probeTimeout: " + timeout + " (expected: > 0)");
      }
      this.probeTimeout = timeout;
      return this;
    }

    /** The decorator; each client it decorates probes on its own schedule until closed. */
    Function<RegionClient, PrimaryProber> newDecorator() {
      return delegate -> new PrimaryProber(delegate, this);
    }
  }
}
