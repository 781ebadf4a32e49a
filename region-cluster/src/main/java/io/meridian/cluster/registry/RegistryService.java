package io.meridian.cluster.registry;

import com.linecorp.armeria.common.util.TimeoutMode;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.stub.StreamObserver;
import io.meridian.api.Limits;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DeregisterRequest;
import io.meridian.api.v1.DeregisterResponse;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.HeartbeatRequest;
import io.meridian.api.v1.HeartbeatResponse;
import io.meridian.api.v1.ListServicesRequest;
import io.meridian.api.v1.ListServicesResponse;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.RegisterResponse;
import io.meridian.api.v1.RegistryGrpc;
import io.meridian.api.v1.SetHealthRequest;
import io.meridian.api.v1.SetHealthResponse;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchResponse;
import io.meridian.api.v1.WatchServiceRequest;
import io.meridian.api.v1.WatchServiceResponse;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.Calls;
import io.meridian.cluster.internal.Shards;
import io.meridian.cluster.kv.KvService;
import io.meridian.cluster.lease.LeaseService;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.cluster.proto.RegistryRegister;
import io.meridian.cluster.watch.WatchReplica;
import io.meridian.cluster.watch.WatchService;
import io.meridian.cluster.watch.WatchSink;
import io.meridian.cluster.watch.WatchStream;
import io.meridian.serving.Replies;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * The service registry. Instances are keys of their namespace's shard bound to leases, so register,
 * set-health and deregister are Raft writes; a heartbeat is a lease keep-alive answered by the
 * leader from memory; discovery reads this member's applied state unless the caller asks for
 * LINEARIZABLE. A blocking Discover and WatchService ride on the member's watch hub.
 */
public final class RegistryService extends RegistryGrpc.RegistryImplBase {
  private final Shards<? extends WatchReplica> shards;
  private final NodeConfig config;

  private final RegistryWatch watches;

  public RegistryService(
      Shards<? extends WatchReplica> shards, NodeConfig config, MeterRegistry metrics) {
    this.shards = shards;
    this.config = config;
    this.watches =
        new RegistryWatch(
            shards, config.watch().maxPendingBytes(), WatchService.slowConsumers(metrics));
  }

