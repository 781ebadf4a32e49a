package io.meridian.serving;

import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/** Answers a unary gRPC call from a future: its value, or its failure as a Meridian error. */
public final class Replies {
  private Replies() {}

  /** Completes {@code observer} with the call's outcome; synchronous throws become errors too. */
  public static <T> void reply(StreamObserver<T> observer, Supplier<CompletableFuture<T>> call) {
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
}
