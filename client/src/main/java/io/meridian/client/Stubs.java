package io.meridian.client;

import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.RegistryGrpc;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.api.v1.WatchGrpc;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;

/**
 * Request-level access to a {@link MeridianClient}'s endpoints, for proxies that pass whole
 * requests through (the federation router) and for the replication bridge. {@code watch}, {@code
 * registryWatch} (the registry's WatchService) and {@code feed} are for streams: no retries, no
 * response timeout; {@code waitingRegistry} is for blocking discovery (a Discover with {@code
 * wait_revision}): retried, but with no per-attempt timeout, so give it a deadline of the wait plus
 * the request timeout; {@code replication} is for the Replication service's unary calls, all of
 * which are safe to repeat; {@code clusterStream} is for the Cluster service's streams (a snapshot
 * stream): no retries, no response timeout, no length limit. Calls made here get the client's
 * failover: health checks, per-endpoint circuit breakers and retries under {@link RetryPolicy}'s
 * rules; a stub's {@code withDeadline} bounds the whole call. Applications use the typed clients
 * instead.
 *
 * <pre>{@code
 * Stubs stubs = client.stubs();
 * CompletableFuture<PutResponse> put =
 *     Stubs.call(stubs.kv().withDeadline(deadline)::put, request, true);
 * }</pre>
 */
public record Stubs(
    KVGrpc.KVStub kv,
    LeaseGrpc.LeaseStub lease,
    LockGrpc.LockStub lock,
    RegistryGrpc.RegistryStub registry,
    RegistryGrpc.RegistryStub waitingRegistry,
    RegistryGrpc.RegistryStub registryWatch,
    ClusterGrpc.ClusterStub cluster,
    WatchGrpc.WatchStub watch,
    ReplicationGrpc.ReplicationStub replication,
    ReplicationGrpc.ReplicationStub feed,
    ClusterGrpc.ClusterStub clusterStream) {

  /**
   * Calls {@code method} with {@code request}; the future fails with the {@link
   * io.meridian.api.MeridianException} the member sent, or one made from the transport failure.
   * {@code repeatable}: whether trying again after the request reached a member is safe (reads, and
   * writes with a request id); if not, an answer that never came is {@code OUTCOME_UNKNOWN}.
   */
  public static <Q, R> CompletableFuture<R> call(
      BiConsumer<Q, StreamObserver<R>> method, Q request, boolean repeatable) {
    return Unary.call(method, request, repeatable);
  }

  /**
   * The {@link io.meridian.api.MeridianException} a failed call or stream stands for: the member's
   * error (from the {@code meridian-error-bin} trailer), or one made from the transport failure.
   */
  public static io.meridian.api.MeridianException failure(Throwable t) {
    return Unary.failure(t, true);
  }
}
