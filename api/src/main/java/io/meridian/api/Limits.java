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
}
