package io.meridian.router;

import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpResponseWriter;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchGrpc;
import io.meridian.api.v1.WatchRequest;
import io.meridian.api.v1.WatchResponse;
import io.meridian.client.WatchClient;
import io.meridian.serving.GrpcErrors;
import io.meridian.serving.JsonLines;
import io.meridian.serving.JsonRequests;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Watches through the router. Each watch of a client's stream is relayed from the primary region of
 * its key's shard by the client module's {@link WatchClient}, which resumes it on another member
 * from the revision after the last one relayed when its upstream fails, so the client sees every
 * event once, in order. A watch whose keys span shards is refused (each shard has its own
 * revisions). A progress request is answered by the router with each watch's relayed position.
 * {@code POST /v1/watch} serves one watch as JSON lines, as a node does.
 */
final class RoutedWatch extends WatchGrpc.WatchImplBase {
  private final Router router;

  RoutedWatch(Router router) {
    this.router = router;
  }

  @Override
  public StreamObserver<WatchRequest> watch(StreamObserver<WatchResponse> responses) {
    ServiceRequestContext.current().clearRequestTimeout();
    return new Stream((ServerCallStreamObserver<WatchResponse>) responses);
  }

  /** One client stream and its watches. */
  private final class Stream implements StreamObserver<WatchRequest> {
    private final ServerCallStreamObserver<WatchResponse> out;
    // Guarded by this.
    private final Map<Long, WatchClient.Watching> watches = new HashMap<>();
    private long nextId = 1;
    private boolean ended;

    Stream(ServerCallStreamObserver<WatchResponse> out) {
      this.out = out;
      out.setOnCancelHandler(this::closeAll);
    }

    @Override
    public void onNext(WatchRequest req) {
      switch (req.getRequestCase()) {
        case CREATE_REQUEST -> create(req.getCreateRequest());
        case CANCEL_REQUEST -> cancel(req.getCancelRequest().getWatchId());
        case PROGRESS_REQUEST -> progress();
        default ->
            send(
                WatchResponse.newBuilder()
                    .setCanceled(true)
                    .setError(
                        Error.newBuilder()
                            .setCode(Error.Code.INVALID_ARGUMENT)
                            .setMessage(
                                "watch request: empty (expected: create, cancel or progress)"))
                    .build());
      }
    }

    private void create(WatchCreateRequest c) {
      long id;
      synchronized (this) {
        if (ended) {
          return;
        }
        if (c.getWatchId() != 0 && watches.containsKey(c.getWatchId())) {
          refuse(
              c.getWatchId(),
              MeridianException.of(
                  Error.Code.INVALID_ARGUMENT,
                  "watch_id: %d is already in use on this stream",
                  c.getWatchId()));
          return;
        }
        if (c.getWatchId() != 0) {
          id = c.getWatchId();
        } else {
          while (watches.containsKey(nextId)) {
            nextId++;
          }
          id = nextId++;
        }
        // Reserve the id before the upstream answers.
        watches.put(id, null);
      }
      RoutingTable.Shard shard;
      try {
        shard = shardOf(c);
      } catch (MeridianException e) {
        synchronized (this) {
          watches.remove(id);
        }
        refuse(id, e);
        return;
      }
      WatchClient.Watching w =
          relay(
              shard,
              c,
              new Relay(
                  id,
                  this::send,
                  e -> {
                    synchronized (this) {
                      watches.remove(id);
                    }
                  }));
      boolean keep;
      synchronized (this) {
        keep = !ended && watches.containsKey(id);
        if (keep) {
          watches.put(id, w);
        }
      }
      if (!keep) {
        w.close();
      }
    }

    private void cancel(long id) {
      WatchClient.Watching w;
      synchronized (this) {
        if (!watches.containsKey(id)) {
          return;
        }
        w = watches.remove(id);
      }
      if (w != null) {
        w.close();
      }
      send(WatchResponse.newBuilder().setWatchId(id).setCanceled(true).build());
    }

    private void progress() {
      Map<Long, WatchClient.Watching> now;
      synchronized (this) {
        now = Map.copyOf(withoutReserved());
      }
      now.forEach(
          (id, w) ->
              send(
                  WatchResponse.newBuilder()
                      .setWatchId(id)
                      .setProgress(true)
                      .setHeader(ResponseHeader.newBuilder().setRevision(w.revision()))
                      .build()));
    }

    private Map<Long, WatchClient.Watching> withoutReserved() {
      Map<Long, WatchClient.Watching> m = new HashMap<>();
      watches.forEach(
          (id, w) -> {
            if (w != null) {
              m.put(id, w);
            }
          });
      return m;
    }

