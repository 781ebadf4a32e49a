package io.meridian.bench;

import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LeaseRevokeRequest;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockReleaseRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Workloads 4 and 5: one operation is an acquire followed by the release of the same lock by the
 * same session (lease), its latency from the acquire sent to the release acknowledged.
 *
 * <p>Sessions are leases of namespace {@code bench}, granted before and revoked after the run, kept
 * alive every {@code TTL / 3} in between, so no lease expires inside a measured window.
 */
final class LockWorkloads {
  static final long TTL_SECONDS = 60;
  static final int HOT_SESSIONS = 16;
  static final long HOT_TIMEOUT_MS = 10_000;
  static final int MANY_LOCKS = 1_000;
  static final int MANY_SESSIONS = 1_000;
  static final int MANY_WORKERS = 128;

  /** Grants and revokes before and after a run are not measured; this many at a time. */
  private static final int SETUP_CONCURRENCY = 64;

  private final Endpoints endpoints;
  private final LoadDriver driver;
  private final Random random;
  private final ScheduledExecutorService keepAlive =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "bench-keepalive");
            t.setDaemon(true);
            return t;
          });

  LockWorkloads(Endpoints endpoints, LoadDriver driver, Random random) {
    this.endpoints = endpoints;
    this.driver = driver;
    this.random = random;
  }

  /** Workload 4: 16 sessions loop acquire (waiting up to 10 s) and release of one lock. */
  Result hotLock() throws InterruptedException {
    long[] leases = grant(HOT_SESSIONS);
    try (Renewal renewal = renew(leases)) {
      String name = "/bench/locks/hot";
      return Bench.progress(
          driver.closed(
              "lock, one hot lock, " + HOT_SESSIONS + " sessions",
              HOT_SESSIONS,
              w -> pair(name, leases[w], HOT_TIMEOUT_MS)));
    } finally {
      revoke(leases);
    }
  }

  /**
   * Workload 5: 128 workers; each iteration takes a random session and a random lock that no other
   * worker is using, so an acquire never waits (timeout 0).
   */
  Result manyLocks() throws InterruptedException {
    long[] leases = grant(MANY_SESSIONS);
    PairPool pool = new PairPool(leases.length, MANY_LOCKS, random);
    try (Renewal renewal = renew(leases)) {
      return Bench.progress(
          driver.closed(
              "lock, " + MANY_LOCKS + " locks, " + leases.length + " sessions",
              MANY_WORKERS,
              w -> {
                int[] pair = pool.take();
                return pair("/bench/locks/l" + pair[1], leases[pair[0]], 0)
                    .whenComplete((r, e) -> pool.give(pair[0], pair[1]));
              }));
    } finally {
      revoke(leases);
    }
  }

  private CompletableFuture<?> pair(String name, long lease, long timeoutMs) {
    Endpoints.Node node = endpoints.next();
    LockAcquireRequest acquire =
        LockAcquireRequest.newBuilder()
            .setName(name)
            .setLease(lease)
            .setTimeoutMs(timeoutMs)
            .build();
    LockReleaseRequest release =
        LockReleaseRequest.newBuilder().setName(name).setLease(lease).build();
    return Endpoints.call(node.lock()::acquire, acquire)
        .thenCompose(granted -> Endpoints.call(endpoints.next().lock()::release, release));
  }

  private long[] grant(int count) throws InterruptedException {
    LeaseGrantRequest request =
        LeaseGrantRequest.newBuilder().setNamespace("bench").setTtl(TTL_SECONDS).build();
    List<CompletableFuture<LeaseGrantResponse>> grants =
        throttled(count, i -> Endpoints.call(endpoints.next().lease()::grant, request));
    long[] ids = new long[count];
    for (int i = 0; i < count; i++) {
      ids[i] = Endpoints.await(grants.get(i)).getId();
    }
    return ids;
  }

  private void revoke(long[] leases) throws InterruptedException {
    List<CompletableFuture<Object>> revokes =
        throttled(
            leases.length,
            i ->
                Endpoints.call(
                        endpoints.next().lease()::revoke,
                        LeaseRevokeRequest.newBuilder().setId(leases[i]).build())
                    .thenApply(r -> (Object) r));
    long failed = revokes.stream().filter(f -> f.isCompletedExceptionally()).count();
    if (failed > 0) {
      System.err.printf("bench: %d of %d lease revokes failed%n", failed, leases.length);
    }
  }

  /** Starts {@code count} calls, at most {@link #SETUP_CONCURRENCY} at a time; waits for all. */
  private static <T> List<CompletableFuture<T>> throttled(
      int count, Function<Integer, CompletableFuture<T>> call) throws InterruptedException {
    Semaphore permits = new Semaphore(SETUP_CONCURRENCY);
    List<CompletableFuture<T>> calls = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      permits.acquire();
      calls.add(call.apply(i).whenComplete((r, e) -> permits.release()));
    }
    permits.acquire(SETUP_CONCURRENCY);
    return calls;
  }

  private Renewal renew(long[] leases) {
    AtomicLong failures = new AtomicLong();
    long period = TTL_SECONDS / 3;
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
    return () -> task.cancel(false);
  }

  /** Stops a lease keep-alive task. */
  private interface Renewal extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * Free sessions and free locks; a worker takes one of each at random and gives both back when its
   * operation completes, so no two workers use the same session or the same lock.
   */
  static final class PairPool {
    // Guarded by this.
    private final int[] freeLeases;
    private final int[] freeLocks;
    private int leaseCount;
    private int lockCount;
    private final Random random;

    PairPool(int leases, int locks, Random random) {
      this.freeLeases = range(leases);
      this.freeLocks = range(locks);
      this.leaseCount = leases;
      this.lockCount = locks;
      this.random = random;
    }

    /** Returns {@code {lease index, lock index}}. */
    synchronized int[] take() {
      if (leaseCount == 0 || lockCount == 0) {
        throw new IllegalStateException("more workers than sessions or locks");
      }
      return new int[] {
        removeRandom(freeLeases, leaseCount--), removeRandom(freeLocks, lockCount--)
      };
    }

    synchronized void give(int lease, int lock) {
      freeLeases[leaseCount++] = lease;
      freeLocks[lockCount++] = lock;
    }

    private int removeRandom(int[] free, int count) {
      int i = random.nextInt(count);
      int taken = free[i];
      free[i] = free[count - 1];
      return taken;
    }

    private static int[] range(int n) {
      int[] a = new int[n];
      for (int i = 0; i < n; i++) {
        a[i] = i;
      }
      return a;
    }
  }
}
