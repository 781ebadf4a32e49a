package io.meridian.client;

import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchGrpc;
import io.meridian.api.v1.WatchRequest;
import io.meridian.api.v1.WatchResponse;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches of keys, prefixes and intervals that survive disconnects and leader changes: after any
 * failure the watch is re-created on another member from the revision after the last one delivered,
 * so the listener sees every event once, in revision order. Errors that resuming cannot fix ({@code
 * COMPACTED}: the history it needs is gone; {@code HISTORY_DIVERGED}; a bad request) end the watch
 * and reach {@link Listener#onError}.
 *
 * <pre>{@code
 * Watching w = client.watches().watch(
 *     WatchCreateRequest.newBuilder().setKey("/orders/").setPrefix(true).build(),
 *     new WatchClient.Listener() {
 *       public void onEvents(List<Event> events, ResponseHeader position) { apply(events); }
 *       public void onError(MeridianException e) { resync(e); }
 *     });
 * ...
 * w.close();
 * }</pre>
 */
public final class WatchClient {
  private static final Logger log = LoggerFactory.getLogger(WatchClient.class);

  /** Errors a new stream would only repeat: they end the watch. */
  private static final Set<Error.Code> FINAL =
      Set.of(
          Error.Code.COMPACTED,
          Error.Code.HISTORY_DIVERGED,
          Error.Code.INVALID_ARGUMENT,
          Error.Code.KEY_TOO_LARGE,
          Error.Code.RESERVED_KEY,
          Error.Code.UNAUTHENTICATED,
          Error.Code.PERMISSION_DENIED,
          Error.Code.FUTURE_REVISION);

  /** Receives a watch's events. Called from one thread at a time, in order. */
  public interface Listener {
    /** Events, in revision order, never repeated; {@code position}: what the watch has reached. */
    void onEvents(List<Event> events, ResponseHeader position);

    /** The watch has seen everything up to {@code position} and is idle. */
    default void onProgress(ResponseHeader position) {}

    /** The watch ended with an error that resuming cannot fix. */
    void onError(MeridianException error);
  }

  private final WatchGrpc.WatchStub stub;
  private final ScheduledExecutorService timer;
  private final RetryPolicy retry;

  WatchClient(WatchGrpc.WatchStub stub, ScheduledExecutorService timer, RetryPolicy retry) {
    this.stub = stub;
    this.timer = timer;
    this.retry = retry;
  }

  /** Starts watching; {@code start_revision} 0 means from now. */
  public Watching watch(WatchCreateRequest request, Listener listener) {
    Watching w = new Watching(request, listener);
    w.connect();
    return w;
  }

  /** A running watch. Closing it stops it. */
  public final class Watching implements AutoCloseable {
    private final WatchCreateRequest request;
    private final Listener listener;
    private final Object lock = new Object();
    // Guarded by lock. nextRevision: the first revision not yet delivered (0: from now); epoch:
    // the epoch of revision nextRevision - 1, sent on resume so that a member whose history
    // abandoned that position (a failover dropped its tail) answers HISTORY_DIVERGED rather than
    // continuing from a revision that means another state.
    private long nextRevision;
    private long epoch;
    private int failuresInARow;
    private boolean closed;
    private StreamObserver<WatchRequest> requests;

    private Watching(WatchCreateRequest request, Listener listener) {
      this.request = request;
      this.listener = listener;
      this.nextRevision = request.getStartRevision();
      this.epoch = request.getStartEpoch();
    }

    /** The revision up to which every event was delivered. */
    public long revision() {
      synchronized (lock) {
        return Math.max(0, nextRevision - 1);
      }
    }

    private void connect() {
      WatchCreateRequest create;
      synchronized (lock) {
        if (closed) {
          return;
        }
        create =
            request.toBuilder()
                .setStartRevision(nextRevision)
                .setStartEpoch(nextRevision > 0 ? epoch : 0)
                .setWatchId(1)
                .build();
      }
      StreamObserver<WatchRequest> out = stub.watch(new Responses());
      synchronized (lock) {
        requests = out;
      }
      out.onNext(WatchRequest.newBuilder().setCreateRequest(create).build());
    }

    private final class Responses implements StreamObserver<WatchResponse> {
      private boolean ended;

      @Override
      public void onNext(WatchResponse r) {
        if (ended) {
          return;
        }
        if (r.hasError() || r.getCanceled()) {
          ended = true;
          Error e =
              r.hasError()
                  ? r.getError()
                  : Error.newBuilder()
                      .setCode(Error.Code.UNAVAILABLE)
                      .setMessage("the member canceled the watch")
                      .build();
          failed(MeridianException.fromError(e));
          return;
        }
        long position = r.getHeader().getRevision();
        List<Event> fresh;
        synchronized (lock) {
          if (closed) {
            return;
          }
          failuresInARow = 0;
          long from = nextRevision;
          // Defensive: a resumed stream starts at nextRevision, so nothing older should come.
          fresh =
              r.getEventsList().stream()
                  .filter(ev -> from == 0 || ev.getKv().getModRevision() >= from)
                  .toList();
          if (position + 1 >= nextRevision && r.getHeader().getEpoch() > 0) {
            epoch = r.getHeader().getEpoch();
          }
          if (position + 1 > nextRevision) {
            nextRevision = position + 1;
          }
        }
        if (!fresh.isEmpty()) {
          listener.onEvents(fresh, r.getHeader());
        } else if (r.getProgress() || r.getCreated()) {
          listener.onProgress(r.getHeader());
        }
      }

      @Override
      public void onError(Throwable t) {
        if (!ended) {
          ended = true;
          failed(Unary.failure(t, true));
        }
      }

      @Override
      public void onCompleted() {
        if (!ended) {
          ended = true;
          failed(MeridianException.of(Error.Code.UNAVAILABLE, "the member ended the watch stream"));
        }
      }
    }

    private void failed(MeridianException e) {
      long delayMs;
      synchronized (lock) {
        if (closed) {
          return;
        }
        if (FINAL.contains(e.code())) {
          closed = true;
        } else {
          List<Duration> pauses = retry.pauses();
          delayMs =
              pauses.isEmpty()
                  ? 1000
                  : pauses.get(Math.min(failuresInARow, pauses.size() - 1)).toMillis();
          failuresInARow++;
          log.info(
              "watch {}: {}; resuming from revision {} in {} ms",
              request.getKey(),
              e.getMessage(),
              nextRevision,
              delayMs);
          timer.schedule(this::connect, delayMs, TimeUnit.MILLISECONDS);
          return;
        }
      }
      listener.onError(e);
    }

    @Override
    public void close() {
      StreamObserver<WatchRequest> out;
      synchronized (lock) {
        if (closed) {
          return;
        }
        closed = true;
        out = requests;
      }
      if (out != null) {
        try {
          out.onCompleted();
        } catch (RuntimeException e) {
          log.debug("closing a watch stream", e);
        }
      }
    }
  }
}
