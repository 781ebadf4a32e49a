package io.meridian.serving;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.common.grpc.GrpcExceptionHandlerFunction;
import com.linecorp.armeria.server.HttpStatusException;
import com.linecorp.armeria.server.RoutePathType;
import com.linecorp.armeria.server.ServerErrorHandler;
import com.linecorp.armeria.server.ServiceConfig;
import com.linecorp.armeria.server.ServiceRequestContext;
import com.linecorp.armeria.server.grpc.UnframedGrpcErrorHandler;
import io.grpc.Status;
import io.meridian.api.ErrorCodes;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.Base64;
import java.util.Locale;
import java.util.stream.Collectors;

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
   * Renders what Armeria refuses before any service runs as a Meridian error body, so that every
   * HTTP answer that is not a success is {@code {code, message, details}}: a path nothing serves
   * ({@code NOT_FOUND}, naming the path), a method the path does not take ({@code
   * METHOD_NOT_ALLOWED}, naming the one it does), a body the transcoder cannot read as JSON ({@code
   * INVALID_ARGUMENT}, "malformed JSON: ..."), and any other status Armeria answers by itself.
   */
  public static ServerErrorHandler serverErrors() {
    return new ServerErrors();
  }

  private static final class ServerErrors implements ServerErrorHandler {
    @Override
    public HttpResponse onServiceException(ServiceRequestContext ctx, Throwable cause) {
      if (cause instanceof HttpStatusException e
          && e.httpStatus().equals(HttpStatus.BAD_REQUEST)
          && e.getCause() != null) {
        return httpResponse(
            Error.newBuilder()
                .setCode(Error.Code.INVALID_ARGUMENT)
                .setMessage(unreadable(e.getCause()))
                .build());
      }
      return null;
    }

    @Override
    public AggregatedHttpResponse renderStatus(
        ServiceRequestContext ctx,
        ServiceConfig config,
        RequestHeaders headers,
        HttpStatus status,
        String description,
        Throwable cause) {
      if (headers == null || status.code() < 400) {
        return null;
      }
      String path = headers.path().split("\\?", 2)[0];
      Error.Builder error = Error.newBuilder().putDetails("path", path);
      if (status.equals(HttpStatus.NOT_FOUND)) {
        error
            .setCode(Error.Code.NOT_FOUND)
            .setMessage("no endpoint " + path + " (the API is listed at /docs/)");
      } else if (status.equals(HttpStatus.METHOD_NOT_ALLOWED)) {
        String allowed =
            config.virtualHost().serviceConfigs().stream()
                .map(ServiceConfig::route)
                .filter(r -> r.pathType() == RoutePathType.EXACT)
                .filter(r -> r.paths().contains(path))
                .flatMap(r -> r.methods().stream())
                .map(HttpMethod::name)
                .distinct()
                .sorted()
                .collect(Collectors.joining(" or "));
        error
            .setCode(Error.Code.METHOD_NOT_ALLOWED)
            .setMessage(
                allowed.isEmpty()
                    ? headers.method() + " is not allowed for " + path
                    : "use " + allowed + " for " + path + " (not " + headers.method() + ")");
      } else {
        error
            .setCode(codeOf(status))
            .setMessage(
                description != null
                    ? JsonRefusals.withoutClassNames(description)
                    : status.reasonPhrase().toLowerCase(Locale.ROOT));
      }
      return AggregatedHttpResponse.of(status, MediaType.JSON_UTF_8, print(error.build()));
    }
  }

  /** Why the transcoder could not read a request: malformed JSON, or a wrong path or query. */
  private static String unreadable(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof JsonProcessingException json) {
        return JsonRefusals.malformed(json);
      }
    }
    String message = JsonRefusals.withoutClassNames(cause.getMessage());
    // Armeria's words for a body that is JSON but not an object.
    if (message.startsWith("Unexpected JSON:")) {
      return "malformed JSON: expected an object {...}";
    }
    return "request not understood: " + message;
  }

  /** The Meridian code closest to an HTTP status Armeria answered without a service. */
  private static Error.Code codeOf(HttpStatus status) {
    return switch (status.code()) {
      case 400 -> Error.Code.INVALID_ARGUMENT;
      case 401 -> Error.Code.UNAUTHENTICATED;
      case 403 -> Error.Code.PERMISSION_DENIED;
      case 404 -> Error.Code.NOT_FOUND;
      case 405 -> Error.Code.METHOD_NOT_ALLOWED;
      case 408 -> Error.Code.DEADLINE_EXCEEDED;
      case 413 -> Error.Code.REQUEST_TOO_LARGE;
      case 503 -> Error.Code.UNAVAILABLE;
      default -> status.code() < 500 ? Error.Code.INVALID_ARGUMENT : Error.Code.INTERNAL;
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
    return HttpResponse.of(
        HttpStatus.valueOf(ErrorCodes.httpStatus(error.getCode())),
        MediaType.JSON_UTF_8,
        print(error));
  }

  private static String print(Error error) {
    try {
      return JSON.print(error);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("an Error always prints as JSON", e);
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
          .setMessage("body: " + JsonRefusals.withoutClassNames(t.getMessage()))
          .build();
    }
    if (t instanceof IllegalArgumentException) {
      return Error.newBuilder()
          .setCode(Error.Code.INVALID_ARGUMENT)
          .setMessage(JsonRefusals.withoutClassNames(t.getMessage()))
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
      message =
          status.getCode()
              + (status.getCause() == null
                  ? ""
                  : ": " + JsonRefusals.withoutClassNames(status.getCause().getMessage()));
    }
    return Error.newBuilder().setCode(code).setMessage(message).build();
  }
}
