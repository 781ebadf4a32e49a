package io.meridian.client;

import com.linecorp.armeria.client.Clients;
import com.linecorp.armeria.common.util.SafeCloseable;
import com.linecorp.armeria.common.util.TimeoutMode;
import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.LockReleaseRequest;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Fenced locks held through a {@link Session}. {@link #lock(String, Duration)} uses the client's
 * own session for the lock's namespace (created on first use, replaced once lost); pass a session
 * to tie locks to one you manage.
 *
 * <pre>{@code
 * try (LockHandle h = client.locks().lock("/jobs/locks/report", Duration.ofSeconds(10))) {
 *   long token = h.fencingToken();
 *   if (h.isValid()) { writeReport(token); }
 * }
 * }</pre>
 */
public final class LockClient {
  /** The TTL of the sessions the client opens for {@link #lock(String, Duration)}. */
  public static final Duration DEFAULT_SESSION_TTL = Duration.ofSeconds(10);

  // Extra time for an acquire beyond its wait: the member answers LOCK_TIMEOUT at the wait's end.
  private static final long ANSWER_MARGIN_MS = 5_000;

  private final LockGrpc.LockStub stub;
  private final KvClient kv;
  private final LeaseClient leases;
  private final Supplier<String> requestIds;
  private final Map<String, CompletableFuture<Session>> sessions = new ConcurrentHashMap<>();

  LockClient(LockGrpc.LockStub stub, KvClient kv, LeaseClient leases, Supplier<String> requestIds) {
    this.stub = stub;
    this.kv = kv;
    this.leases = leases;
    this.requestIds = requestIds;
  }

  KvClient kv() {
    return kv;
  }

  /**
   * Acquires the exclusive lock {@code name}, waiting up to {@code wait} behind earlier holders
   * ({@code LOCK_TIMEOUT} after that), through {@code session}'s lease.
   */
  public CompletableFuture<LockHandle> lockAsync(Session session, String name, Duration wait) {
    if (wait.isNegative()) {
      return CompletableFuture.failedFuture(
          MeridianException.of(Error.Code.INVALID_ARGUMENT, "wait: %s (expected: >= 0)", wait));
    }
    LockAcquireRequest request =
        LockAcquireRequest.newBuilder()
            .setName(name)
            .setLease(session.leaseId())
            .setTimeoutMs(wait.toMillis())
            .setRequestId(requestIds.get())
            .build();
    try (SafeCloseable ignored =
        Clients.withContextCustomizer(
            ctx ->
                ctx.setResponseTimeoutMillis(
                    TimeoutMode.SET_FROM_NOW, wait.toMillis() + ANSWER_MARGIN_MS))) {
      return Unary.call(stub::acquire, request, true)
          .thenApply(granted -> new LockHandle(this, session, granted));
    }
  }

  public LockHandle lock(Session session, String name, Duration wait) {
    return Unary.await(lockAsync(session, name, wait));
  }

  /** Acquires {@code name} through the client's own session for the lock's namespace. */
  public CompletableFuture<LockHandle> lockAsync(String name, Duration wait) {
    String namespace;
    try {
      namespace = KeyPath.namespaceOf(name);
    } catch (MeridianException e) {
      return CompletableFuture.failedFuture(e);
    }
    return session(namespace).thenCompose(s -> lockAsync(s, name, wait));
  }

  public LockHandle lock(String name, Duration wait) {
    return Unary.await(lockAsync(name, wait));
  }

  CompletableFuture<Void> release(String name, long lease) {
    return Unary.call(
            stub::release,
            LockReleaseRequest.newBuilder()
                .setName(name)
                .setLease(lease)
                .setRequestId(requestIds.get())
                .build(),
            true)
        .thenApply(r -> null);
  }

  /** The client's session for {@code namespace}: a live one, or a new one if none is. */
  private CompletableFuture<Session> session(String namespace) {
    return sessions.compute(
        namespace,
        (ns, current) -> {
          boolean usable =
              current != null
                  && (!current.isDone()
                      || (!current.isCompletedExceptionally() && current.join().isAlive()));
          return usable ? current : leases.sessionAsync(ns, DEFAULT_SESSION_TTL);
        });
  }

  /** Closes the sessions this client opened for {@link #lock(String, Duration)}. */
  void close() {
    CompletableFuture<?>[] revokes =
        sessions.values().stream()
            .map(f -> f.thenCompose(Session::closeAsync).exceptionally(t -> null))
            .toArray(CompletableFuture[]::new);
    sessions.clear();
    try {
      CompletableFuture.allOf(revokes).get(2, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      // Unrevoked leases expire after their TTL.
    }
  }
}
