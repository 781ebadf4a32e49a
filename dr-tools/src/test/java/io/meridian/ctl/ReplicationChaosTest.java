package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import com.google.protobuf.util.JsonFormat;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeOp;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.api.v1.ReplicationState;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.Role;
import io.meridian.bridge.Bridge;
import io.meridian.client.Stubs;
import io.meridian.kafka.KafkaBroker;
import io.meridian.launcher.DevFederation;
import io.meridian.testing.chaos.Durability;
import io.meridian.testing.chaos.Verdict;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exactly-once replication under faults. A federation (us-east PRIMARY, us-west STANDBY, one member
 * each, a bridge, a real Kafka broker) takes writes through us-east's router while, one at a time,
 * the bridge is stopped and a new one started, the broker is SIGKILLed and restarted on its data,
 * the primary is switched over to the standby, and the bridge is stopped so the primary commits
 * revisions that never reach Kafka and the primary is failed over to the standby with data loss
 * accepted (each time the old primary is then rejoined as the standby, the unplanned failover's
 * divergent tail written to a file). Once all is healed, the standby must have applied the
 * primary's revision R with the same chain and state hash at R, every acknowledged write in a
 * divergent tail must be on neither region, and every other one on both at its revision as written.
 * Refusals (FENCED once the bridge is away past the write authority, UNAVAILABLE in a switchover or
 * failover) are counted, not failures. Every build runs one round (seed 3, each fault once); under
 * {@code -Pchaos}, {@code -Dmeridian.chaos.seed} (1) picks the fault order and holds, {@code
 * -Dmeridian.chaos.seconds} (60) the planned schedule's length; healing takes what it takes on top.
 *
 * <pre>
 * mvn -B verify -Pchaos -pl dr-tools -Dtest=ReplicationChaosTest -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 */
class ReplicationChaosTest {
  private static final int WRITERS = 3;

  enum Fault {
    BRIDGE_CRASH,
    BROKER_KILL,
    SWITCHOVER,
    UNPLANNED_FAILOVER
  }

  record Step(Fault fault, long atMs, long holdMs, long calmMs) {}

  @TempDir Path dir;
  private DevFederation f;
  // The running bridge: the federation's until the first crash, then one this test started.
  private Bridge bridge;
  // The broker restarted on the federation's data, once its own was killed: ours to stop.
  private KafkaBroker broker;
  private String primary = "us-east";
  private String standby = "us-west";
  private long started = System.nanoTime();
  private final List<Durability.Write> acks = Collections.synchronizedList(new ArrayList<>());
  private final Map<Error.Code, Integer> refusals = new ConcurrentHashMap<>();
  // The divergent tails rejoin wrote after unplanned failovers: the only writes allowed lost.
  private final List<Path> tails = new ArrayList<>();
  private volatile boolean stopped;

  /** Every build: one round, each fault once. */
  @Test
  @Tag("cluster")
  void everyFaultOnceLeavesTheStandbyWithThePrimarysHistoryAndEveryKeptWrite() throws Exception {
    run(3, 1);
  }

  /** {@code -Pchaos}: as long and with the seed asked for. */
  @Test
  @Tag("chaos")
  void theStandbyEndsWithThePrimarysHistoryAndEveryAcknowledgedWrite() throws Exception {
    run(Long.getLong("meridian.chaos.seed", 1), Integer.getInteger("meridian.chaos.seconds", 60));
  }

