package io.meridian.client;

import com.github.benmanes.caffeine.cache.Ticker;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LeaseKeepAliveResponse;
import io.meridian.api.v1.LeaseRevokeRequest;
import io.meridian.api.v1.LeaseRevokeResponse;
import io.meridian.api.v1.LeaseTimeToLiveRequest;
import io.meridian.api.v1.LeaseTimeToLiveResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;

/**
 * Leases: grant, renew, revoke, time to live, and {@link Session}s that keep a lease alive. Every
 * call is safe to retry (grants and revokes carry a request id).
 *
 * <pre>{@code
 * try (Session session = client.leases().session("orders", Duration.ofSeconds(10))) {
 *   session.lost().thenAccept(loss -> log.warn("lease lost: {}", loss.reason()));
 *   client.kv().put(PutRequest.newBuilder().setKey("/orders/owner").setLease(session.leaseId())...);
 * }
 * }</pre>
 */
public final class LeaseClient {
  private final LeaseGrpc.LeaseStub stub;
  private final ScheduledExecutorService timer;
  private final Ticker ticker;
  private final Supplier<String> requestIds;

  LeaseClient(
      LeaseGrpc.LeaseStub stub,
      ScheduledExecutorService timer,
      Ticker ticker,
      Supplier<String> requestIds) {
    this.stub = stub;
    this.timer = timer;
    this.ticker = ticker;
    this.requestIds = requestIds;
  }

  /** Grants a lease of {@code ttl} (whole seconds) in {@code namespace}. */
  public CompletableFuture<LeaseGrantResponse> grantAsync(String namespace, Duration ttl) {
    return Unary.call(
        stub::grant,
        LeaseGrantRequest.newBuilder()
            .setNamespace(namespace)
            .setTtl(ttl.toSeconds())
            .setRequestId(requestIds.get())
            .build(),
        true);
  }

  public LeaseGrantResponse grant(String namespace, Duration ttl) {
    return Unary.await(grantAsync(namespace, ttl));
  }

  /** One keep-alive, answered by the shard's leader with the lease's TTL. */
  public CompletableFuture<LeaseKeepAliveResponse> renewAsync(long id) {
    return Unary.call(stub::renew, LeaseKeepAliveRequest.newBuilder().setId(id).build(), true);
  }

  /** The lease's remaining time to live, as the leader sees it; optionally its keys. */
  public CompletableFuture<LeaseTimeToLiveResponse> timeToLiveAsync(long id, boolean keys) {
    return Unary.call(
        stub::timeToLive,
        LeaseTimeToLiveRequest.newBuilder().setId(id).setKeys(keys).build(),
        true);
  }

  public LeaseTimeToLiveResponse timeToLive(long id) {
    return Unary.await(timeToLiveAsync(id, false));
  }

  /** Ends the lease now: its keys are deleted and its locks released. */
  public CompletableFuture<LeaseRevokeResponse> revokeAsync(long id) {
    return Unary.call(
        stub::revoke,
        LeaseRevokeRequest.newBuilder().setId(id).setRequestId(requestIds.get()).build(),
        true);
  }

  public LeaseRevokeResponse revoke(long id) {
    return Unary.await(revokeAsync(id));
  }

  /** Grants a lease and keeps it alive in the background until the session is closed or lost. */
  public CompletableFuture<Session> sessionAsync(String namespace, Duration ttl) {
    long sent = ticker.read();
    return grantAsync(namespace, ttl)
        .thenApply(granted -> Session.start(this, timer, ticker, granted, sent));
  }

  public Session session(String namespace, Duration ttl) {
    return Unary.await(sessionAsync(namespace, ttl));
  }
}