  @Override
  public void register(RegisterRequest request, StreamObserver<RegisterResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          KvService.checkSize(request);
          long ttlMs =
              request.getLease() != 0
                  ? 0
                  : LeaseService.ttlMs(
                      request.getTtl(), config.registry().defaultTtlSeconds(), config.lease());
          WatchReplica replica = shards.forRequest();
          return Calls.propose(
              replica,
              Command.newBuilder()
                  .setRequestId(request.getRequestId())
                  .setRegistryRegister(
                      RegistryRegister.newBuilder().setRequest(request).setTtlMs(ttlMs))
                  .build(),
              CommandResult::getRegistryRegister);
        });
  }

  @Override
  public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> observer) {
    Calls.readAtLeader(
        observer,
        shards::forRequest,
        Query.newBuilder().setRegistryHeartbeat(request).build(),
        QueryResult::getRegistryHeartbeat);
  }

  @Override
  public void setHealth(SetHealthRequest request, StreamObserver<SetHealthResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          KvService.checkSize(request);
          WatchReplica replica = shards.forRequest();
          return Calls.propose(
              replica,
              Command.newBuilder()
                  .setRequestId(request.getRequestId())
                  .setRegistrySetHealth(request)
                  .build(),
              CommandResult::getRegistrySetHealth);
        });
  }

  @Override
  public void deregister(DeregisterRequest request, StreamObserver<DeregisterResponse> observer) {
    Calls.propose(
        observer,
        shards::forRequest,
        Command.newBuilder()
            .setRequestId(request.getRequestId())
            .setRegistryDeregister(request)
            .build(),
        CommandResult::getRegistryDeregister);
  }

  @Override
  public void discover(DiscoverRequest request, StreamObserver<DiscoverResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          WatchReplica replica = shards.forRequest();
          if (request.getWaitRevision() < 0) {
            throw MeridianException.of(
                Error.Code.INVALID_ARGUMENT,
                "wait_revision: %d (expected: >= 0)",
                request.getWaitRevision());
          }
          if (request.getWaitRevision() == 0) {
            return discoverNow(replica, request);
          }
          long waitMs = Limits.discoverWaitMs(request);
          if (waitMs < 0 || waitMs > Limits.MAX_DISCOVER_WAIT_MS) {
            throw MeridianException.of(
                Error.Code.INVALID_ARGUMENT,
                "wait_ms: %d (expected: 0..%d; 0 waits %d)",
                request.getWaitMs(),
                Limits.MAX_DISCOVER_WAIT_MS,
                Limits.DEFAULT_DISCOVER_WAIT_MS);
          }
          ServiceRequestContext ctx = ServiceRequestContext.current();
          ctx.setRequestTimeout(
              TimeoutMode.SET_FROM_NOW, java.time.Duration.ofMillis(waitMs + 10_000));
          return untilChanged(replica, request, waitMs, ctx.eventLoop())
              .thenCompose(ignored -> discoverNow(replica, request));
        });
  }

  private static CompletableFuture<DiscoverResponse> discoverNow(
      WatchReplica replica, DiscoverRequest request) {
    return Calls.read(
        replica,
        Query.newBuilder().setRegistryDiscover(request).build(),
        localByDefault(request.getConsistency()),
        QueryResult::getRegistryDiscover);
  }

  /** Discovery favours availability: unless the caller says otherwise, LOCAL. */
  private static Consistency localByDefault(Consistency requested) {
    return requested == Consistency.CONSISTENCY_UNSPECIFIED ? Consistency.LOCAL : requested;
  }

  /**
   * Completes when an instance of the service changes after {@code request.wait_revision}, or after
   * {@code waitMs}, or at once if that revision's history is compacted.
   */
  private static CompletableFuture<Void> untilChanged(
      WatchReplica replica, DiscoverRequest request, long waitMs, Executor executor) {
    CompletableFuture<Void> changed = new CompletableFuture<>();
    WatchStream stream =
        new WatchStream(
            new WatchSink() {
              @Override
              public Executor executor() {
                return executor;
              }

              @Override
              public boolean isReady() {
                return true;
              }

              @Override
              public void send(WatchResponse response) {
                if (response.getEventsCount() > 0 || response.getCanceled()) {
                  changed.complete(null);
                }
              }

              @Override
              public void onReady(Runnable drain) {}

              @Override
              public void fail(MeridianException error) {
                changed.complete(null);
              }
            },
            1 << 20,
            () -> {});
    try {
      replica
          .watchHub()
          .create(
              stream,
              WatchCreateRequest.newBuilder()
                  .setKey(RegistryIndex.servicePrefix(request.getNamespace(), request.getService()))
                  .setPrefix(true)
                  .setStartRevision(request.getWaitRevision() + 1)
                  .build());
    } catch (MeridianException e) {
      // Compacted or no leader: answer now; the caller sees the current state and revision.
      stream.close();
      return CompletableFuture.completedFuture(null);
    }
    return changed
        .completeOnTimeout(null, waitMs, TimeUnit.MILLISECONDS)
        .whenComplete((v, t) -> stream.close());
  }

  @Override
  public void listServices(
      ListServicesRequest request, StreamObserver<ListServicesResponse> observer) {
    Calls.read(
        observer,
        shards::forRequest,
        Query.newBuilder().setRegistryList(request).build(),
        localByDefault(request.getConsistency()),
        QueryResult::getRegistryList);
  }

  /**
   * The instance set of a service (unless resuming from a revision), then each change as UP,
   * UPDATED or DOWN, from this member's applied state.
   */
  @Override
  public void watchService(
      WatchServiceRequest request, StreamObserver<WatchServiceResponse> responses) {
    watches.watch(request, responses);
  }

  /** {@code POST /v1/registry/watch}: {@link #watchService} as JSON lines. */
  public HttpService httpWatch() {
    return watches.http();
  }
}
