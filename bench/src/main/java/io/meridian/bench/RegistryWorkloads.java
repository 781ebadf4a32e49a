package io.meridian.bench;

import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.HeartbeatRequest;
import io.meridian.api.v1.HeartbeatResponse;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.RegisterRequest;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Workload {@code registry}, the target "50,000 instances across 5,000 services on one 3-node
 * cluster with heartbeats every 10 s", in phases on one cluster:
 *
 * <pre>
 *   heap ─► register 50,000 ─► heap ─► heartbeats + Discover ─► acquire 100,000 locks ─► heap
 *           |◄─── each registered instance heartbeats every 10 s, from registration on ───►|
 * </pre>
 *
 * <ol>
 *   <li>Register instance {@code i} ({@code 0..49,999}) of service {@code svc-<i mod 5000>} in
 *       namespace {@code bench}, TTL 30 s, heartbeat interval 10 s, in one of 3 regions and 9
 *       zones, {@link #REGISTER_CONCURRENCY} registrations outstanding.
 *   <li>Heartbeats run from the start of registration to the end of the workload as an open loop at
 *       5,000/s round-robin over the 3 nodes: slot {@code i} is due every 10 s and heartbeats
 *       instance {@code i} once it is registered, so its TTL never runs out. One warm-up plus
 *       measured window of them is measured, while Discover (passing only, LOCAL, a random service)
 *       runs at concurrency 16.
 *   <li>1,000 sessions (leases, TTL 60 s, renewed with Lease.Renew) acquire 100,000 locks {@code
 *       /bench/locks/h<n>} ({@code timeout_ms} 0), 100 per session.
 *   <li>Each node JVM runs a full GC ({@code jcmd GC.run}) and its used heap is read ({@code jcmd
 *       GC.heap_info}) before registration, after it, and with everything held and heartbeating.
 *       The differences give heap per instance and per held lock.
 * </ol>
 *
 * Registration and locking stop starting operations after {@link #REGISTER_LIMIT} and {@link
 * #LOCK_LIMIT}, so one run stays bounded on a slow cluster; the report then says how many were
 * registered and held. Afterwards the sessions are revoked and the instances are left to expire, so
 * this workload runs last. {@code scale} shrinks every count for a quick check of the harness.
 */
final class RegistryWorkloads {
  static final String NAMESPACE = "bench";
  static final int INSTANCES = 50_000;
  static final int INSTANCES_PER_SERVICE = 10;
  static final long TTL_SECONDS = 30;
  static final long HEARTBEAT_INTERVAL_MS = 10_000;
  static final int REGISTER_CONCURRENCY = 256;
  static final int DISCOVER_CONCURRENCY = 16;
  static final int LOCKS_PER_INSTANCE = 2;
  static final int SESSIONS = 1_000;
  static final long SESSION_TTL_SECONDS = 60;
  static final int LOCK_CONCURRENCY = 256;
  static final Duration REGISTER_LIMIT = Duration.ofMinutes(6);
  static final Duration LOCK_LIMIT = Duration.ofMinutes(5);

  /** Heartbeats in flight beyond this are not sent (and count as errors). */
  private static final int MAX_OUTSTANDING_HEARTBEATS = 20_000;

  private static final String[] REGIONS = {"us-east", "eu-west", "ap-south"};
  private static final String[] ZONES = {"a", "b", "c"};

  private final Endpoints endpoints;
  private final LoadDriver driver;
  private final Random random;
  private final Sessions sessions;
  private final int instances;
  private final int services;
  private final int locks;
  private final int sessionCount;
  private final AtomicIntegerArray registered;
  private final LongAdder heartbeatsAnswered = new LongAdder();
  private final LongAdder heartbeatsSelfPreserving = new LongAdder();

  RegistryWorkloads(Endpoints endpoints, LoadDriver driver, Random random, double scale) {
    this.endpoints = endpoints;
    this.driver = driver;
    this.random = random;
    this.sessions = new Sessions(endpoints);
    this.instances = instances(scale);
    this.services = instances / INSTANCES_PER_SERVICE;
    this.locks = instances * LOCKS_PER_INSTANCE;
    this.sessionCount = sessions(scale);
    this.registered = new AtomicIntegerArray(instances);
  }

  private static int instances(double scale) {
    return Math.max(INSTANCES_PER_SERVICE, (int) Math.round(INSTANCES * scale));
  }

  private static int sessions(double scale) {
    return Math.max(1, Math.min(SESSIONS, (int) Math.round(SESSIONS * scale)));
  }

  private static double heartbeatRate(int instances) {
    return instances * 1000.0 / HEARTBEAT_INTERVAL_MS;
  }

  /**
   * Runs the phases; adds each phase's row to {@code results} as it ends, and the heap figures and
   * what else was seen to {@code notes}. A failed lock phase is noted; the heap is measured anyway.
   */
  void run(NodeProcesses nodes, List<Result> results, List<String> notes)
      throws InterruptedException {
    ClusterSnapshot empty = ClusterSnapshot.take("heap before registration", nodes);
    try (PacedLoad heartbeats =
        PacedLoad.start(
            "heartbeats",
            heartbeatRate(instances),
            instances,
            MAX_OUTSTANDING_HEARTBEATS,
            Duration.ofHours(1),
            slot -> registered.get(slot) == 0 ? null : heartbeat(slot))) {
      results.add(
          Bench.progress(
              driver.batch(
                  "registry register",
                  REGISTER_CONCURRENCY,
                  instances,
                  REGISTER_LIMIT,
                  i -> register(i).thenRun(() -> registered.set(i, 1)))));
      ClusterSnapshot withInstances = ClusterSnapshot.take("heap after registration", nodes);

      long answeredBefore = heartbeatsAnswered.sum();
      long preservingBefore = heartbeatsSelfPreserving.sum();
      LongAdder discovered = new LongAdder();
      LongAdder discoverCalls = new LongAdder();
      CompletableFuture<Result> discover =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return driver.closed(
                      "registry discover (passing, LOCAL) during heartbeats",
                      DISCOVER_CONCURRENCY,
                      w ->
                          discover()
                              .thenAccept(
                                  r -> {
                                    discoverCalls.increment();
                                    discovered.add(r.getInstancesCount());
                                  }));
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  throw new CompletionException(e);
                }
              });
      results.add(
          Bench.progress(
              heartbeats.measure(
                  "registry heartbeat",
                  String.format(
                      Locale.ROOT,
                      "open loop, %,.0f/s scheduled (each instance every 10 s)",
                      heartbeatRate(instances)),
                  driver.warmup(),
                  driver.duration())));
      results.add(Bench.progress(discover.join()));
      long answeredInWindow = heartbeatsAnswered.sum() - answeredBefore;
      long preservingInWindow = heartbeatsSelfPreserving.sum() - preservingBefore;

      long[] leases = null;
      Sessions.Renewal renewal = null;
      try {
        leases = sessions.grant(sessionCount, SESSION_TTL_SECONDS);
        renewal = sessions.renew(leases, SESSION_TTL_SECONDS);
        long[] held = leases;
        results.add(
            Bench.progress(
                driver.batch(
                    "registry lock acquire (held; " + sessionCount + " sessions)",
                    LOCK_CONCURRENCY,
                    locks,
                    LOCK_LIMIT,
                    n -> acquire(n, held[n % held.length]))));
      } catch (IllegalStateException e) {
        System.err.println("bench: registry: lock phase failed: " + e.getMessage());
        notes.add(
            "**Registry: the lock phase failed** (`"
                + e.getMessage()
                + "`); the heap below was measured without all of the locks.\n");
      }
      try {
        ClusterSnapshot full = ClusterSnapshot.take("heap with instances and locks", nodes);
        notes.add(RegistryReport.heap(empty, withInstances, full, instances, locks, sessionCount));
        notes.add(
            String.format(
                Locale.ROOT,
                "Registry heartbeats: %,d sent from the first registration to the last heap"
                    + " measurement, %,d failed or not sent (first outside the measured window:"
                    + " %s); %,d of %,d answers carried self_preservation=true (%,d of %,d in the"
                    + " measured window and its warm-up). Discover returned %.2f instances per"
                    + " call on average (%d registered per service). Lock session keep-alives"
                    + " failed: %d.%n",
                heartbeats.sent(),
                heartbeats.failed(),
                heartbeats.firstBackgroundError() == null
                    ? "none"
                    : "`" + heartbeats.firstBackgroundError() + "`",
                heartbeatsSelfPreserving.sum(),
                heartbeatsAnswered.sum(),
                preservingInWindow,
                answeredInWindow,
                discoverCalls.sum() == 0 ? 0.0 : (double) discovered.sum() / discoverCalls.sum(),
                INSTANCES_PER_SERVICE,
                renewal == null ? 0 : renewal.failures()));
      } finally {
        if (renewal != null) {
          renewal.close();
        }
        if (leases != null) {
          sessions.revoke(leases);
        }
      }
    }
  }

  private CompletableFuture<?> register(int i) {
    String region = REGIONS[i % REGIONS.length];
    String zone = region + "-" + ZONES[(i / REGIONS.length) % ZONES.length];
    RegisterRequest request =
        RegisterRequest.newBuilder()
            .setNamespace(NAMESPACE)
            .setService(service(i))
            .setInstanceId(instanceId(i))
            .setAddress(String.format("10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255))
            .setPort(8080)
            .setRegion(region)
            .setZone(zone)
            .addTags("zone:" + zone)
            .addTags("v1")
            .setTtl(TTL_SECONDS)
            .setHeartbeatIntervalMs(HEARTBEAT_INTERVAL_MS)
            .build();
    return Endpoints.call(endpoints.next().registry()::register, request);
  }

  private CompletableFuture<HeartbeatResponse> heartbeat(int i) {
    HeartbeatRequest request =
        HeartbeatRequest.newBuilder()
            .setNamespace(NAMESPACE)
            .setService(service(i))
            .setInstanceId(instanceId(i))
            .build();
    return Endpoints.call(endpoints.next().registry()::heartbeat, request)
        .whenComplete(
            (r, e) -> {
              if (r != null) {
                heartbeatsAnswered.increment();
                if (r.getSelfPreservation()) {
                  heartbeatsSelfPreserving.increment();
                }
              }
            });
  }

  private CompletableFuture<DiscoverResponse> discover() {
    int s;
    synchronized (random) {
      s = random.nextInt(services);
    }
    DiscoverRequest request =
        DiscoverRequest.newBuilder()
            .setNamespace(NAMESPACE)
            .setService("svc-" + s)
            .setPassingOnly(true)
            .build();
    return Endpoints.call(endpoints.next().registry()::discover, request);
  }

  private CompletableFuture<?> acquire(int n, long lease) {
    LockAcquireRequest request =
        LockAcquireRequest.newBuilder()
            .setName("/bench/locks/h" + n)
            .setLease(lease)
            .setTimeoutMs(0)
            .build();
    return Endpoints.call(endpoints.next().lock()::acquire, request);
  }

  private String service(int i) {
    return "svc-" + (i % services);
  }

  private static String instanceId(int i) {
    return "i-" + i;
  }

  /** What the configuration section says about this workload at {@code scale}. */
  static String describe(double scale) {
    int instances = instances(scale);
    return String.format(
        Locale.ROOT,
        "%,d instances of %,d services (namespace %s, TTL %d s, heartbeat every %d s,"
            + " 3 regions x 3 zones), registered at concurrency %d; heartbeats open loop at %,.0f/s;"
            + " Discover at concurrency %d; %,d locks held by %,d sessions (TTL %d s), acquired at"
            + " concurrency %d; registration stops starting after %d min, locking after %d min",
        instances,
        instances / INSTANCES_PER_SERVICE,
        NAMESPACE,
        TTL_SECONDS,
        HEARTBEAT_INTERVAL_MS / 1000,
        REGISTER_CONCURRENCY,
        heartbeatRate(instances),
        DISCOVER_CONCURRENCY,
        instances * LOCKS_PER_INSTANCE,
        sessions(scale),
        SESSION_TTL_SECONDS,
        LOCK_CONCURRENCY,
        REGISTER_LIMIT.toMinutes(),
        LOCK_LIMIT.toMinutes());
  }
}
