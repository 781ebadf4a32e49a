package io.meridian.api;

import io.grpc.Metadata;
import io.grpc.Status;
import io.meridian.api.v1.Error;

/** Maps each Meridian error code to one gRPC status code and one HTTP status. */
public final class ErrorCodes {
  private ErrorCodes() {}

  /** The gRPC trailer in which a member sends the {@link Error} of a failed call. */
  public static final Metadata.Key<byte[]> TRAILER =
      Metadata.Key.of("meridian-error-bin", Metadata.BINARY_BYTE_MARSHALLER);

  /**
   * The {@link Error} a member sent in the {@link #TRAILER} of failed call {@code t}; null when the
   * call failed before a member answered (or the trailer is unreadable).
   */
  public static Error errorOf(Throwable t) {
    Metadata trailers = Status.trailersFromThrowable(t);
    byte[] encoded = trailers == null ? null : trailers.get(TRAILER);
    if (encoded == null) {
      return null;
    }
    try {
      return Error.parseFrom(encoded);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      return null;
    }
  }

  /** The gRPC status code a client sees for {@code code}. */
  public static Status.Code grpcStatus(Error.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT,
          KEY_TOO_LARGE,
          VALUE_TOO_LARGE,
          REQUEST_TOO_LARGE,
          TOO_MANY_OPS,
          RESERVED_KEY ->
          Status.Code.INVALID_ARGUMENT;
      case LEASE_NOT_FOUND, NOT_FOUND, LOCK_NOT_HELD -> Status.Code.NOT_FOUND;
      case LOCK_TIMEOUT, DEADLINE_EXCEEDED -> Status.Code.DEADLINE_EXCEEDED;
      case OUTCOME_UNKNOWN -> Status.Code.UNKNOWN;
      case LOCK_PARENT_NOT_HELD,
          NOT_PRIMARY,
          FENCED,
          NOT_INITIALIZED,
          HISTORY_DIVERGED,
          FUTURE_REVISION,
          REVISION_GAP,
          CHAIN_MISMATCH,
          NOT_STANDBY,
          FAILED_PRECONDITION ->
          Status.Code.FAILED_PRECONDITION;
      case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
      case COMPACTED -> Status.Code.OUT_OF_RANGE;
      case NO_SPACE, SLOW_CONSUMER -> Status.Code.RESOURCE_EXHAUSTED;
      case UNAVAILABLE -> Status.Code.UNAVAILABLE;
      case UNAUTHENTICATED -> Status.Code.UNAUTHENTICATED;
      case PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
      case METHOD_NOT_ALLOWED -> Status.Code.UNIMPLEMENTED;
      case INTERNAL, ERROR_CODE_UNSPECIFIED, UNRECOGNIZED -> Status.Code.INTERNAL;
    };
  }

  /** The HTTP status of the JSON error body for {@code code}. */
  public static int httpStatus(Error.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT, RESERVED_KEY, TOO_MANY_OPS -> 400;
      case UNAUTHENTICATED -> 401;
      case PERMISSION_DENIED -> 403;
      case METHOD_NOT_ALLOWED -> 405;
      case LEASE_NOT_FOUND, NOT_FOUND, LOCK_NOT_HELD -> 404;
      case LOCK_TIMEOUT, DEADLINE_EXCEEDED -> 408;
      case LOCK_PARENT_NOT_HELD,
          NOT_PRIMARY,
          FENCED,
          HISTORY_DIVERGED,
          REVISION_GAP,
          CHAIN_MISMATCH,
          NOT_STANDBY,
          ALREADY_EXISTS,
          FAILED_PRECONDITION ->
          409;
      case COMPACTED -> 410;
      case KEY_TOO_LARGE, VALUE_TOO_LARGE, REQUEST_TOO_LARGE -> 413;
      case FUTURE_REVISION, NOT_INITIALIZED -> 422;
      case SLOW_CONSUMER -> 429;
      case NO_SPACE -> 507;
      case UNAVAILABLE -> 503;
      case OUTCOME_UNKNOWN -> 504;
      case INTERNAL, ERROR_CODE_UNSPECIFIED, UNRECOGNIZED -> 500;
    };
  }
}
