package io.meridian.cluster.service;

import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.QueryResult;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/** Small glue between futures and gRPC observers, shared by the services. */
final class Calls {
  private Calls() {}

  /** Completes {@code observer} with the call's outcome; synchronous throws become errors too. */
  static <T> void reply(StreamObserver<T> observer, Supplier<CompletableFuture<T>> call) {
    CompletableFuture<T> future;
    try {
      future = call.get();
    } catch (RuntimeException e) {
      observer.onError(e);
      return;
    }
    future.whenComplete(
        (value, error) -> {
          if (error != null) {
            observer.onError(error);
          } else {
            observer.onNext(value);
            observer.onCompleted();
          }
        });
  }

  /** The result, or its error thrown as a {@link MeridianException}. */
  static CommandResult ok(CommandResult result) {
    if (result.hasError()) {
      throw MeridianException.fromError(result.getError());
    }
    return result;
  }

  static QueryResult ok(QueryResult result) {
    if (result.hasError()) {
      throw MeridianException.fromError(result.getError());
    }
    return result;
  }
}
