package io.meridian.bench;

import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LeaseRevokeRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

/**
 * Lock sessions: leases of namespace {@code bench}, granted before a workload and revoked after it,
 * renewed with {@code Lease.Renew} every {@code TTL / 3} in between, so no lease expires inside a
 * measured window. Grants, renewals and revokes are not measured.
 */
final class Sessions {
  /** Grants and revokes are not measured; this many at a time. */
  static final int SETUP_CONCURRENCY = 64;

  private final Endpoints endpoints;
  private final ScheduledExecutorService keepAlive =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "bench-keepalive");
            t.setDaemon(true);
            return t;
          });

  Sessions(Endpoints endpoints) {
    this.endpoints = endpoints;
  }

  /** Grants {@code count} leases of {@code ttlSeconds}; fails if one grant fails. */
  long[] grant(int count, long ttlSeconds) throws InterruptedException {
    LeaseGrantRequest request =
        LeaseGrantRequest.newBuilder().setNamespace("bench").setTtl(ttlSeconds).build();
    List<CompletableFuture<LeaseGrantResponse>> grants =
        throttled(count, i -> Endpoints.call(endpoints.next().lease()::grant, request));
    long[] ids = new long[count];
    for (int i = 0; i < count; i++) {
      ids[i] = Endpoints.await(grants.get(i)).getId();
    }
    return ids;
  }

  /** Revokes {@code leases}, releasing whatever they hold; prints how many revokes failed. */
  void revoke(long[] leases) throws InterruptedException {
    List<CompletableFuture<Object>> revokes =
        throttled(
            leases.length,
            i ->
                Endpoints.call(
                        endpoints.next().lease()::revoke,
                        LeaseRevokeRequest.newBuilder().setId(leases[i]).build())
                    .thenApply(r -> (Object) r));
    long failed = revokes.stream().filter(CompletableFuture::isCompletedExceptionally).count();
    if (failed > 0) {
      System.err.printf("bench: %d of %d lease revokes failed%n", failed, leases.length);
    }
  }

  /** Renews {@code leases} every {@code ttlSeconds / 3} until the returned renewal is closed. */
  Renewal renew(long[] leases, long ttlSeconds) {
    AtomicLong failures = new AtomicLong();
    long period = Math.max(1, ttlSeconds / 3);
    ScheduledFuture<?> task =
        keepAlive.scheduleAtFixedRate(
            () -> {
              for (long lease : leases) {
                Endpoints.call(
                        endpoints.next().lease()::renew,
                        LeaseKeepAliveRequest.newBuilder().setId(lease).build())
                    .whenComplete(
                        (r, e) -> {
                          if (e != null && failures.getAndIncrement() == 0) {
                            System.err.println(
                                "bench: lease keep-alive failed: " + Endpoints.describe(e));
                          }
                        });
              }
            },
            period,
            period,
            TimeUnit.SECONDS);
    return new Renewal(task, failures);
  }

  /** Starts {@code count} calls, at most {@link #SETUP_CONCURRENCY} at a time; waits for all. */
  static <T> List<CompletableFuture<T>> throttled(int count, IntFunction<CompletableFuture<T>> call)
      throws InterruptedException {
    Semaphore permits = new Semaphore(SETUP_CONCURRENCY);
    List<CompletableFuture<T>> calls = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      permits.acquire();
      CompletableFuture<T> c;
      try {
        c = call.apply(i);
      } catch (RuntimeException e) {
        c = CompletableFuture.failedFuture(e);
      }
      calls.add(c.whenComplete((r, e) -> permits.release()));
    }
    permits.acquire(SETUP_CONCURRENCY);
    return calls;
  }

  /** A running keep-alive task; {@link #close()} stops it. */
  static final class Renewal implements AutoCloseable {
    private final ScheduledFuture<?> task;
    private final AtomicLong failures;

    private Renewal(ScheduledFuture<?> task, AtomicLong failures) {
      this.task = task;
      this.failures = failures;
    }

    /** Keep-alives that failed so far. */
    long failures() {
      return failures.get();
    }

    @Override
    public void close() {
      task.cancel(false);
    }
  }
}
