package io.meridian.cluster.internal;

import java.util.function.Function;

/**
 * Reads a shard's applied state as {@code S} (a narrow view of it), for those that follow the state
 * without applying anything (the watch hub, the change feed): the implementation keeps a read from
 * overlapping an apply.
 */
public interface StateReader<S> {
  /** Runs {@code reader} against the applied state as it is now. */
  <T> T read(Function<? super S, T> reader);
}
