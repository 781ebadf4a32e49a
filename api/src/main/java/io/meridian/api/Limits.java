package io.meridian.api;

/** Request size limits shared by every process. Requests beyond them are refused, never cut. */
public final class Limits {
  private Limits() {}

  /** Largest key, in UTF-8 bytes. */
  public static final int MAX_KEY_BYTES = 8 * 1024;

  /** Largest value. */
  public static final int MAX_VALUE_BYTES = 1536 * 1024;

  /** Largest request on the wire. */
  public static final int MAX_REQUEST_BYTES = 2 * 1024 * 1024;

  /** Most operations in one transaction (compares, success and failure ops each counted). */
  public static final int MAX_TXN_OPS = 128;

  /** How long a blocking Discover waits when its {@code wait_ms} is 0. */
  public static final long DEFAULT_DISCOVER_WAIT_MS = 60_000;

  /** Longest wait a blocking Discover may ask for. */
  public static final long MAX_DISCOVER_WAIT_MS = 300_000;

  /**
   * How long a Discover waits by design: 0 unless it is blocking ({@code wait_revision} set), then
   * its {@code wait_ms} or the default. Routers and clients add it to their deadlines.
   */
  public static long discoverWaitMs(io.meridian.api.v1.DiscoverRequest request) {
    if (request.getWaitRevision() <= 0) {
      return 0;
    }
    return request.getWaitMs() == 0 ? DEFAULT_DISCOVER_WAIT_MS : request.getWaitMs();
  }
}
