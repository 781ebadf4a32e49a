package io.meridian.bridge;

import io.meridian.api.MeridianException;
import io.meridian.client.Stubs;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** Where one source or sink stands, for the bridge's status and health. */
final class Progress {
  enum State {
    STARTING,
    RUNNING,
    /** Retrying after a failure (Kafka, a cluster or the feed unavailable). */
    FAILING,
    /** Gave up: needs an operator (fenced by a newer bridge, a diverged standby). */
    STOPPED
  }

  private volatile State state = State.STARTING;
  private volatile String detail = "";

  State state() {
    return state;
  }

  String detail() {
    return detail;
  }

  void running() {
    state = State.RUNNING;
    detail = "";
  }

  void failing(String why) {
    state = State.FAILING;
    detail = why;
  }

  void stopped(String why) {
    state = State.STOPPED;
    detail = why;
  }

  /** The result of a call, or its failure as a {@link MeridianException}. */
  static <T> T await(CompletableFuture<T> call) {
    try {
      return call.join();
    } catch (CompletionException e) {
      throw Stubs.failure(e.getCause() == null ? e : e.getCause());
    }
  }
}
