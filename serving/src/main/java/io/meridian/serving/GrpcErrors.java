package io.meridian.serving;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.grpc.GrpcExceptionHandlerFunction;
import com.linecorp.armeria.server.HttpStatusException;
import com.linecorp.armeria.server.ServerErrorHandler;
import com.linecorp.armeria.server.ServiceRequestContext;
import com.linecorp.armeria.server.grpc.UnframedGrpcErrorHandler;
import io.grpc.Status;
import io.meridian.api.ErrorCodes;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.Base64;

/**
 * Turns failures into Meridian errors on both surfaces: a gRPC status whose trailers carry the
 * {@link Error} ({@code meridian-error-bin}), and for HTTP/JSON a body {@code {code, message,
 * details}} with the code's HTTP status.
 */
public final class GrpcErrors {
  private GrpcErrors() {}

  private static final JsonFormat.Printer JSON =
      JsonFormat.printer().omittingInsignificantWhitespace();

  /** Maps any throwable a service raised to a status with the Meridian error attached. */
  public static GrpcExceptionHandlerFunction exceptionHandler() {
    return (ctx, status, cause, metadata) -> {
      Error error = toError(cause, status);
      metadata.put(ErrorCodes.TRAILER, error.toByteArray());
      return Status.fromCode(ErrorCodes.grpcStatus(error.getCode()))
          .withDescription(error.getMessage());
    };
  }

  /**
   * Renders the transcoder's refusal of a request it cannot turn into a message (an {@link
   * HttpStatusException} 400 with its cause, raised before any service runs: a body that is not
   * JSON, a path or query parameter of the wrong type) as an {@code INVALID_ARGUMENT} error body
   * like every other error; anything else falls through to Armeria's default.
   */
  public static ServerErrorHandler malformedBodies() {
    return (ctx, cause) -> {
      if (cause instanceof HttpStatusException e
          && e.httpStatus().equals(HttpStatus.BAD_REQUEST)
          && e.getCause() != null) {
        Throwable reason = e.getCause().getCause() != null ? e.getCause().getCause() : e.getCause();
        return httpResponse(
            Error.newBuilder()
                .setCode(Error.Code.INVALID_ARGUMENT)
                .setMessage("request not understood: " + reason.getMessage())
                .build());
      }
      return null;
    };
  }

  /** Renders HTTP/JSON errors as {@code {code, message, details}}. */
  public static UnframedGrpcErrorHandler httpErrorHandler() {
    return GrpcErrors::httpError;
  }

  private static HttpResponse httpError(
      ServiceRequestContext ctx, Status status, AggregatedHttpResponse response) {
    Error error = null;
    String encoded = response.trailers().get(ErrorCodes.TRAILER.name());
    if (encoded == null) {
      encoded = response.headers().get(ErrorCodes.TRAILER.name());
    }
    if (encoded != null) {
      try {
        error = Error.parseFrom(Base64.getDecoder().decode(encoded));
      } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
        error = null;
      }
    }
    if (error == null) {
      error = toError(status.getCause(), status);
    }
    return httpResponse(error);
  }

  /**
   * The HTTP/JSON form of {@code error}: its code's HTTP status and {@code {code, message,
   * details}}.
   */
  public static HttpResponse httpResponse(Error error) {
    try {
      return HttpResponse.of(
          HttpStatus.valueOf(ErrorCodes.httpStatus(error.getCode())),
          MediaType.JSON_UTF_8,
          JSON.print(error));
    } catch (InvalidProtocolBufferException e) {
      return HttpResponse.of(HttpStatus.INTERNAL_SERVER_ERROR);
    }
  }

  /** The Meridian error a throwable stands for. */
  public static Error toError(Throwable cause, Status status) {
    Throwable t = MeridianException.causeOf(cause);
    if (t instanceof MeridianException m) {
      return m.toError();
    }
    if (t instanceof InvalidProtocolBufferException) {
      // A request body the strict JSON marshaller refused: an unknown field or a wrong type.
      return Error.newBuilder()
          .setCode(Error.Code.INVALID_ARGUMENT)
          .setMessage("body: " + t.getMessage())
          .build();
    }
    if (t instanceof IllegalArgumentException) {
      return Error.newBuilder()
          .setCode(Error.Code.INVALID_ARGUMENT)
          .setMessage(String.valueOf(t.getMessage()))
          .build();
    }
    return fromStatus(status == null ? Status.fromThrowable(t) : status);
  }

  private static Error fromStatus(Status status) {
    Error.Code code =
        switch (status.getCode()) {
          case INVALID_ARGUMENT -> Error.Code.INVALID_ARGUMENT;
          case NOT_FOUND -> Error.Code.NOT_FOUND;
          case DEADLINE_EXCEEDED -> Error.Code.DEADLINE_EXCEEDED;
          case UNAVAILABLE -> Error.Code.UNAVAILABLE;
          case UNAUTHENTICATED -> Error.Code.UNAUTHENTICATED;
          case PERMISSION_DENIED -> Error.Code.PERMISSION_DENIED;
          case RESOURCE_EXHAUSTED -> Error.Code.REQUEST_TOO_LARGE;
          default -> Error.Code.INTERNAL;
        };
    String message = status.getDescription();
    if (message == null || message.isBlank()) {
      message = status.getCode() + (status.getCause() == null ? "" : ": " + status.getCause());
    }
    return Error.newBuilder().setCode(code).setMessage(message).build();
  }
}
