package io.meridian.testing.chaos;

import io.grpc.StatusRuntimeException;
import io.meridian.api.ErrorCodes;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.HeartbeatRequest;
import io.meridian.api.v1.HeartbeatResponse;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.RegisterResponse;
import io.meridian.testing.ProcessRegion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Registry instances, each registering once and then heartbeating every second through a member
 * chosen at random, registering again only when a heartbeat finds it evicted. Optionally a {@link
 * Silence}: for a while the heartbeats of most instances are dropped before they leave, as on the
 * far side of a partition, which should turn self-preservation on rather than evict them. Checked
 * by {@link LeaseHonesty}.
 */
public final class RegistryWorkload implements Workload {
  static final String NAMESPACE = "registry";
  static final String SERVICE = "chaos";
  static final long TTL_SECONDS = 10;
  static final long HEARTBEAT_MS = 1000;

  /**
   * The staged partition of instances from the cluster.
   *
   * @param after when it starts, from the workload's start
   * @param length how long it lasts
   * @param instances how many instances it silences
   * @param window the registry's self-preservation check interval ({@code
   *     registry.check-interval-ms})
   */
  public record Silence(Duration after, Duration length, int instances, Duration window) {}

  private final ProcessRegion nodes;
  private final long seed;
  private final int instances;
  private final Silence silence;
  private final Clients running = new Clients("registry-instance");
  private final List<LeaseHonesty.Beat> beats = new CopyOnWriteArrayList<>();
  private volatile long started;

  /** {@code instances} instances, with no silence. */
  public RegistryWorkload(ProcessRegion nodes, long seed, int instances) {
    this(nodes, seed, instances, null);
  }

  /** {@code instances} instances, the first {@code silence.instances()} of them silenced. */
  public RegistryWorkload(ProcessRegion nodes, long seed, int instances, Silence silence) {
    this.nodes = nodes;
    this.seed = seed;
    this.instances = instances;
    this.silence = silence;
  }

  @Override
  public String name() {
    return "registry";
  }

  @Override
  public void start() {
    started = System.nanoTime();
    running.start(instances, this::run);
  }

  /**
   * Stops the instances, then asks which are still registered: one missing while its lease should
   * still run counts as evicted at the time of the answer.
   */
  @Override
  public void stop() throws InterruptedException {
    running.stop();
    for (int attempt = 0; attempt < 30; attempt++) {
      long sent = System.nanoTime();
      try {
        DiscoverResponse r =
            nodes
                .registry(attempt % nodes.size())
                .withDeadlineAfter(2, TimeUnit.SECONDS)
                .discover(
                    DiscoverRequest.newBuilder()
                        .setNamespace(NAMESPACE)
                        .setService(SERVICE)
                        .setConsistency(Consistency.LINEARIZABLE)
                        .build());
        long answered = System.nanoTime();
        Set<String> present = new HashSet<>();
        for (Instance i : r.getInstancesList()) {
          present.add(i.getId());
        }
        for (int i = 0; i < instances; i++) {
          if (!present.contains(id(i))) {
            beats.add(
                new LeaseHonesty.Beat(id(i), sent, answered, LeaseHonesty.Outcome.ENDED, 0, false));
          }
        }
        return;
      } catch (StatusRuntimeException e) {
        Thread.sleep(500);
      }
    }
  }

  @Override
  public boolean servedSince(long nanos) {
    Set<String> served = new HashSet<>();
    for (LeaseHonesty.Beat b : beats) {
      if (b.sent() > nanos && b.outcome() != LeaseHonesty.Outcome.ENDED) {
        served.add(b.instance());
      }
    }
    return served.size() == instances;
  }

  @Override
  public int operations() {
    return beats.size();
  }

  public List<LeaseHonesty.Beat> beats() {
    return List.copyOf(beats);
  }

  @Override
  public List<Verdict> check(ChaosRegion region, Nemesis nemesis) {
    return List.of(LeaseHonesty.check(beats(), staged()));
  }

