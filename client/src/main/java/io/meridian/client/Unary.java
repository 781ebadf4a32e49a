package io.meridian.client;

import com.linecorp.armeria.client.UnprocessedRequestException;
import com.linecorp.armeria.client.circuitbreaker.FailFastException;
import com.linecorp.armeria.client.endpoint.EndpointGroupException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.meridian.api.ErrorCodes;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiConsumer;

/**
 * One unary gRPC call as a {@link CompletableFuture}, failing with the {@link MeridianException}
 * the member sent ({@code meridian-error-bin}), or one the client made from the transport failure.
 */
final class Unary {
  private Unary() {}

  /**
   * Calls {@code method} with {@code request}. {@code repeatable}: whether a retry after the
   * request reached a member is safe; if not, an answer that never came is {@code OUTCOME_UNKNOWN}.
   */
  static <Q, R> CompletableFuture<R> call(
      BiConsumer<Q, StreamObserver<R>> method, Q request, boolean repeatable) {
    CompletableFuture<R> result = new CompletableFuture<>();
    StreamObserver<R> observer =
        new StreamObserver<>() {
          @Override
          public void onNext(R value) {
            result.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(failure(t, repeatable));
          }

          @Override
          public void onCompleted() {
            if (!result.isDone()) {
              result.completeExceptionally(
                  MeridianException.of(Error.Code.INTERNAL, "the call ended without an answer"));
            }
          }
        };
    try {
      method.accept(request, observer);
    } catch (RuntimeException e) {
      result.completeExceptionally(failure(e, repeatable));
    }
    return result;
  }

  /** Waits for {@code future}, rethrowing its failure ({@link MeridianException} mostly) as is. */
  static <R> R await(CompletableFuture<R> future) {
    try {
      return future.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw e;
    }
  }

  static MeridianException failure(Throwable t, boolean repeatable) {
    if (t instanceof MeridianException m) {
      return m;
    }
    if (neverSent(t)) {
      return new MeridianException(
          Error.Code.UNAVAILABLE,
          "no Meridian endpoint reachable (request not sent): " + describe(t));
    }
    Status status = Status.fromThrowable(t);
    Error carried = ErrorCodes.errorOf(t);
    MeridianException sent = carried == null ? null : MeridianException.fromError(carried);
    Error.Code code = sent != null ? sent.code() : codeOf(status);
    String message = sent != null ? sent.getMessage() : describe(t);
    if (!repeatable && (code == Error.Code.UNAVAILABLE || code == Error.Code.DEADLINE_EXCEEDED)) {
      return new MeridianException(
          Error.Code.OUTCOME_UNKNOWN,
          "the write may or may not have been applied; read before trying again: " + message);
    }
    return sent != null ? sent : new MeridianException(code, message);
  }

  private static boolean neverSent(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof UnprocessedRequestException
          || c instanceof FailFastException
          || c instanceof EndpointGroupException) {
        return true;
      }
    }
    return false;
  }

  private static Error.Code codeOf(Status status) {
    return switch (status.getCode()) {
      case UNAVAILABLE, CANCELLED, ABORTED -> Error.Code.UNAVAILABLE;
      case DEADLINE_EXCEEDED -> Error.Code.DEADLINE_EXCEEDED;
      case INVALID_ARGUMENT -> Error.Code.INVALID_ARGUMENT;
      case NOT_FOUND -> Error.Code.NOT_FOUND;
      case UNAUTHENTICATED -> Error.Code.UNAUTHENTICATED;
      case PERMISSION_DENIED -> Error.Code.PERMISSION_DENIED;
      case RESOURCE_EXHAUSTED -> Error.Code.NO_SPACE;
      default -> Error.Code.INTERNAL;
    };
  }

  private static String describe(Throwable t) {
    if (t instanceof StatusRuntimeException s) {
      Status status = s.getStatus();
      String text = status.getCode().toString();
      if (status.getDescription() != null) {
        text += ": " + status.getDescription();
      }
      if (status.getCause() != null) {
        text += " (" + describe(status.getCause()) + ")";
      }
      return text;
    }
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root.getClass().getSimpleName() + ": " + root.getMessage();
  }
}