  private void run(long seed, int seconds) throws Exception {
    Random random = new Random(seed);
    List<Step> schedule = new ArrayList<>();
    // Every fault once per round, shuffled: a short run still sees each. Holds beyond the write
    // authority (3 s) make the primary refuse writes for a while.
    for (long at = 0; at < seconds * 1000L; ) {
      List<Fault> round = new ArrayList<>(List.of(Fault.values()));
      Collections.shuffle(round, random);
      for (Fault fault : round) {
        Step step = new Step(fault, at, 2000 + random.nextInt(4000), 3000 + random.nextInt(5000));
        schedule.add(step);
        at += step.holdMs() + step.calmMs();
      }
    }
    System.out.printf("replication chaos: seed %d, %d s, schedule:%n", seed, seconds);
    schedule.forEach(s -> System.out.println("  " + s));
    try (DevFederation federation = Drills.federation(dir.resolve("dev"), 1)) {
      f = federation;
      bridge = f.bridge();
      started = System.nanoTime();
      KVGrpc.KVBlockingStub kv =
          GrpcClients.builder(f.router("us-east").url())
              .responseTimeout(Duration.ofSeconds(2))
              .addHeader(ShardHeader.NAME, "0")
              .build(KVGrpc.KVBlockingStub.class);
      ExecutorService writers = Executors.newFixedThreadPool(WRITERS);
      try {
        for (int w = 0; w < WRITERS; w++) {
          int writer = w;
          writers.execute(() -> write(kv, writer, seed));
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> acks.size() >= 100);
        for (Step step : schedule) {
          inject(step);
        }
        stopped = true;
        writers.shutdown();
        assertThat(writers.awaitTermination(1, TimeUnit.MINUTES)).isTrue();
        checkHistories();
      } finally {
        stopped = true;
        writers.shutdownNow();
        // Closing twice is fine (the federation closes its own bridge again); the broker goes after
        // the bridge that uses it.
        bridge.close();
        if (broker != null) {
          broker.close();
        }
      }
    }
  }

  private void inject(Step step) throws Exception {
    log("%s for %d ms (planned at %d ms)", step.fault(), step.holdMs(), step.atMs());
    switch (step.fault()) {
      case BRIDGE_CRASH -> {
        // Bridge has no kill: close() is its most abrupt stop. Its successor resumes from what the
        // topic and the standby say, as a bridge restarted after a crash does.
        bridge.close();
        Thread.sleep(step.holdMs());
        bridge = Bridge.start(bridge.config());
      }
      case BROKER_KILL -> {
        Path data = dir.resolve("dev").resolve("kafka");
        if (broker == null) {
          killForked(data.resolve("server.properties").toString());
        } else {
          broker.kill();
        }
        Thread.sleep(step.holdMs());
        // On the federation's data: the same ports and cluster id, so the topic survives.
        broker = KafkaBroker.start(data);
      }
      case SWITCHOVER -> {
        String from = primary;
        assertThat(ctl("switchover", "--to", standby, "--catch-up-timeout", "2m", "--yes"))
            .contains("nothing is lost");
        primary = standby;
        standby = from;
        Thread.sleep(step.holdMs());
        String tail = dir.resolve("tail-" + step.atMs() + ".jsonl").toString();
        // A switchover fences before it promotes: the old primary has nothing to give up.
        assertThat(ctl("rejoin", "--region", from, "--tail-file", tail, "--yes"))
            .contains("has no revision the new primary lacks");
      }
      case UNPLANNED_FAILOVER -> {
        // The bridge goes first, so the primary commits revisions that never reach the topic
        // (until its write authority lapses: FENCED). The failover gives them up by design.
        String from = primary;
        String to = standby;
        bridge.close();
        Thread.sleep(step.holdMs());
        String kafka = bridge.config().kafka().bootstrapServers();
        CompletableFuture<String> failover =
            CompletableFuture.supplyAsync(
                () -> ctl("failover", "--to", to, "--kafka", kafka, "--accept-data-loss", "--yes"));
        // The failover's drain step needs the sink to the standby (it applies what the topic
        // holds), and the promoted region needs a bridge's reports to keep its write authority. A
        // bridge starts as soon as the old primary is FENCED: it then gives that region no source,
        // as a bridge running in the standby region all along would not have one.
        String fenced = f.cluster(from).configs().get(0).self().client();
        await()
            .atMost(Duration.ofMinutes(3))
            .ignoreExceptions()
            .until(() -> failover.isDone() || role(fenced) == Role.FENCED);
        bridge = Bridge.start(bridge.config());
        assertThat(failover.get(3, TimeUnit.MINUTES)).contains("[10/10] notify");
        primary = to;
        standby = from;
        Path tail = dir.resolve("tail-" + step.atMs() + ".jsonl");
        tails.add(tail);
        ctl("rejoin", "--region", from, "--tail-file", tail.toString(), "--yes");
      }
    }
    int before = acks.size();
    log("%s healed; awaiting a healthy bridge and new acknowledgements", step.fault());
    await().atMost(Duration.ofMinutes(3)).until(bridge::healthy);
    await().atMost(Duration.ofMinutes(3)).until(() -> acks.size() > before);
    log("%s over: %s is PRIMARY; calm for %d ms", step.fault(), primary, step.calmMs());
    // A duration of the schedule, not a wait for anything: the load runs undisturbed.
    Thread.sleep(step.calmMs());
  }