  @Override
  public void write(Path dir) throws IOException {
    Files.write(dir.resolve("beats.txt"), beats().stream().map(Object::toString).toList());
  }

  private LeaseHonesty.Silence staged() {
    if (silence == null) {
      return null;
    }
    Set<String> silenced = new HashSet<>();
    for (int i = 0; i < silence.instances(); i++) {
      silenced.add(id(i));
    }
    long from = started + silence.after().toNanos();
    return new LeaseHonesty.Silence(
        silenced, from, from + silence.length().toNanos(), silence.window().toNanos());
  }

  private static String id(int instance) {
    return "i" + instance;
  }

  private boolean silenced(int instance, long now) {
    if (silence == null || instance >= silence.instances()) {
      return false;
    }
    long from = started + silence.after().toNanos();
    return now >= from && now < from + silence.length().toNanos();
  }

  private void run(int instance) {
    Random random = new Random(seed * 19 + instance);
    long series = -1; // the first send of the registration being retried, -1 if registered
    long next = System.nanoTime();
    boolean registered = false;
    while (!running.stopped()) {
      int member = random.nextInt(nodes.size());
      if (!registered) {
        long sent = System.nanoTime();
        series = series < 0 ? sent : series;
        if (register(instance, member, series)) {
          registered = true;
          series = -1;
          next = sent + TimeUnit.MILLISECONDS.toNanos(HEARTBEAT_MS);
        } else {
          running.pause(200);
        }
        continue;
      }
      running.pause(Math.max(0, (next - System.nanoTime()) / 1_000_000));
      long sent = System.nanoTime();
      next = sent + TimeUnit.MILLISECONDS.toNanos(HEARTBEAT_MS);
      if (running.stopped() || silenced(instance, sent)) {
        continue;
      }
      if (!heartbeat(instance, member, sent)) {
        registered = false;
      }
    }
  }

  /** Registers; true if answered, recorded with {@code series} as its send time. */
  private boolean register(int instance, int member, long series) {
    try {
      RegisterResponse r =
          nodes
              .registry(member)
              .withDeadlineAfter(2, TimeUnit.SECONDS)
              .register(
                  RegisterRequest.newBuilder()
                      .setNamespace(NAMESPACE)
                      .setService(SERVICE)
                      .setInstanceId(id(instance))
                      .setAddress("192.0.2.1")
                      .setPort(9000 + instance)
                      .setTtl(TTL_SECONDS)
                      .setHeartbeatIntervalMs(HEARTBEAT_MS)
                      .build());
      answered(instance, series, LeaseHonesty.Outcome.GRANTED, r.getTtl(), false);
      return true;
    } catch (StatusRuntimeException e) {
      return false;
    }
  }

  /** Heartbeats; false if the instance was found evicted. */
  private boolean heartbeat(int instance, int member, long sent) {
    try {
      HeartbeatResponse r =
          nodes
              .registry(member)
              .withDeadlineAfter(2, TimeUnit.SECONDS)
              .heartbeat(
                  HeartbeatRequest.newBuilder()
                      .setNamespace(NAMESPACE)
                      .setService(SERVICE)
                      .setInstanceId(id(instance))
                      .build());
      answered(instance, sent, LeaseHonesty.Outcome.RENEWED, r.getTtl(), r.getSelfPreservation());
      return true;
    } catch (StatusRuntimeException e) {
      Error error = ErrorCodes.errorOf(e);
      if (error != null && error.getCode() == Error.Code.NOT_FOUND) {
        answered(instance, sent, LeaseHonesty.Outcome.ENDED, 0, false);
        return false;
      }
      return true; // no answer: the deadline stands
    }
  }

  /** Records an answer, received now, to a call about {@code instance} sent at {@code sent}. */
  private void answered(
      int instance, long sent, LeaseHonesty.Outcome outcome, long ttlSeconds, boolean preserving) {
    beats.add(
        new LeaseHonesty.Beat(
            id(instance),
            sent,
            System.nanoTime(),
            outcome,
            TimeUnit.SECONDS.toNanos(ttlSeconds),
            preserving));
  }
}
