package io.meridian.cluster.watch;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpResponseWriter;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchGrpc;
import io.meridian.api.v1.WatchRequest;
import io.meridian.api.v1.WatchResponse;
import io.meridian.cluster.internal.Shards;
import io.meridian.serving.GrpcErrors;
import io.meridian.serving.JsonLines;
import io.meridian.serving.JsonRequests;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The Watch service: a bidirectional gRPC stream of many watches, and its HTTP form {@code POST
 * /v1/watch} (one WatchCreateRequest in, WatchResponses out as JSON lines) for curl users. Watches
 * are served by this member from its applied state; the {@code meridian-shard} header picks the
 * shard when the node hosts several.
 */
public final class WatchService extends WatchGrpc.WatchImplBase {
  /** Counts watch streams (Watch and Registry.WatchService) cut off as slow consumers. */
  public static final String SLOW_CONSUMERS = "meridian.watch.slow.consumers";

  private final Shards<? extends WatchReplica> shards;
  private final long maxPendingBytes;
  private final Counter slowConsumers;

  public WatchService(
      Shards<? extends WatchReplica> shards, long maxPendingBytes, MeterRegistry metrics) {
    this.shards = shards;
    this.maxPendingBytes = maxPendingBytes;
    this.slowConsumers = slowConsumers(metrics);
  }

  /** The counter of {@link #SLOW_CONSUMERS}, which Watch and Registry.WatchService share. */
  public static Counter slowConsumers(MeterRegistry metrics) {
    return Counter.builder(SLOW_CONSUMERS)
        .description("Watch streams cut off because their consumer fell too far behind")
        .register(metrics);
  }

  @Override
  public StreamObserver<WatchRequest> watch(StreamObserver<WatchResponse> responses) {
    ServiceRequestContext ctx = ServiceRequestContext.current();
    ctx.clearRequestTimeout();
    ServerCallStreamObserver<WatchResponse> call =
        (ServerCallStreamObserver<WatchResponse>) responses;
    WatchReplica replica;
    try {
      replica = shards.forRequest();
    } catch (MeridianException e) {
      responses.onError(e);
      return new StreamObserver<>() {
        @Override
        public void onNext(WatchRequest value) {}

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };
    }
    WatchStream stream =
        new WatchStream(
            new GrpcWatchSink<>(call, ctx.eventLoop(), r -> r),
            maxPendingBytes,
            slowConsumers::increment);
    call.setOnCancelHandler(stream::close);
    return new StreamObserver<>() {
      @Override
      public void onNext(WatchRequest request) {
        switch (request.getRequestCase()) {
          case CREATE_REQUEST -> {
            WatchCreateRequest create = request.getCreateRequest();
            try {
              replica.watchHub().create(stream, create);
            } catch (MeridianException e) {
              replica.watchHub().refuse(stream, create.getWatchId(), e);
            }
          }
          case CANCEL_REQUEST ->
              replica.watchHub().cancel(stream, request.getCancelRequest().getWatchId());
          case PROGRESS_REQUEST -> replica.watchHub().progress(stream);
          case REQUEST_NOT_SET ->
              replica
                  .watchHub()
                  .refuse(
                      stream,
                      0,
                      MeridianException.of(
                          Error.Code.INVALID_ARGUMENT,
                          "request: empty (expected: create_request, cancel_request or"
                              + " progress_request)"));
        }
      }

      @Override
      public void onError(Throwable t) {
        stream.close();
      }

      @Override
      public void onCompleted() {
        stream.close();
        ctx.eventLoop().execute(responses::onCompleted);
      }
    };
  }

  /** {@code POST /v1/watch}: one watch, its responses as JSON lines until the client hangs up. */
  public HttpService http() {
    return (ctx, req) -> {
      ctx.clearRequestTimeout();
      return HttpResponse.of(req.aggregate().thenApply(body -> startHttp(ctx, body.contentUtf8())));
    };
  }

  private HttpResponse startHttp(ServiceRequestContext ctx, String json) {
    WatchCreateRequest request;
    WatchReplica replica;
    try {
      request = JsonRequests.parse(json, WatchCreateRequest.newBuilder()).build();
      replica = shards.forRequest();
    } catch (MeridianException e) {
      return GrpcErrors.httpResponse(e.toError());
    }
    HttpResponseWriter writer = HttpResponse.streaming();
    WatchStream stream =
        new WatchStream(
            new HttpWatchSink(
                writer,
                ctx.eventLoop(),
                r -> r,
                e -> WatchResponse.newBuilder().setCanceled(true).setError(e.toError()).build()),
            maxPendingBytes,
            slowConsumers::increment);
    try {
      replica.watchHub().create(stream, request);
    } catch (MeridianException e) {
      stream.close();
      writer.abort();
      return GrpcErrors.httpResponse(e.toError());
    }
    writer.write(JsonLines.HEADERS);
    writer.whenComplete().handle((ok, error) -> stream.close());
    return writer;
  }
}