  // SIGKILLs the broker DevFederation forked: it does not hand it out, so it is found by its
  // command line, which names the federation's server.properties.
  private static void killForked(String config) throws Exception {
    ProcessHandle broker =
        ProcessHandle.current()
            .descendants()
            .filter(
                p -> p.info().arguments().map(a -> Arrays.asList(a).contains(config)).orElse(false))
            .findFirst()
            .orElseThrow(() -> new IllegalStateException("no process runs " + config));
    broker.destroyForcibly();
    broker.onExit().get(60, TimeUnit.SECONDS);
  }

  /** Runs meridianctl on shard 0 through both routers; what it printed, once it succeeded. */
  private String ctl(String... args) {
    List<String> all = new ArrayList<>(List.of("--shard", "0"));
    all.addAll(List.of(args));
    CtlRun run = CtlRun.ctl(Drills.routers(f), all.toArray(String[]::new));
    log("meridianctl %s: exit %d%n%s", String.join(" ", args), run.code(), run.out());
    assertThat(run.code()).as(run.out() + run.err()).isZero();
    return run.out();
  }

  private void checkHistories() throws Exception {
    String p = f.cluster(primary).configs().get(0).self().client();
    String s = f.cluster(standby).configs().get(0).self().client();
    // Equal once the standby applied the last revision, writes whose client gave up included.
    await()
        .atMost(Duration.ofMinutes(3))
        .ignoreExceptions()
        .untilAsserted(
            () -> assertThat(replication(s).getRevision()).isEqualTo(replication(p).getRevision()));
    ReplicationState atPrimary = replication(p);
    long r = atPrimary.getRevision();
    ReplicationState atStandby = replication(s);
    assertThat(atStandby.getRevision()).as("%s's applied revision", standby).isEqualTo(r);
    assertThat(hex(atStandby.getChainHash()))
        .as("chain hash at revision %d", r)
        .isEqualTo(hex(atPrimary.getChainHash()));
    // The state hash is only in a snapshot's manifest (Cluster/Status does not carry it).
    List<String> primaryManifest = manifest(p, primary);
    assertThat(primaryManifest.get(0)).isEqualTo(Long.toString(r));
    assertThat(manifest(s, standby))
        .as("revision, state and chain hash")
        .isEqualTo(primaryManifest);
    // Exactly the unplanned failovers' divergent tails are lost: each such write is on neither
    // region, every other acknowledged write is on both.
    Set<Durability.Write> givenUp = givenUp();
    Map<String, Durability.Store> regions = Map.of(primary, store(p), standby, store(s));
    List<Durability.Write> kept = new ArrayList<>();
    List<Durability.Write> lost = new ArrayList<>();
    for (Durability.Write ack : List.copyOf(acks)) {
      (givenUp.contains(ack) ? lost : kept).add(ack);
    }
    for (Durability.Write ack : lost) {
      regions.forEach(
          (region, store) ->
              assertThat(store.valueAt(ack.key(), ack.revision()))
                  .as("%s, given up in a divergent tail, on %s", ack, region)
                  .hasValue(Optional.empty()));
    }
    Verdict durable = Durability.check(kept, regions);
    assertThat(kept).isNotEmpty();
    assertThat(durable.valid()).as(durable.toString()).isTrue();
    log(
        "%s; %d acknowledged writes given up in %d divergent tails; %s PRIMARY and %s STANDBY at"
            + " revision %d, chain hash %s; refusals %s",
        durable.explanation(),
        lost.size(),
        tails.size(),
        primary,
        standby,
        r,
        hex(atPrimary.getChainHash()),
        refusals);
  }