    private void refuse(long id, MeridianException e) {
      send(canceled(id, e));
    }

    private void send(WatchResponse r) {
      synchronized (out) {
        if (!out.isCancelled()) {
          try {
            out.onNext(r);
          } catch (RuntimeException e) {
            closeAll();
          }
        }
      }
    }

    @Override
    public void onError(Throwable t) {
      closeAll();
    }

    @Override
    public void onCompleted() {
      closeAll();
      synchronized (out) {
        if (!out.isCancelled()) {
          out.onCompleted();
        }
      }
    }

    private void closeAll() {
      Map<Long, WatchClient.Watching> open;
      synchronized (this) {
        if (ended) {
          return;
        }
        ended = true;
        open = withoutReserved();
        watches.clear();
      }
      open.values().forEach(WatchClient.Watching::close);
    }
  }

  /** The last response of watch {@code id}, ended by {@code e}. */
  static WatchResponse canceled(long id, MeridianException e) {
    WatchResponse.Builder r =
        WatchResponse.newBuilder().setWatchId(id).setCanceled(true).setError(e.toError());
    String compacted = e.details().get("compact_revision");
    if (compacted != null) {
      r.setCompactRevision(Long.parseLong(compacted));
    }
    return r.build();
  }

  /**
   * {@code POST /v1/watch}, as on a node: one watch from a JSON {@link WatchCreateRequest}, its
   * responses as JSON lines until the client hangs up or the watch fails.
   */
  HttpService http() {
    return (ctx, req) -> {
      ctx.clearRequestTimeout();
      return HttpResponse.of(req.aggregate().thenApply(body -> startHttp(body.contentUtf8())));
    };
  }

  private HttpResponse startHttp(String json) {
    WatchCreateRequest request;
    RoutingTable.Shard shard;
    try {
      request = JsonRequests.parse(json, WatchCreateRequest.newBuilder()).build();
      shard = shardOf(request);
    } catch (MeridianException e) {
      return GrpcErrors.httpResponse(e.toError());
    }
    HttpResponseWriter writer = HttpResponse.streaming();
    writer.write(JsonLines.HEADERS);
    long id = request.getWatchId() != 0 ? request.getWatchId() : 1;
    WatchClient.Watching w =
        relay(
            shard,
            request,
            new Relay(id, r -> writer.tryWrite(JsonLines.line(r)), e -> writer.close()));
    writer
        .whenComplete()
        .handle(
            (ok, error) -> {
              w.close();
              return null;
            });
    return writer;
  }

  /** The one shard a watch's keys lie on; keys on several shards are refused. */
  private RoutingTable.Shard shardOf(WatchCreateRequest request) {
    return KeySpan.of(request.getKey(), request.getRangeEnd(), request.getPrefix())
        .oneShard(router.table(), "watch");
  }

  /** Starts {@code request} at the primary region of {@code shard}, relayed by {@code relay}. */
  private WatchClient.Watching relay(
      RoutingTable.Shard shard, WatchCreateRequest request, Relay relay) {
    return router
        .client(shard, shard.primary())
        .watches()
        .watch(request.toBuilder().setWatchId(0).build(), relay);
  }

  /**
   * Relays one upstream watch under the caller's watch id: the first answer is marked {@code
   * created}, later empty ones {@code progress}; a failure ends with a {@code canceled} response.
   */
  private static final class Relay implements WatchClient.Listener {
    private final long id;
    private final Consumer<WatchResponse> out;
    private final Consumer<MeridianException> ended;
    private boolean created;

    Relay(long id, Consumer<WatchResponse> out, Consumer<MeridianException> ended) {
      this.id = id;
      this.out = out;
      this.ended = ended;
    }

    @Override
    public void onEvents(List<Event> events, ResponseHeader position) {
      boolean first = !created;
      created = true;
      out.accept(
          WatchResponse.newBuilder()
              .setWatchId(id)
              .setCreated(first)
              .setHeader(position)
              .addAllEvents(events)
              .build());
    }

    @Override
    public void onProgress(ResponseHeader position) {
      boolean first = !created;
      created = true;
      out.accept(
          WatchResponse.newBuilder()
              .setWatchId(id)
              .setCreated(first)
              .setProgress(!first)
              .setHeader(position)
              .build());
    }

    @Override
    public void onError(MeridianException error) {
      out.accept(canceled(id, error));
      ended.accept(error);
    }
  }
}
