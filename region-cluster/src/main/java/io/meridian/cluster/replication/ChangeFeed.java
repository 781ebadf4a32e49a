package io.meridian.cluster.replication;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.cluster.internal.StateReader;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The change feeds of one shard replica: each streams the shard's change batches after a position,
 * then every new revision as it is applied.
 *
 * <p>A feed holds no batches of its own. It reads them from the replica's change journal in chunks
 * whenever a revision is applied or its stream can take more, so a slow reader costs nothing but
 * its position, and a reader overtaken by compaction ends with COMPACTED. Each feed runs on its
 * stream's executor, one chunk at a time.
 */
public final class ChangeFeed {
  /** Batches read from the journal per step. */
  private static final int CHUNK = 64;

  /** Where a feed's batches go: a server stream with flow control. */
  public interface Sink {
    /** The thread the feed sends on. */
    Executor executor();

    /** Whether the stream can take a message now. */
    boolean isReady();

    void send(ChangeBatch batch);

    /** Ends the stream with an error. */
    void fail(MeridianException error);

    /** Runs {@code drain} whenever the stream can take more. */
    void onReady(Runnable drain);
  }

  private final StateReader<? extends FeedState> state;
  private final Set<Subscription> subscriptions = ConcurrentHashMap.newKeySet();

  public ChangeFeed(StateReader<? extends FeedState> state) {
    this.state = state;
  }

  /**
   * Starts a feed of the revisions after position ({@code epoch}, {@code after}). The position is
   * checked here, so a bad one fails at once.
   *
   * @return the feed; {@link Subscription#close} it when its stream ends
   * @throws MeridianException FUTURE_REVISION, COMPACTED or HISTORY_DIVERGED
   */
  public Subscription open(long epoch, long after, Sink sink) {
    state.read(s -> s.changeBatches(epoch, after, 0));
    Subscription sub = new Subscription(after + 1, sink);
    subscriptions.add(sub);
    sink.onReady(sub::wake);
    sub.wake();
    return sub;
  }

  /** Called after each applied command that committed revisions: feeds send them. */
  public void committed() {
    for (Subscription sub : subscriptions) {
      sub.wake();
    }
  }

  /** Number of open feeds. */
  public int feeds() {
    return subscriptions.size();
  }

  /** One open feed. */
  public final class Subscription {
    private final Sink sink;
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private volatile boolean closed;
    // Only touched on the sink's executor.
    private long next;

    private Subscription(long next, Sink sink) {
      this.next = next;
      this.sink = sink;
    }

    /** Stops the feed (its stream was cancelled or ended). */
    public void close() {
      closed = true;
      subscriptions.remove(this);
    }

    private void wake() {
      if (!closed && scheduled.compareAndSet(false, true)) {
        sink.executor().execute(this::pump);
      }
    }

    private void pump() {
      scheduled.set(false);
      try {
        while (!closed && sink.isReady()) {
          long from = next;
          List<ChangeBatch> batches = state.read(s -> s.changeBatches(0, from - 1, CHUNK));
          if (batches.isEmpty()) {
            return;
          }
          for (ChangeBatch batch : batches) {
            sink.send(batch);
          }
          next = batches.get(batches.size() - 1).getRevision() + 1;
        }
      } catch (MeridianException e) {
        close();
        sink.fail(e);
      }
    }
  }
}