  /** The writes of the divergent tails' change batches, as the load acknowledged them. */
  private Set<Durability.Write> givenUp() throws Exception {
    Set<Durability.Write> writes = new HashSet<>();
    for (Path tail : tails) {
      for (String line : Files.readAllLines(tail)) {
        ChangeBatch.Builder batch = ChangeBatch.newBuilder();
        JsonFormat.parser().merge(line, batch);
        for (ChangeOp op : batch.getOpsList()) {
          if (op.hasPut()) {
            writes.add(
                new Durability.Write(
                    op.getPut().getKey(),
                    op.getPut().getValue().toStringUtf8(),
                    batch.getRevision()));
          }
        }
      }
    }
    return writes;
  }

  private static Role role(String url) {
    return Drills.stub(url, ReplicationGrpc.ReplicationBlockingStub.class)
        .replicationStatus(ReplicationStatusRequest.getDefaultInstance())
        .getHeader()
        .getRole();
  }

  private static ReplicationState replication(String url) {
    return Drills.stub(url, ReplicationGrpc.ReplicationBlockingStub.class)
        .replicationStatus(ReplicationStatusRequest.getDefaultInstance())
        .getState();
  }

  /** Revision, state hash and chain hash of a snapshot of the member at {@code url}. */
  private List<String> manifest(String url, String region) throws Exception {
    String file = dir.resolve(region + ".msnap").toString();
    CtlRun run = CtlRun.ctl(url, "--shard", "0", "snapshot", "save", file, "-o", "json");
    assertThat(run.code()).as(run.out() + run.err()).isZero();
    JsonNode m = new ObjectMapper().readTree(run.out());
    assertThat(m.path("stateHash").asText()).isNotEmpty();
    return List.of(
        m.path("revision").asText(), m.path("stateHash").asText(), m.path("chainHash").asText());
  }

  /**
   * The load's keys as the member at {@code url} holds them. A key is written once at most and
   * never deleted, so it holds at revision r what it holds now if its write is at r; a write at
   * another revision (applied twice, say) is a history other than the acknowledged one.
   */
  private static Durability.Store store(String url) {
    Map<String, KeyValue> held = new HashMap<>();
    for (int w = 0; w < WRITERS; w++) {
      // One writer's keys per call, so a long run's keys stay below the response size limit.
      RangeRequest.Builder range = RangeRequest.newBuilder().setKey("/chaos/w" + w + "/");
      Drills.stub(url, KVGrpc.KVBlockingStub.class)
          .range(range.setPrefix(true).setConsistency(Consistency.SERIALIZABLE).build())
          .getKvsList()
          .forEach(kv -> held.put(kv.getKey(), kv));
    }
    return (key, revision) -> {
      KeyValue kv = held.get(key);
      String value = kv == null ? null : kv.getValue().toStringUtf8();
      if (kv != null && kv.getModRevision() != revision) {
        value += " written at revision " + kv.getModRevision();
      }
      return Optional.of(Optional.ofNullable(value));
    };
  }

  /** Puts unique values through {@code kv} until stopped, each with a 2 s deadline. */
  private void write(KVGrpc.KVBlockingStub kv, int w, long seed) {
    // Bounded by time as well as by `stopped`: far beyond any schedule's healing.
    long end = System.nanoTime() + TimeUnit.HOURS.toNanos(2);
    for (int i = 0; !stopped && System.nanoTime() < end; i++) {
      String key = "/chaos/w" + w + "/" + i;
      String value = "seed" + seed + "-w" + w + "-" + i;
      try {
        PutRequest put =
            PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)).build();
        acks.add(new Durability.Write(key, value, kv.put(put).getHeader().getRevision()));
      } catch (RuntimeException e) {
        // Refused or timed out: not acknowledged, so not checked. Never retried: a key with two
        // revisions would be a write applied twice.
        refusals.merge(Stubs.failure(e).code(), 1, Integer::sum);
      }
      // Paced: the 2-core machine also runs both regions, the bridge and Kafka.
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
  }

  private static String hex(ByteString bytes) {
    return HexFormat.of().formatHex(bytes.toByteArray());
  }

  private void log(String format, Object... args) {
    double at = (System.nanoTime() - started) / 1e9;
    System.out.printf("replication chaos %7.1f s: %s%n", at, String.format(format, args));
  }
}
