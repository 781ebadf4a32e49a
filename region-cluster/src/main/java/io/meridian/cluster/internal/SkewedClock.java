package io.meridian.cluster.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The system clock with its wall time shifted by an offset read from a file, for fault injection:
 * the chaos suite steps a member's wall clock forward and back by writing milliseconds into the
 * file ({@code -Dmeridian.clock-offset-file=PATH}; absent or empty means no offset). Only the wall
 * clock moves: the monotonic clock cannot step, and the node keeps its in-memory deadlines on it.
 * The file is read at most every {@link #REFRESH_MS} ms, so a step lands within that.
 */
public final class SkewedClock implements NodeClock {
  /** The system property naming the offset file; unset in every real deployment. */
  public static final String PROPERTY = "meridian.clock-offset-file";

  static final long REFRESH_MS = 50;
  private static final Logger log = LoggerFactory.getLogger(SkewedClock.class);

  private final Path file;
  private final String member;
  private volatile long offsetMs;
  private volatile long nextRead;

  SkewedClock(Path file, String member) {
    this.file = file;
    this.member = member;
    this.nextRead = monotonicMillis();
  }

  /** The system clock, or a skewed one if {@link #PROPERTY} names a file. */
  public static NodeClock fromSystemProperty(String member) {
    String path = System.getProperty(PROPERTY);
    if (path == null || path.isBlank()) {
      return NodeClock.system();
    }
    log.warn(
        "member={} wall clock follows the offset in {} (fault injection, never in production)",
        member,
        path);
    return new SkewedClock(Path.of(path), member);
  }

  @Override
  public long nowMillis() {
    long mono = monotonicMillis();
    if (mono - nextRead >= 0) {
      nextRead = mono + REFRESH_MS;
      refresh();
    }
    return System.currentTimeMillis() + offsetMs;
  }

  private void refresh() {
    long next;
    try {
      String text = Files.readString(file).trim();
      next = text.isEmpty() ? 0 : Long.parseLong(text);
    } catch (NoSuchFileException e) {
      next = 0;
    } catch (IOException | NumberFormatException e) {
      return; // half-written or unreadable: keep the last offset
    }
    if (next != offsetMs) {
      log.info(
          "member={} wall clock stepped by {} ms to offset {} ms", member, next - offsetMs, next);
      offsetMs = next;
    }
  }
}
