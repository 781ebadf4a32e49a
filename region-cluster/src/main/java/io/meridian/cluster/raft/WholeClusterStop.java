package io.meridian.cluster.raft;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Marker;

/**
 * Marks a stop of every member of a cluster at once ({@code bin/meridian dev}, tests). While one
 * runs, Ratis's warnings about peers going away (cancelled appends, interrupted log appenders,
 * refused connections) are expected, so {@link Filter} drops them: a normal stop logs no WARN. A
 * member stopped alone in a running cluster is not such a stop; its peers' warnings are real.
 */
public final class WholeClusterStop implements AutoCloseable {
  private static final AtomicInteger running = new AtomicInteger();

  private WholeClusterStop() {
    running.incrementAndGet();
  }

  /** Starts a whole-cluster stop; close it when every member has stopped. */
  public static WholeClusterStop begin() {
    return new WholeClusterStop();
  }

  @Override
  public void close() {
    running.decrementAndGet();
  }

  /** The logback filter (see logback.xml): Ratis below ERROR is dropped during such a stop. */
  public static final class Filter extends TurboFilter {
    @Override
    public FilterReply decide(
        Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
      if (running.get() > 0
          && level != null
          && !level.isGreaterOrEqual(Level.ERROR)
          && logger.getName().startsWith("org.apache.ratis")) {
        return FilterReply.DENY;
      }
      return FilterReply.NEUTRAL;
    }
  }
}
