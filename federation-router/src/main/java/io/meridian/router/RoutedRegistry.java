package io.meridian.router;

import static io.meridian.router.Router.byNamespace;
import static io.meridian.serving.Replies.reply;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpResponseWriter;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
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
import io.meridian.api.v1.RegistryGrpc.RegistryStub;
import io.meridian.api.v1.SetHealthRequest;
import io.meridian.api.v1.SetHealthResponse;
import io.meridian.api.v1.WatchServiceRequest;
import io.meridian.api.v1.WatchServiceResponse;
import io.meridian.client.RetryPolicy;
import io.meridian.client.Stubs;
import io.meridian.serving.GrpcErrors;
import io.meridian.serving.JsonLines;
import io.meridian.serving.JsonRequests;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registry through the router. Registrations, heartbeats, health and deregistrations go to the
 * namespace's shard at its primary region. Discover and ListServices read by the consistency asked
 * for, or the namespace's policy when none is ({@code LOCAL} by default): local region first, with
 * fallback, and the last good answer kept for fail-open. WatchService streams, over gRPC and as
 * {@code POST /v1/registry/watch} JSON lines, are relayed from the primary region and resumed after
 * the last revision relayed when the upstream breaks.
 */
final class RoutedRegistry extends RegistryGrpc.RegistryImplBase {
  private static final Logger log = LoggerFactory.getLogger(RoutedRegistry.class);

  /** Failures a new upstream stream would only repeat. */
  private static final Set<Error.Code> FINAL =
      Set.of(
          Error.Code.INVALID_ARGUMENT,
          Error.Code.COMPACTED,
          Error.Code.HISTORY_DIVERGED,
          Error.Code.FUTURE_REVISION,
          Error.Code.UNAUTHENTICATED,
          Error.Code.PERMISSION_DENIED);

  /** Pauses before resuming a broken upstream stream: the client module's. */
  private static final List<Duration> PAUSES = RetryPolicy.ofDefault().pauses();

  private final Router router;

  RoutedRegistry(Router router) {
    this.router = router;
  }

  @Override
  public void register(RegisterRequest req, StreamObserver<RegisterResponse> out) {
    router.forward(
        router.identified(req),
        out,
        byNamespace(req.getNamespace()),
        Stubs::registry,
        RegistryStub::register);
  }

  @Override
  public void heartbeat(HeartbeatRequest req, StreamObserver<HeartbeatResponse> out) {
    router.forward(
        req, out, byNamespace(req.getNamespace()), Stubs::registry, RegistryStub::heartbeat);
  }

  @Override
  public void setHealth(SetHealthRequest req, StreamObserver<SetHealthResponse> out) {
    router.forward(
        router.identified(req),
        out,
        byNamespace(req.getNamespace()),
        Stubs::registry,
        RegistryStub::setHealth);
  }

  @Override
  public void deregister(DeregisterRequest req, StreamObserver<DeregisterResponse> out) {
    router.forward(
        router.identified(req),
        out,
        byNamespace(req.getNamespace()),
        Stubs::registry,
        RegistryStub::deregister);
  }

  @Override
  public void discover(DiscoverRequest given, StreamObserver<DiscoverResponse> out) {
    reply(
        out,
        () -> {
          RoutingTable.Shard shard = byNamespace(given.getNamespace()).apply(router.table());
          Consistency consistency = effective(given.getConsistency(), given.getNamespace());
          DiscoverRequest req = given.toBuilder().setConsistency(consistency).build();
          long waitMs = Limits.discoverWaitMs(req);
          return router.read(
              shard,
              req.getNamespace(),
              consistency,
              req,
              true,
              DiscoverResponse::getDefaultInstance,
              router.deadline(waitMs),
              // A blocking read outlasts any per-attempt timeout: only its deadline bounds it.
              UpstreamCall.of(
                  req,
                  waitMs > 0 ? Stubs::waitingRegistry : Stubs::registry,
                  RegistryStub::discover));
        });
  }

  @Override
  public void listServices(ListServicesRequest given, StreamObserver<ListServicesResponse> out) {
    reply(
        out,
        () -> {
          RoutingTable.Shard shard = byNamespace(given.getNamespace()).apply(router.table());
          Consistency consistency = effective(given.getConsistency(), given.getNamespace());
          ListServicesRequest req = given.toBuilder().setConsistency(consistency).build();
          return router.read(
              shard,
              req.getNamespace(),
              consistency,
              req,
              true,
              ListServicesResponse::getDefaultInstance,
              router.deadline(),
              UpstreamCall.of(req, Stubs::registry, RegistryStub::listServices));
        });
  }

  private Consistency effective(Consistency asked, String namespace) {
    return asked == Consistency.CONSISTENCY_UNSPECIFIED || asked == Consistency.UNRECOGNIZED
        ? router.config().policy(namespace).discover()
        : asked;
  }

