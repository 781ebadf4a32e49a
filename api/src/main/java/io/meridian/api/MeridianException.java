package io.meridian.api;

import static java.util.Objects.requireNonNull;

import io.meridian.api.v1.Error;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * A failure with one of Meridian's error codes and a message a person can act on. Every layer
 * throws or returns this; transports map {@link #code()} to a gRPC and an HTTP status with {@link
 * ErrorCodes}.
 */
public final class MeridianException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Error.Code code;
  private final Map<String, String> details;

  public MeridianException(Error.Code code, String message) {
    this(code, message, Map.of());
  }

  public MeridianException(Error.Code code, String message, Map<String, String> details) {
    super(requireNonNull(message, "message"));
    this.code = requireNonNull(code, "code");
    this.details = Map.copyOf(details);
  }

  /** Formats the message like {@link String#format}. */
  public static MeridianException of(Error.Code code, String format, Object... args) {
    return new MeridianException(code, String.format(format, args));
  }

  /** Rebuilds the exception an {@link Error} describes. */
  public static MeridianException fromError(Error error) {
    return new MeridianException(error.getCode(), error.getMessage(), error.getDetailsMap());
  }

  /**
   * What a failed future failed with: {@code t} without the {@link CompletionException} and {@link
   * ExecutionException} wrappers around it (null for null).
   */
  public static Throwable causeOf(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof ExecutionException)
        && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }

  public Error.Code code() {
    return code;
  }

  public Map<String, String> details() {
    return details;
  }

  /** The wire form: {@code {code, message, details}}. */
  public Error toError() {
    return Error.newBuilder().setCode(code).setMessage(getMessage()).putAllDetails(details).build();
  }
}
