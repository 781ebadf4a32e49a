package io.meridian.cluster.node;

import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.WatchCancelRequest;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchGrpc;
import io.meridian.api.v1.WatchProgressRequest;
import io.meridian.api.v1.WatchRequest;
import io.meridian.api.v1.WatchResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/** A test client of one Watch stream: records every response and how the stream ended. */
final class Watcher implements AutoCloseable {
  final List<WatchResponse> responses = new CopyOnWriteArrayList<>();
  volatile Throwable failure;
  volatile boolean completed;
  private final StreamObserver<WatchRequest> requests;
  private volatile ClientCallStreamObserver<WatchRequest> call;
  // A stalled stream gets a connection of its own: HTTP/2 flow control would otherwise stall every
  // other call sharing the connection once the stalled stream filled the connection's window.
  private final ClientFactory factory;

  /** A stream that reads everything it is sent. */
  static Watcher open(String url) {
    return new Watcher(url, true);
  }

  /** A stream that never reads: its responses pile up on the server. */
  static Watcher stalled(String url) {
    return new Watcher(url, false);
  }

  private Watcher(String url, boolean reading) {
    this.factory = reading ? null : ClientFactory.builder().build();
    WatchGrpc.WatchStub stub =
        (factory == null ? GrpcClients.builder(url) : GrpcClients.builder(url).factory(factory))
            .responseTimeout(Duration.ZERO)
            .maxResponseLength(0)
            .build(WatchGrpc.WatchStub.class);
    this.requests =
        stub.watch(
            new ClientResponseObserver<WatchRequest, WatchResponse>() {
              @Override
              public void beforeStart(ClientCallStreamObserver<WatchRequest> stream) {
                call = stream;
                if (!reading) {
                  stream.disableAutoRequestWithInitial(0);
                }
              }

              @Override
              public void onNext(WatchResponse value) {
                responses.add(value);
              }

              @Override
              public void onError(Throwable t) {
                failure = t;
              }

              @Override
              public void onCompleted() {
                completed = true;
              }
            });
  }

  /** A stalled stream starts reading. */
  void resume() {
    call.request(Integer.MAX_VALUE);
  }

  void create(WatchCreateRequest request) {
    requests.onNext(WatchRequest.newBuilder().setCreateRequest(request).build());
  }

  void watchPrefix(long id, String prefix, long startRevision) {
    create(
        WatchCreateRequest.newBuilder()
            .setWatchId(id)
            .setKey(prefix)
            .setPrefix(true)
            .setStartRevision(startRevision)
            .setPrevKv(true)
            .build());
  }

  void cancel(long id) {
    requests.onNext(
        WatchRequest.newBuilder()
            .setCancelRequest(WatchCancelRequest.newBuilder().setWatchId(id))
            .build());
  }

  void requestProgress() {
    requests.onNext(
        WatchRequest.newBuilder()
            .setProgressRequest(WatchProgressRequest.getDefaultInstance())
            .build());
  }

  /** Every event of watch {@code id} received so far, in order. */
  List<Event> events(long id) {
    List<Event> out = new ArrayList<>();
    for (WatchResponse r : responses) {
      if (r.getWatchId() == id) {
        out.addAll(r.getEventsList());
      }
    }
    return out;
  }

  WatchResponse await(Predicate<WatchResponse> condition) {
    WatchResponse[] found = {null};
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              for (WatchResponse r : responses) {
                if (condition.test(r)) {
                  found[0] = r;
                  return true;
                }
              }
              return false;
            });
    return found[0];
  }

  void awaitEvents(long id, int count) {
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> events(id).size() >= count);
  }

  Status.Code failureCode() {
    return failure == null ? null : Status.fromThrowable(failure).getCode();
  }

  @Override
  public void close() {
    try {
      requests.onCompleted();
    } catch (RuntimeException ignored) {
      // Already closed by the server.
    }
    ClientCallStreamObserver<WatchRequest> c = call;
    if (c != null) {
      c.cancel("test done", null);
    }
    if (factory != null) {
      factory.close();
    }
  }
}
