package io.meridian.router;

import io.grpc.Deadline;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.StreamObserver;
import io.meridian.client.Stubs;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * One unary call to a region cluster, bounded by a deadline: a request and the stub method that
 * sends it, through the cluster client's failover ({@link Stubs}). Every call the router makes is
 * safe to repeat (reads, and writes that carry a request id).
 *
 * <pre>{@code
 * UpstreamCall<PutResponse> put = UpstreamCall.of(request, Stubs::kv, KVGrpc.KVStub::put);
 * }</pre>
 */
@FunctionalInterface
interface UpstreamCall<R> {
  CompletableFuture<R> on(Stubs stubs, Deadline deadline);

  /** A unary method of a gRPC stub, such as {@code KVGrpc.KVStub::put}. */
  @FunctionalInterface
  interface StubMethod<S, Q, R> {
    void call(S stub, Q request, StreamObserver<R> responses);
  }

  /** {@code request} sent by {@code method} of the stub {@code service} picks from the stubs. */
  static <S extends AbstractStub<S>, Q, R> UpstreamCall<R> of(
      Q request, Function<Stubs, S> service, StubMethod<S, Q, R> method) {
    return (stubs, deadline) -> {
      S stub = service.apply(stubs).withDeadline(deadline);
      return Stubs.call((q, responses) -> method.call(stub, q, responses), request, true);
    };
  }
}
