package io.meridian.bench;

import com.linecorp.armeria.client.grpc.GrpcClientBuilder;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.RegistryGrpc;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/**
 * Asynchronous gRPC stubs for every node of the cluster. {@link #next()} spreads requests
 * round-robin: any node accepts any request (writes and linearizable reads are forwarded to the
 * leader by the node).
 */
final class Endpoints {
  /** Longer than the longest lock wait the workloads ask for (10 s), plus forwarding. */
  private static final Duration RESPONSE_TIMEOUT = Duration.ofSeconds(30);

  /** The stubs of one node. */
  record Node(
      String url,
      KVGrpc.KVStub kv,
      LeaseGrpc.LeaseStub lease,
      LockGrpc.LockStub lock,
      RegistryGrpc.RegistryStub registry) {}

  private final List<Node> nodes;
  private final AtomicLong counter = new AtomicLong();

  private Endpoints(List<Node> nodes) {
    this.nodes = List.copyOf(nodes);
  }

  static Endpoints of(List<String> urls) {
    List<Node> nodes = new ArrayList<>();
    for (String url : urls) {
      GrpcClientBuilder builder = GrpcClients.builder(url).responseTimeout(RESPONSE_TIMEOUT);
      nodes.add(
          new Node(
              url,
              builder.build(KVGrpc.KVStub.class),
              builder.build(LeaseGrpc.LeaseStub.class),
              builder.build(LockGrpc.LockStub.class),
              builder.build(RegistryGrpc.RegistryStub.class)));
    }
    return new Endpoints(nodes);
  }

  /** The next node in round-robin order. */
  Node next() {
    return nodes.get((int) Math.floorMod(counter.getAndIncrement(), (long) nodes.size()));
  }

  /** Every node, in the order of the URLs given to {@link #of}. */
  List<Node> nodes() {
    return nodes;
  }

  /** Calls a unary method of an asynchronous stub, e.g. {@code call(node.kv()::put, request)}. */
  static <Q, R> CompletableFuture<R> call(BiConsumer<Q, StreamObserver<R>> method, Q request) {
    CompletableFuture<R> result = new CompletableFuture<>();
    try {
      method.accept(request, new Unary<>(result));
    } catch (RuntimeException e) {
      result.completeExceptionally(e);
    }
    return result;
  }

  /** Waits for {@code future}, rethrowing its failure unchecked. */
  static <T> T await(CompletableFuture<T> future) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(describe(e), e.getCause());
    }
  }

  /** A short description of a failed call: the gRPC status and message when there is one. */
  static String describe(Throwable t) {
    Throwable cause = MeridianException.causeOf(t);
    if (cause instanceof StatusRuntimeException s) {
      return s.getStatus().getCode()
          + (s.getStatus().getDescription() == null ? "" : ": " + s.getStatus().getDescription());
    }
    return cause.getClass().getSimpleName() + ": " + cause.getMessage();
  }

  private static final class Unary<R> implements StreamObserver<R> {
    private final CompletableFuture<R> result;
    private R value;

    Unary(CompletableFuture<R> result) {
      this.result = result;
    }

    @Override
    public void onNext(R value) {
      this.value = value;
    }

    @Override
    public void onError(Throwable t) {
      result.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {
      result.complete(value);
    }
  }
}
