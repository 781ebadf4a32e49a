package io.meridian.cluster.watch;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.WatchResponse;
import java.util.concurrent.Executor;

/**
 * Where a {@link WatchStream}'s responses go: a gRPC stream or an HTTP body of JSON lines. Every
 * method other than {@link #executor()} is called on that executor only.
 */
public interface WatchSink {
  /** The one thread (an event loop) that talks to the transport. */
  Executor executor();

  /** Whether the transport takes another response without buffering it. */
  boolean isReady();

  void send(WatchResponse response);

  /** Runs {@code drain} (on the executor) whenever the transport becomes ready again. */
  void onReady(Runnable drain);

  /** Ends the stream with {@code error}; nothing is sent after it. */
  void fail(MeridianException error);
}
