package io.meridian.bridge;

import io.meridian.api.v1.BridgeRegionStatus;
import io.meridian.api.v1.BridgeShardStatus;
import io.meridian.api.v1.BridgeSinkStatus;
import io.meridian.api.v1.BridgeSourceStatus;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.ReplicationStatusResponse;
import io.meridian.api.v1.Role;
import io.meridian.client.MeridianClient;
import io.meridian.client.Stubs;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which region of a role-following shard ({@code shards[].regions}) gets the source, which get
 * sinks, and which stay idle, kept in line with the roles the regions' clusters report.
 *
 * <p>About every second the arrangement asks each region's cluster for the shard's role and epoch
 * ({@code ReplicationStatus}), then {@link #plan plans}: the one PRIMARY with the highest epoch
 * gets the source, every STANDBY a sink; FENCED regions, older or tied primaries and regions that
 * never answered get nothing. Parts whose region changed role are closed before new ones start, so
 * a promoted standby's sink ends before its source begins. A region that stops answering keeps the
 * part of the role it last reported (its own sessions retry and report the outage) until an answer
 * says otherwise, or a PRIMARY at a higher epoch elsewhere takes the source.
 *
 * <p>Guarantees against ping-pong: a source that stopped (fenced through Kafka by another copy or
 * the failover tool, or refused by its epoch guard) retires its epoch: no region gets a source
 * again until one is PRIMARY at a higher epoch; and sources start at most every {@link
 * #SOURCE_HOLD_OFF_MS}. Each source still checks the topic's epoch itself before it takes the
 * transactional id.
 */
final class Arrangement {
  private static final Logger log = LoggerFactory.getLogger(Arrangement.class);

  static final long PROBE_INTERVAL_MS = 1000;
  static final long SOURCE_HOLD_OFF_MS = 5000;
  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

  /** The part a region gets. */
  enum Part {
    SOURCE,
    SINK,
    IDLE
  }

  /**
   * What the bridge last learned of a region: its role (UNSPECIFIED while it never answered) and
   * epoch, and why its last probe failed ("" when it answered).
   */
  record RegionView(Role role, long epoch, String unreachable) {
    static final RegionView UNKNOWN = new RegionView(Role.ROLE_UNSPECIFIED, 0, "not probed yet");
  }

  /** A region's part and why; {@code alarming} idle states make the bridge unhealthy. */
  record Decision(Part part, String detail, boolean alarming) {}

  /** The plan for every region, and the source's region (null for none) and epoch. */
  record Plan(Map<String, Decision> regions, String source, long sourceEpoch) {}

  /** A started source or sink, with its thread and what it reports. */
  private record Running<T extends Runnable>(
      String region, long epoch, T part, Thread thread, Progress progress) {}

  private final int shard;
  private final Map<String, MeridianClient> clients;
  private final BridgeConfig config;
  private final ShardLag lag;
  private final LongSupplier clock;
  private final MeterRegistry metrics;
  private final AtomicLong shippedRevision = new AtomicLong();
  private final Thread prober;
  private volatile boolean closed;

  // Guarded by `this`: the views, the plan and the running parts.
  private final Map<String, RegionView> views = new LinkedHashMap<>();
  private Plan current;
  private Running<Source> source;
  private final Map<String, Running<Sink>> sinks = new LinkedHashMap<>();
  private long retiredEpoch = -1;
  private long lastSourceStart = -SOURCE_HOLD_OFF_MS;
  private String lastSourceRegion;

  Arrangement(
      int shard,
      Map<String, MeridianClient> clients,
      BridgeConfig config,
      ShardLag lag,
      LongSupplier clock,
      MeterRegistry metrics) {
    this.shard = shard;
    this.clients = clients;
    this.config = config;
    this.lag = lag;
    this.clock = clock;
    this.metrics = metrics;
    clients.keySet().forEach(r -> views.put(r, RegionView.UNKNOWN));
    this.current = plan(views, retiredEpoch);
    this.prober = new Thread(this::probeLoop, "meridian-bridge-roles-" + shard);
    prober.setDaemon(true);
  }

  /**
   * Arranges the parts once from a first probe, so a started bridge runs them as a static one
   * would, then keeps probing on its own thread.
   */
  void start() {
    try {
      probe();
      rearrange();
    } catch (RuntimeException e) {
      log.warn("shard={} could not arrange the bridge's parts yet: {}", shard, e.toString());
    }
    prober.start();
  }

  /**
   * Plans the parts of every region from what was learned of it; pure, so every rule is testable on
   * its own. No source while {@code retiredEpoch} is not below the top PRIMARY's epoch.
   */
  static Plan plan(Map<String, RegionView> views, long retiredEpoch) {
    long top = -1;
    List<String> tops = new ArrayList<>();
    for (Map.Entry<String, RegionView> e : views.entrySet()) {
      RegionView v = e.getValue();
      if (v.role() == Role.PRIMARY && v.epoch() >= top) {
        if (v.epoch() > top) {
          tops.clear();
          top = v.epoch();
        }
        tops.add(e.getKey());
      }
    }
    String source = tops.size() == 1 && top > retiredEpoch ? tops.get(0) : null;
    Map<String, Decision> out = new LinkedHashMap<>();
    for (Map.Entry<String, RegionView> e : views.entrySet()) {
      String region = e.getKey();
      RegionView v = e.getValue();
      Decision d =
          switch (v.role()) {
            case PRIMARY -> {
              if (region.equals(source)) {
                yield new Decision(Part.SOURCE, "", false);
              } else if (v.epoch() < top) {
                yield new Decision(
                    Part.IDLE,
                    "PRIMARY at epoch %d, older than region %s's epoch %d"
                        .formatted(v.epoch(), tops.get(0), top),
                    true);
              } else if (tops.size() > 1) {
                yield new Decision(
                    Part.IDLE,
                    "PRIMARY at epoch %d like regions %s: no source while two claim one epoch"
                        .formatted(v.epoch(), tops),
                    true);
              } else {
                yield new Decision(
                    Part.IDLE,
                    ("PRIMARY at epoch %d, whose source was fenced or refused: no source until a"
                            + " region is PRIMARY at a higher epoch")
                        .formatted(v.epoch()),
                    true);
              }
            }
            case STANDBY -> new Decision(Part.SINK, "", false);
            case FENCED -> new Decision(Part.IDLE, "FENCED at epoch " + v.epoch(), false);
            default -> new Decision(Part.IDLE, "unreachable: " + v.unreachable(), true);
          };
      if (d.part() != Part.IDLE && !v.unreachable().isEmpty()) {
        d = new Decision(d.part(), "last probe failed: " + v.unreachable(), false);
      }
      out.put(region, d);
    }
    return new Plan(out, source, source == null ? 0 : views.get(source).epoch());
  }

  private void probeLoop() {
    while (!closed) {
      try {
        probe();
        rearrange();
      } catch (RuntimeException e) {
        log.warn("shard={} could not rearrange the bridge's parts: {}", shard, e.toString());
      }
      try {
        TimeUnit.MILLISECONDS.sleep(PROBE_INTERVAL_MS);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** Asks every region at once for the shard's role and epoch. */
  private void probe() {
    Map<String, CompletableFuture<ReplicationStatusResponse>> calls = new LinkedHashMap<>();
    clients.forEach(
        (region, client) ->
            calls.put(
                region,
                Stubs.call(
                    client
                            .stubs()
                            .replication()
                            .withDeadlineAfter(PROBE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                        ::replicationStatus,
                    ReplicationStatusRequest.getDefaultInstance(),
                    true)));
    calls.forEach(
        (region, call) -> {
          RegionView view;
          try {
            ReplicationStatusResponse r = Progress.await(call);
            view = new RegionView(r.getHeader().getRole(), r.getHeader().getEpoch(), "");
          } catch (RuntimeException e) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            synchronized (this) {
              RegionView last = views.get(region);
              view = new RegionView(last.role(), last.epoch(), why.isEmpty() ? "no answer" : why);
            }
          }
          synchronized (this) {
            views.put(region, view);
          }
        });
  }

  /** Brings the running parts in line with a new plan. */
  synchronized void rearrange() {
    if (closed) {
      return;
    }
    if (source != null && !source.thread().isAlive() && source.epoch() > retiredEpoch) {
      retiredEpoch = source.epoch();
      log.warn(
          "shard={} source for region {} stopped at epoch {}: no source until a region is PRIMARY"
              + " at a higher epoch ({})",
          shard,
          source.region(),
          source.epoch(),
          source.progress().detail());
    }
    Plan next = plan(views, retiredEpoch);
    for (String region : List.copyOf(sinks.keySet())) {
      if (next.regions().get(region).part() != Part.SINK) {
        log.info("shard={} region={} is no longer a standby: its sink stops", shard, region);
        end(sinks.remove(region));
        lag.untrack(region);
      }
    }
    if (source != null) {
      if (source.thread().isAlive() && !source.region().equals(next.source())) {
        log.info(
            "shard={} region={} no longer gets the source ({}): it stops",
            shard,
            source.region(),
            next.regions().get(source.region()).detail());
        end(source);
        source = null;
      } else if (source.thread().isAlive()) {
        source =
            new Running<>(
                source.region(),
                next.sourceEpoch(),
                source.part(),
                source.thread(),
                source.progress());
      }
    }
    boolean replaceable = source == null || !source.thread().isAlive();
    long now = clock.getAsLong();
    if (next.source() != null && replaceable && now - lastSourceStart >= SOURCE_HOLD_OFF_MS) {
      startSource(next.source(), next.sourceEpoch());
      lastSourceStart = now;
    }
    next.regions()
        .forEach(
            (region, d) -> {
              if (d.part() == Part.SINK && !sinks.containsKey(region)) {
                startSink(region);
              }
            });
    current = next;
  }

  private void startSource(String region, long epoch) {
    if (!region.equals(lastSourceRegion)) {
      lag.sourceMoved();
    }
    lastSourceRegion = region;
    Progress progress = new Progress();
    Source part =
        new Source(
            shard,
            region,
            true,
            clients.get(region),
            config,
            lag,
            clock,
            metrics,
            shippedRevision,
            progress);
    source = new Running<>(region, epoch, part, thread(part, "source-" + shard), progress);
    log.info("shard={} region={} is PRIMARY at epoch {}: its source starts", shard, region, epoch);
  }

  private void startSink(String region) {
    lag.track(region);
    Progress progress = new Progress();
    Sink part = new Sink(shard, region, clients.get(region), config, lag, metrics, progress);
    sinks.put(
        region,
        new Running<>(region, 0, part, thread(part, "sink-" + shard + "-" + region), progress));
    log.info("shard={} region={} is STANDBY: its sink starts", shard, region);
  }

  private static Thread thread(Runnable part, String name) {
    Thread thread = new Thread(part, "meridian-bridge-" + name);
    thread.setDaemon(true);
    thread.start();
    return thread;
  }

  /** Closes a part and waits for its thread: a grace to close its Kafka clients, then interrupt. */
  private static void end(Running<?> running) {
    tellToStop(running);
    awaitEnd(running);
  }

  /** Asks a part to stop after its current step; returns at once. */
  private static void tellToStop(Running<?> running) {
    if (running.part() instanceof Source s) {
      s.close();
    } else if (running.part() instanceof Sink s) {
      s.close();
    }
  }

  /** Waits for a part told to stop, interrupting it after {@link Source#STOP_GRACE}. */
  private static void awaitEnd(Running<?> running) {
    try {
      running.thread().join(Source.STOP_GRACE.toMillis());
      if (running.thread().isAlive()) {
        running.thread().interrupt();
        running.thread().join(Duration.ofSeconds(30).toMillis());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Adds this shard's source, sinks and regions to {@code out}; returns whether they are healthy: a
   * running source, running sinks within {@code limits}, and no alarming idle region.
   */
  synchronized boolean describe(BridgeShardStatus.Builder out, BridgeConfig.Lag limits) {
    boolean healthy = source != null && source.progress().state() == Progress.State.RUNNING;
    if (source != null) {
      out.setSource(
          BridgeSourceStatus.newBuilder()
              .setState(source.progress().state().name())
              .setDetail(source.progress().detail())
              .setShippedRevision(source.part().shipped().getRevision())
              .setRegion(source.region()));
    }
    for (Running<Sink> sink : sinks.values()) {
      long revisions = lag.revisionsBehind(sink.region());
      long ms = lag.msBehind(sink.region());
      healthy &=
          sink.progress().state() == Progress.State.RUNNING
              && revisions <= limits.degradedRevisions()
              && ms <= limits.degradedMs();
      out.addSinks(
          BridgeSinkStatus.newBuilder()
              .setRegion(sink.region())
              .setState(sink.progress().state().name())
              .setDetail(sink.progress().detail())
              .setAppliedRevision(lag.appliedRevision(sink.region()))
              .setLagRevisions(revisions)
              .setLagMs(ms));
    }
    for (Map.Entry<String, Decision> e : current.regions().entrySet()) {
      RegionView v = views.get(e.getKey());
      Decision d = e.getValue();
      healthy &= !d.alarming();
      out.addRegions(
          BridgeRegionStatus.newBuilder()
              .setRegion(e.getKey())
              .setRole(v.role())
              .setEpoch(v.epoch())
              .setPart(d.part().name())
              .setDetail(d.detail()));
    }
    return healthy;
  }

  /** Stops probing and every part. */
  void close() {
    closed = true;
    prober.interrupt();
    // Every part is told first and waited for after: one after another, their last steps added up
    // and kept the primary's nodes waiting for the source's reports past their write authority.
    running().forEach(Arrangement::tellToStop);
    try {
      prober.join(Duration.ofSeconds(30).toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (this) {
      // The prober may have started a part before it saw `closed`.
      List<Running<?>> parts = running();
      parts.forEach(Arrangement::tellToStop);
      parts.forEach(Arrangement::awaitEnd);
      sinks.clear();
    }
  }

  private synchronized List<Running<?>> running() {
    List<Running<?>> parts = new ArrayList<>(sinks.values());
    if (source != null) {
      parts.add(0, source);
    }
    return parts;
  }
}
