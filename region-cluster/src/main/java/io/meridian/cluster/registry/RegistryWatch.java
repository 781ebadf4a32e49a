package io.meridian.cluster.registry;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpResponseWriter;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.InstanceEvent;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchResponse;
import io.meridian.api.v1.WatchServiceRequest;
import io.meridian.api.v1.WatchServiceResponse;
import io.meridian.cluster.internal.Calls;
import io.meridian.cluster.internal.Shards;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.watch.GrpcWatchSink;
import io.meridian.cluster.watch.HttpWatchSink;
import io.meridian.cluster.watch.WatchReplica;
import io.meridian.cluster.watch.WatchStream;
import io.meridian.serving.GrpcErrors;
import io.meridian.serving.JsonLines;
import io.meridian.serving.JsonRequests;
import io.micrometer.core.instrument.Counter;

/**
 * Watches of a service's instances, over gRPC ({@code Registry.WatchService}) and HTTP ({@code POST
 * /v1/registry/watch}, JSON lines). A watch is a prefix watch of the service's keys on this
 * member's watch hub, with each key event turned into an instance event that carries the decoded
 * instance (and the one it replaced or removed), so watchers never see the stored encoding. Unless
 * it resumes from a revision, the instance set at a revision R comes first and the changes from R +
 * 1 follow, none missed and none repeated.
 */
final class RegistryWatch {
  private final Shards<? extends WatchReplica> shards;
  private final long maxPendingBytes;
  private final Counter slowConsumers;

  RegistryWatch(
      Shards<? extends WatchReplica> shards, long maxPendingBytes, Counter slowConsumers) {
    this.shards = shards;
    this.maxPendingBytes = maxPendingBytes;
    this.slowConsumers = slowConsumers;
  }

  /**
   * The instance set of a service (unless resuming from a revision), then each change as UP,
   * UPDATED or DOWN, from this member's applied state.
   */
  void watch(WatchServiceRequest request, StreamObserver<WatchServiceResponse> responses) {
    ServiceRequestContext ctx = ServiceRequestContext.current();
    ctx.clearRequestTimeout();
    ServerCallStreamObserver<WatchServiceResponse> call =
        (ServerCallStreamObserver<WatchServiceResponse>) responses;
    try {
      ServiceWatch watch = serviceWatch(request);
      WatchStream stream =
          new WatchStream(
              new GrpcWatchSink<>(call, ctx.eventLoop(), RegistryWatch::instanceChanges),
              maxPendingBytes,
              slowConsumers::increment);
      call.setOnCancelHandler(stream::close);
      if (watch.snapshot() != null) {
        call.onNext(watch.snapshot());
      }
      watch.replica().watchHub().create(stream, watch.keys());
    } catch (MeridianException e) {
      responses.onError(e);
    }
  }

  /**
   * {@code POST /v1/registry/watch}: {@link #watch} over HTTP, one JSON {@link WatchServiceRequest}
   * in, its responses as JSON lines until the client hangs up. A watch that fails once streaming
   * ends with a line that carries the error.
   */
  HttpService http() {
    return (ctx, req) -> {
      ctx.clearRequestTimeout();
      return HttpResponse.of(req.aggregate().thenApply(body -> startHttp(ctx, body.contentUtf8())));
    };
  }

  private HttpResponse startHttp(ServiceRequestContext ctx, String json) {
    ServiceWatch watch;
    try {
      watch = serviceWatch(JsonRequests.parse(json, WatchServiceRequest.newBuilder()).build());
    } catch (MeridianException e) {
      return GrpcErrors.httpResponse(e.toError());
    }
    HttpResponseWriter writer = HttpResponse.streaming();
    WatchStream stream =
        new WatchStream(
            new HttpWatchSink(
                writer, ctx.eventLoop(), RegistryWatch::instanceChanges, RegistryWatch::failed),
            maxPendingBytes,
            slowConsumers::increment);
    // Written before the watch starts, so they precede its first event.
    writer.write(JsonLines.HEADERS);
    if (watch.snapshot() != null) {
      writer.write(JsonLines.line(watch.snapshot()));
    }
    try {
      watch.replica().watchHub().create(stream, watch.keys());
    } catch (MeridianException e) {
      stream.close();
      writer.abort();
      return GrpcErrors.httpResponse(e.toError());
    }
    writer.whenComplete().handle((ok, error) -> stream.close());
    return writer;
  }

  /** The last line of an HTTP registry watch that failed. */
  private static WatchServiceResponse failed(MeridianException e) {
    return WatchServiceResponse.newBuilder().setError(e.toError()).build();
  }

  /**
   * What a service watch needs before it starts: the replica that serves it, the instance set to
   * send first (null when resuming) and the watch of the service's keys that follows it.
   */
  private record ServiceWatch(
      WatchReplica replica, WatchServiceResponse snapshot, WatchCreateRequest keys) {}

  private ServiceWatch serviceWatch(WatchServiceRequest request) {
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
    WatchCreateRequest keys =
        WatchCreateRequest.newBuilder()
            .setKey(RegistryIndex.servicePrefix(request.getNamespace(), request.getService()))
            .setPrefix(true)
            .setPrevKv(true)
            .setProgressNotify(true)
            .setStartRevision(start)
            .build();
    return new ServiceWatch(replica, snapshot, keys);
  }

  private static WatchServiceResponse snapshot(WatchReplica replica, DiscoverResponse now) {
    WatchServiceResponse.Builder b =
        WatchServiceResponse.newBuilder()
            .setHeader(replica.header(now.getHeader()))
            .setSnapshot(true);
    for (Instance i : now.getInstancesList()) {
      b.addEvents(
          InstanceEvent.newBuilder()
              .setType(InstanceEvent.Type.UP)
              .setInstance(i)
              .setRevision(i.getModRevision()));
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
      InstanceEvent.Builder ie = InstanceEvent.newBuilder().setRevision(e.getKv().getModRevision());
      if (e.getType() == Event.EventType.DELETE) {
        Instance last =
            e.hasPrevKv()
                ? RegistryIndex.instanceOf(e.getPrevKv())
                : RegistryIndex.instanceOf(e.getKv());
        ie.setType(InstanceEvent.Type.DOWN).setInstance(last).setPrevInstance(last);
      } else {
        ie.setInstance(RegistryIndex.instanceOf(e.getKv()));
        if (e.hasPrevKv()) {
          ie.setType(InstanceEvent.Type.UPDATED)
              .setPrevInstance(RegistryIndex.instanceOf(e.getPrevKv()));
        } else {
          ie.setType(InstanceEvent.Type.UP);
        }
      }
      b.addEvents(ie);
    }
    return b.build();
  }
}
