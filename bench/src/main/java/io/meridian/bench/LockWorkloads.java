package io.meridian.bench;

import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockReleaseRequest;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * Workloads 4 and 5: one operation is an acquire followed by the release of the same lock by the
 * same session (lease), its latency from the acquire sent to the release acknowledged.
 *
 * <p>Sessions are leases of namespace {@code bench} ({@link Sessions}), granted before and revoked
 * after the run, kept alive every {@code TTL / 3} in between, so no lease expires inside a measured
 * window.
 */
final class LockWorkloads {
  static final long TTL_SECONDS = 60;
  static final int HOT_SESSIONS = 16;
  static final long HOT_TIMEOUT_MS = 10_000;
  static final int MANY_LOCKS = 1_000;
  static final int MANY_SESSIONS = 1_000;
  static final int MANY_WORKERS = 128;

  private final Endpoints endpoints;
  private final LoadDriver driver;
  private final Random random;
  private final Sessions sessions;

  LockWorkloads(Endpoints endpoints, LoadDriver driver, Random random) {
    this.endpoints = endpoints;
    this.driver = driver;
    this.random = random;
    this.sessions = new Sessions(endpoints);
  }

  /** Workload 4: 16 sessions loop acquire (waiting up to 10 s) and release of one lock. */
  Result hotLock() throws InterruptedException {
    long[] leases = sessions.grant(HOT_SESSIONS, TTL_SECONDS);
    try (Sessions.Renewal renewal = sessions.renew(leases, TTL_SECONDS)) {
      String name = "/bench/locks/hot";
      return Bench.progress(
          driver.closed(
              "lock, one hot lock, " + HOT_SESSIONS + " sessions",
              HOT_SESSIONS,
              w -> pair(name, leases[w], HOT_TIMEOUT_MS)));
    } finally {
      sessions.revoke(leases);
    }
  }

  /**
   * Workload 5: 128 workers; each iteration takes a random session and a random lock that no other
   * worker is using, so an acquire never waits (timeout 0).
   */
  Result manyLocks() throws InterruptedException {
    long[] leases = sessions.grant(MANY_SESSIONS, TTL_SECONDS);
    PairPool pool = new PairPool(leases.length, MANY_LOCKS, random);
    try (Sessions.Renewal renewal = sessions.renew(leases, TTL_SECONDS)) {
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
      sessions.revoke(leases);
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
