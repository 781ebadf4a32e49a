package io.meridian.cluster.kv;

import io.meridian.api.KeyPath;
import io.meridian.api.Limits;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;

/**
 * The keys a range or delete-range request selects, in {@link KeyPath#ORDER}: one key, every key
 * that begins with a prefix, or an interval {@code [start, end)} ({@code end == null}: unbounded).
 *
 * <p>Every selection is a contiguous run of the sorted key space, so a scan starts at {@link
 * #start()} and stops at the first key for which {@link #isPast(String)} holds.
 */
public record KeyRange(String start, String end, boolean prefix, boolean single) {

  /** etcd's "every key >= start" marker for {@code range_end}. */
  public static final String UNBOUNDED = "\u0000";

  /**
   * Parses the etcd-style triple of a request. A single key must be a well-formed key; a prefix or
   * the start of an interval need only begin with '/' (so "/" selects every key).
   *
   * @throws MeridianException INVALID_ARGUMENT or KEY_TOO_LARGE
   */
  public static KeyRange of(String key, String rangeEnd, boolean prefix) {
    if (!prefix && rangeEnd.isEmpty()) {
      KeyPath.checkReadable(key);
      return new KeyRange(key, null, false, true);
    }
    if (key.isEmpty() || key.charAt(0) != '/') {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "key: %s (expected: a path or prefix that begins with '/')",
          KeyPath.abbreviate(key));
    }
    int bytes = KeyPath.utf8Length(key);
    if (bytes > Limits.MAX_KEY_BYTES) {
      throw MeridianException.of(
          Error.Code.KEY_TOO_LARGE, "key: %d bytes (expected: <= %d)", bytes, Limits.MAX_KEY_BYTES);
    }
    if (prefix) {
      return new KeyRange(key, null, true, false);
    }
    return new KeyRange(key, UNBOUNDED.equals(rangeEnd) ? null : rangeEnd, false, false);
  }

  /** A single key. */
  public static KeyRange single(String key) {
    return new KeyRange(key, null, false, true);
  }

  /** Whether {@code key} (at or after {@link #start()}) is in the range. */
  public boolean contains(String key) {
    if (single) {
      return key.equals(start);
    }
    if (prefix) {
      return key.startsWith(start);
    }
    return KeyPath.compare(key, start) >= 0 && (end == null || KeyPath.compare(key, end) < 0);
  }

  /** Whether a scan from {@link #start()} in key order can stop at {@code key}. */
  public boolean isPast(String key) {
    return !contains(key) && KeyPath.compare(key, start) > 0;
  }
}
