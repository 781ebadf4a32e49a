package io.meridian.cluster.watch;

import io.grpc.stub.ServerCallStreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.WatchResponse;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * Sends watch responses on a gRPC server stream, respecting its flow control, converted to the
 * stream's message type; a conversion that yields null sends nothing.
 */
public final class GrpcWatchSink<T> implements WatchSink {
  private final ServerCallStreamObserver<T> call;
  private final Executor executor;
  private final Function<WatchResponse, T> convert;

  public GrpcWatchSink(
      ServerCallStreamObserver<T> call, Executor executor, Function<WatchResponse, T> convert) {
    this.call = call;
    this.executor = executor;
    this.convert = convert;
  }

  @Override
  public Executor executor() {
    return executor;
  }

  @Override
  public boolean isReady() {
    return call.isReady() && !call.isCancelled();
  }

  @Override
  public void send(WatchResponse response) {
    T message;
    try {
      message = convert.apply(response);
    } catch (MeridianException e) {
      fail(e);
      return;
    }
    if (message != null) {
      call.onNext(message);
    }
  }

  @Override
  public void onReady(Runnable drain) {
    call.setOnReadyHandler(drain);
  }

  @Override
  public void fail(MeridianException error) {
    if (!call.isCancelled()) {
      call.onError(error);
    }
  }
}
