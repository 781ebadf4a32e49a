package io.meridian.cluster.registry;

import com.linecorp.armeria.common.util.TimeoutMode;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DeregisterRequest;
import io.meridian.api.v1.DeregisterResponse;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.HeartbeatRequest;
import io.meridian.api.v1.HeartbeatResponse;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.InstanceEvent;
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
import io.meridian.cluster.watch.GrpcWatchSink;
import io.meridian.cluster.watch.WatchReplica;
import io.meridian.cluster.watch.WatchService;
import io.meridian.cluster.watch.WatchSink;
import io.meridian.cluster.watch.WatchStream;
import io.meridian.serving.Replies;
import io.micrometer.core.instrument.Counter;
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
  /** Default and longest wait of a blocking Discover. */
  static final long DEFAULT_WAIT_MS = 60_000;

  static final long MAX_WAIT_MS = 300_000;

  private final Shards<? extends WatchReplica> shards;
  private final NodeConfig config;

  private final Counter slowConsumers;

  public RegistryService(
      Shards<? extends WatchReplica> shards, NodeConfig config, MeterRegistry metrics) {
    this.shards = shards;
    this.config = config;
    this.slowConsumers = WatchService.slowConsumers(metrics);
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
          long waitMs = request.getWaitMs() == 0 ? DEFAULT_WAIT_MS : request.getWaitMs();
          if (waitMs < 0 || waitMs > MAX_WAIT_MS) {
            throw MeridianException.of(
                Error.Code.INVALID_ARGUMENT,
                "wait_ms: %d (expected: 0..%d; 0 waits %d)",
                request.getWaitMs(),
                MAX_WAIT_MS,
                DEFAULT_WAIT_MS);
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
    ServiceRequestContext ctx = ServiceRequestContext.current();
    ctx.clearRequestTimeout();
    ServerCallStreamObserver<WatchServiceResponse> call =
        (ServerCallStreamObserver<WatchServiceResponse>) responses;
    try {
      WatchReplica replica = shards.forRequest();
      if (request.getStartRevision() < 0) {
        throw MeridianException.of(
            Error.Code.INVALID_ARGUMENT,
            "start_revision: %d (expected: >= 0)",
            request.getStartRevision());
      }
      long start = request.getStartRevision();
      WatchServiceResponse snapshot = null;
      if (start == 0) {
        DiscoverResponse now =
            Calls.ok(
                    replica.readLocal(
                        Query.newBuilder()
                            .setRegistryDiscover(
                                DiscoverRequest.newBuilder()
                                    .setNamespace(request.getNamespace())
                                    .setService(request.getService()))
                            .build()))
                .getRegistryDiscover();
        snapshot = snapshot(replica, now);
        start = now.getHeader().getRevision() + 1;
      }
      WatchStream stream =
          new WatchStream(
              new GrpcWatchSink<>(call, ctx.eventLoop(), RegistryService::instanceChanges),
              config.watch().maxPendingBytes(),
              slowConsumers::increment);
      call.setOnCancelHandler(stream::close);
      if (snapshot != null) {
        call.onNext(snapshot);
      }
      replica
          .watchHub()
          .create(
              stream,
              WatchCreateRequest.newBuilder()
                  .setKey(RegistryIndex.servicePrefix(request.getNamespace(), request.getService()))
                  .setPrefix(true)
                  .setPrevKv(true)
                  .setProgressNotify(true)
                  .setStartRevision(start)
                  .build());
    } catch (MeridianException e) {
      responses.onError(e);
    }
  }

  private static WatchServiceResponse snapshot(WatchReplica replica, DiscoverResponse now) {
    WatchServiceResponse.Builder b =
        WatchServiceResponse.newBuilder()
            .setHeader(replica.header(now.getHeader()))
            .setSnapshot(true);
    for (Instance i : now.getInstancesList()) {
      b.addEvents(InstanceEvent.newBuilder().setType(InstanceEvent.Type.UP).setInstance(i));
    }
    return b.build();
  }

  /** Key events of the service's prefix as instance events; a failed watch fails the stream. */
  private static WatchServiceResponse instanceChanges(WatchResponse r) {
    if (r.getCanceled()) {
      throw r.hasError()
          ? MeridianException.fromError(r.getError())
          : MeridianException.of(Error.Code.UNAVAILABLE, "watch ended");
    }
    if (r.getCreated()) {
      return null;
    }
    WatchServiceResponse.Builder b =
        WatchServiceResponse.newBuilder().setHeader(r.getHeader()).setProgress(r.getProgress());
    for (Event e : r.getEventsList()) {
      InstanceEvent.Builder ie = InstanceEvent.newBuilder();
      if (e.getType() == Event.EventType.DELETE) {
        ie.setType(InstanceEvent.Type.DOWN)
            .setInstance(
                e.hasPrevKv()
                    ? RegistryIndex.instanceOf(e.getPrevKv())
                    : RegistryIndex.instanceOf(e.getKv()));
      } else {
        ie.setType(e.hasPrevKv() ? InstanceEvent.Type.UPDATED : InstanceEvent.Type.UP)
            .setInstance(RegistryIndex.instanceOf(e.getKv()));
      }
      b.addEvents(ie);
    }
    return b.build();
  }
}
