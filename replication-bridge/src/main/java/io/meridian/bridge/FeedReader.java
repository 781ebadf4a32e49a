package io.meridian.bridge;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeFeedRequest;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Position;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.client.Stubs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A change feed read by one thread: batches are taken in runs, and more are requested from the
 * member only as runs are taken, so a slow consumer (Kafka down) holds the feed back instead of
 * buffering it.
 */
final class FeedReader implements AutoCloseable {
  /** Batches in flight between the member and the taker. */
  private static final int WINDOW = 256;

  private final BlockingQueue<Object> arrived = new LinkedBlockingQueue<>();
  private volatile ClientCallStreamObserver<ChangeFeedRequest> call;
  private MeridianException failure;

  private FeedReader() {}

  /** Opens the feed of the revisions after {@code after}. */
  static FeedReader open(ReplicationGrpc.ReplicationStub feed, Position after) {
    FeedReader reader = new FeedReader();
    feed.changeFeed(
        ChangeFeedRequest.newBuilder().setAfter(after).build(),
        new ClientResponseObserver<ChangeFeedRequest, ChangeBatch>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<ChangeFeedRequest> stream) {
            reader.call = stream;
            stream.disableAutoRequestWithInitial(WINDOW);
          }

          @Override
          public void onNext(ChangeBatch batch) {
            reader.arrived.add(batch);
          }

          @Override
          public void onError(Throwable t) {
            reader.arrived.add(Stubs.failure(t));
          }

          @Override
          public void onCompleted() {
            reader.arrived.add(
                MeridianException.of(Error.Code.UNAVAILABLE, "change feed ended by the member"));
          }
        });
    return reader;
  }

  /**
   * Up to {@code max} batches in order, waiting up to {@code wait} for the first.
   *
   * @return the batches (none if nothing arrived in time)
   * @throws MeridianException how the feed failed, once the batches before the failure were taken
   */
  List<ChangeBatch> take(int max, Duration wait) throws InterruptedException {
    if (failure != null) {
      throw failure;
    }
    List<ChangeBatch> out = new ArrayList<>();
    Object next = arrived.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
    while (next != null) {
      if (next instanceof MeridianException e) {
        failure = e;
        break;
      }
      out.add((ChangeBatch) next);
      if (out.size() >= max) {
        break;
      }
      next = arrived.poll();
    }
    if (out.isEmpty() && failure != null) {
      throw failure;
    }
    if (!out.isEmpty()) {
      call.request(out.size());
    }
    return out;
  }

  @Override
  public void close() {
    ClientCallStreamObserver<ChangeFeedRequest> c = call;
    if (c != null && failure == null) {
      c.cancel("feed closed by the bridge", null);
    }
  }
}