  @Override
  public void watchService(WatchServiceRequest req, StreamObserver<WatchServiceResponse> out) {
    ServiceRequestContext.current().clearRequestTimeout();
    try {
      byNamespace(req.getNamespace()).apply(router.table());
    } catch (MeridianException e) {
      out.onError(e);
      return;
    }
    ServerCallStreamObserver<WatchServiceResponse> call =
        (ServerCallStreamObserver<WatchServiceResponse>) out;
    ServiceWatch watch = new ServiceWatch(req, call::onNext, call::onError);
    call.setOnCancelHandler(watch::cancel);
    watch.connect();
  }

  /**
   * {@code POST /v1/registry/watch}, as on a node: one relayed service watch from a JSON {@link
   * WatchServiceRequest}, its responses as JSON lines until the client hangs up; a watch that fails
   * for good ends with a line that carries the error.
   */
  HttpService httpWatch() {
    return (ctx, req) -> {
      ctx.clearRequestTimeout();
      return HttpResponse.of(req.aggregate().thenApply(body -> startHttp(body.contentUtf8())));
    };
  }

  private HttpResponse startHttp(String json) {
    WatchServiceRequest request;
    try {
      request = JsonRequests.parse(json, WatchServiceRequest.newBuilder()).build();
      byNamespace(request.getNamespace()).apply(router.table());
    } catch (MeridianException e) {
      return GrpcErrors.httpResponse(e.toError());
    }
    HttpResponseWriter writer = HttpResponse.streaming();
    writer.write(JsonLines.HEADERS);
    ServiceWatch watch =
        new ServiceWatch(
            request,
            r -> writer.tryWrite(JsonLines.line(r)),
            e -> {
              writer.tryWrite(
                  JsonLines.line(WatchServiceResponse.newBuilder().setError(e.toError()).build()));
              writer.close();
            });
    writer
        .whenComplete()
        .handle(
            (ok, error) -> {
              watch.cancel();
              return null;
            });
    watch.connect();
    return writer;
  }

  /** One relayed service watch, resumed from the revision after the last one relayed. */
  private final class ServiceWatch {
    private final WatchServiceRequest request;
    private final Consumer<WatchServiceResponse> out;
    private final Consumer<MeridianException> failed;
    // Guarded by this: the revision to resume from (0: snapshot first), failures in a row.
    private long next;
    private int failures;
    private boolean ended;
    private ClientCallStreamObserver<WatchServiceRequest> upstream;

    /**
     * @param out takes each response relayed
     * @param failed takes the error the watch ended with; nothing is relayed after it
     */
    ServiceWatch(
        WatchServiceRequest request,
        Consumer<WatchServiceResponse> out,
        Consumer<MeridianException> failed) {
      this.request = request;
      this.out = out;
      this.failed = failed;
      this.next = request.getStartRevision();
    }

    void connect() {
      WatchServiceRequest resumed;
      synchronized (this) {
        if (ended) {
          return;
        }
        resumed = request.toBuilder().setStartRevision(next).build();
      }
      RoutingTable.Shard shard = router.table().shardOf(request.getNamespace());
      Stubs stubs = router.client(shard, shard.primary()).stubs();
      stubs.registryWatch().watchService(resumed, new Relay());
    }

    synchronized void cancel() {
      ended = true;
      if (upstream != null) {
        upstream.cancel("the watcher went away", null);
      }
    }

    private final class Relay
        implements ClientResponseObserver<WatchServiceRequest, WatchServiceResponse> {
      @Override
      public void beforeStart(ClientCallStreamObserver<WatchServiceRequest> call) {
        synchronized (ServiceWatch.this) {
          upstream = call;
        }
      }

      @Override
      public void onNext(WatchServiceResponse r) {
        synchronized (ServiceWatch.this) {
          if (ended) {
            // The watcher went away before this upstream call had started: end it now.
            upstream.cancel("the watcher went away", null);
            return;
          }
          failures = 0;
          next = Math.max(next, r.getHeader().getRevision() + 1);
          out.accept(r);
        }
      }

      @Override
      public void onError(Throwable t) {
        MeridianException e = Stubs.failure(t);
        long delay;
        synchronized (ServiceWatch.this) {
          if (ended) {
            return;
          }
          if (FINAL.contains(e.code())) {
            ended = true;
            failed.accept(e);
            return;
          }
          delay = PAUSES.get(Math.min(failures, PAUSES.size() - 1)).toMillis();
          failures++;
        }
        log.info(
            "service watch {}/{}: {}; resuming from revision {} in {} ms",
            request.getNamespace(),
            request.getService(),
            e.getMessage(),
            next,
            delay);
        router.timer().schedule(ServiceWatch.this::connect, delay, TimeUnit.MILLISECONDS);
      }

      @Override
      public void onCompleted() {
        onError(MeridianException.of(Error.Code.UNAVAILABLE, "the member ended the stream"));
      }
    }
  }
}
