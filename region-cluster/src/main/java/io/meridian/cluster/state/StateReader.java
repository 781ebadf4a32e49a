package io.meridian.cluster.state;

import java.util.function.Function;

/**
 * Reads a shard's applied state, for those that follow it without applying anything (the watch
 * hub): the implementation keeps a read from overlapping an apply.
 */
public interface StateReader {
  /** Runs {@code reader} against the applied state as it is now. */
  <T> T read(Function<ShardState, T> reader);
}
