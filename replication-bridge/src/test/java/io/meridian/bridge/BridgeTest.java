package io.meridian.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.WebClient;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DeregisterRequest;
import io.meridian.api.v1.LeaseListRequest;
import io.meridian.api.v1.LeaseStatus;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.TxnRequest;
import io.meridian.client.LockHandle;
import io.meridian.client.MeridianClient;
import io.meridian.client.Session;
import io.meridian.client.Stubs;
import io.meridian.testing.LocalKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * A primary cluster, a standby cluster, a real Kafka broker and bridges between them: every
 * committed revision reaches the standby exactly once, whatever is restarted on the way.
 *
 * <p>The tests share one broker; each uses its own shard, so its topic is its own.
 */
@Tag("cluster")
@Execution(ExecutionMode.CONCURRENT)
class BridgeTest {
  // The tests share one broker and each has a shard (and so a topic) of its own: they run two at a
  // time, except the one that kills the broker, which runs alone.
  private static final String BROKER = "kafka";

  @RegisterExtension static final LocalKafka kafka = new LocalKafka();
  @TempDir Path dir;

  @Test
  @ResourceLock(value = BROKER, mode = ResourceAccessMode.READ_WRITE)
  void everyRevisionReachesTheStandbyOnceWhileTheSourceTheSinkAndKafkaAreStoppedOrKilled()
      throws Exception {
    // The writer goes on through a broker outage longer than the default write-authority limit
    // (15 s): the primary would rightly refuse those writes (WriteAuthorityTest), so the lease is
    // off here.
    try (Federation f =
        new Federation(
            dir,
            1,
            kafka.bootstrapServers(),
            1,
            Map.of("replication", Map.of("write-authority-ms", 0)))) {
      BridgeConfig sourceOnly = f.config(true, false, Map.of());
      BridgeConfig sinkOnly = f.config(false, true, Map.of());
      Bridge source = Bridge.start(sourceOnly);
      Bridge sink = Bridge.start(sinkOnly);
      try (Writer writer = new Writer(new Workload(f.primary))) {
        writer.awaitMore(30);

        sink.close(); // The sink resumes from the offset the standby recorded.
        writer.awaitMore(20);
        sink = Bridge.start(sinkOnly);
        writer.awaitMore(20);

        source.close(); // The source resumes after the topic's last record.
        writer.awaitMore(20);
        source = Bridge.start(sourceOnly);
        writer.awaitMore(20);

        kafka
            .broker()
            .kill(); // A crash: shipping fails and is retried; the primary takes writes still.
        Bridge running = source;
        await() // The source's next send finds no metadata within max.block.ms (10 s).
            .atMost(Duration.ofSeconds(90))
            .until(() -> !running.status().getShards(0).getSource().getState().equals("RUNNING"));
        writer.awaitMore(20);
        kafka.broker().start();
        writer.awaitMore(20);

        writer.close();
        f.awaitCaughtUp(Duration.ofSeconds(120));
      } finally {
        source.close();
        sink.close();
        kafka.broker().start(); // Does nothing unless this test failed while the broker was down.
      }
      // The same revision and chain hash (awaitCaughtUp): the same batches, each applied once, in
      // order; and so the same keys, with the same versions, and the same leases.
      assertThat(Federation.state(f.standby).getRevision()).isGreaterThan(110);
      assertThat(all(f.standby, f)).isEqualTo(all(f.primary, f));
      assertThat(leases(f.standby, f)).isEqualTo(leases(f.primary, f));
      assertThat(all(f.standby, f)).anyMatch(kv -> kv.getKey().startsWith("/app/.meridian/"));
    }
  }

  @Test
  @ResourceLock(value = BROKER, mode = ResourceAccessMode.READ)
  void leaderChangesOnEitherSideAreRiddenThroughWithoutAGapOrADuplicate() throws Exception {
    try (Federation f = new Federation(dir, 6, kafka.bootstrapServers(), 3);
        Bridge bridge = Bridge.start(f.config(true, true, Map.of()))) {
      puts(f.primary, 0, 10);
      f.awaitCaughtUp(Duration.ofSeconds(60));

      // The source's feed and reports move to another primary member.
      int eastLeader = f.east.readyLeader();
      f.east.kill(eastLeader);
      f.east.awaitReady();
      puts(f.primary, 10, 20);
      f.awaitCaughtUp(Duration.ofSeconds(60));

      // ApplyReplicated moves to the standby's new leader, from the offset it recorded.
      int westLeader = f.west.readyLeader();
      f.west.kill(westLeader);
      puts(f.primary, 20, 30);
      f.west.awaitReady();
      f.awaitCaughtUp(Duration.ofSeconds(60));

      f.east.restart(eastLeader);
      f.west.restart(westLeader);
      puts(f.primary, 30, 40);
      f.awaitCaughtUp(Duration.ofSeconds(60));
      assertThat(all(f.standby, f)).isEqualTo(all(f.primary, f));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> bridge.status().getShards(0).getSinks(0).getLagRevisions() == 0);
    }
  }

  @Test
  @ResourceLock(value = BROKER, mode = ResourceAccessMode.READ)
  void aLeaseOfTenThousandKeysIsRevokedWholeThroughSplitRecords() throws Exception {
    try (Federation f = new Federation(dir, 2, kafka.bootstrapServers());
        Bridge bridge = Bridge.start(f.config(true, true, Map.of("max-record-bytes", 65_536)))) {
      long lease = f.primary.leases().grant("big", Duration.ofMinutes(10)).getId();
      for (int t = 0; t < 80; t++) {
        TxnRequest.Builder txn = TxnRequest.newBuilder();
        for (int i = 0; i < 125; i++) {
          txn.addSuccess(
              RequestOp.newBuilder()
                  .setRequestPut(
                      PutRequest.newBuilder()
                          .setKey(String.format("/big/key-%05d", t * 125 + i))
                          .setValue(ByteString.copyFromUtf8("v"))
                          .setLease(lease)));
        }
        f.primary.kv().txn(txn.build());
      }
      f.awaitCaughtUp(Duration.ofSeconds(60));
      assertThat(count(f.standby, f, "/big/")).isEqualTo(10_000);

      long before = Federation.state(f.standby).getRevision();
      f.primary.leases().revoke(lease);
      f.awaitCaughtUp(Duration.ofSeconds(60));
      io.meridian.api.v1.ChangeRecord last =
          new ChangeTopic(2, bridge.config().kafka()).last().orElseThrow();
      assertThat(last.getParts()).isGreaterThan(1);
      // One revision: every key and the lease went at once.
      assertThat(Federation.state(f.standby).getRevision()).isEqualTo(before + 1);
      assertThat(count(f.standby, f, "/big/")).isZero();
      assertThat(leases(f.standby, f)).isEmpty();
    }
  }

  @Test
  @ResourceLock(value = BROKER, mode = ResourceAccessMode.READ)
  void lagRisesWhileTheStandbyIsDownAndFallsToZeroAfter() throws Exception {
    try (Federation f = new Federation(dir, 3, kafka.bootstrapServers());
        Bridge bridge =
            Bridge.start(
                f.config(true, true, Map.of()).withLag(new BridgeConfig.Lag(5L, 60_000L)))) {
      f.primary.kv().put("/lag/first", ByteString.copyFromUtf8("1"));
      f.awaitCaughtUp(Duration.ofSeconds(30));
      await().atMost(Duration.ofSeconds(10)).until(bridge::healthy);
      WebClient http = WebClient.of(bridge.url());
      assertThat(http.get("/health").aggregate().join().status().code()).isEqualTo(200);

      f.west.kill(0);
      for (int i = 0; i < 20; i++) {
        f.primary.kv().put("/lag/k" + i, ByteString.copyFromUtf8("v"));
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> gauge(bridge, "meridian.bridge.lag.revisions") >= 20);
      await().atMost(Duration.ofSeconds(30)).until(() -> gauge(bridge, "meridian.bridge.lag") > 0);
      assertThat(bridge.healthy()).isFalse();
      assertThat(http.get("/health").aggregate().join().status().code()).isEqualTo(503);
      assertThat(bridge.status().getShards(0).getSinks(0).getLagRevisions()).isGreaterThan(19);

      f.west.restart(0);
      f.awaitCaughtUp(Duration.ofSeconds(60));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  gauge(bridge, "meridian.bridge.lag.revisions") == 0
                      && gauge(bridge, "meridian.bridge.lag") == 0
                      && bridge.healthy());
      assertThat(http.get("/health").aggregate().join().status().code()).isEqualTo(200);
    }
  }

  @Test
  @ResourceLock(value = BROKER, mode = ResourceAccessMode.READ)
  void aSecondCopyOfTheSourceFencesTheFirst() throws Exception {
    try (Federation f = new Federation(dir, 4, kafka.bootstrapServers());
        Bridge sink = Bridge.start(f.config(false, true, Map.of()));
        Bridge first = Bridge.start(f.config(true, false, Map.of()))) {
      f.primary.kv().put("/fence/a", ByteString.copyFromUtf8("1"));
      f.awaitCaughtUp(Duration.ofSeconds(30));
      try (Bridge second = Bridge.start(f.config(true, false, Map.of()))) {
        // RUNNING comes after its initTransactions, which fences the first copy: only a write
        // after it shows the first copy that it is fenced (an idle zombie learns it on its next
        // transaction, as Kafka's fencing works). Writing sooner raced the first copy shipping
        // everything before the second took over.
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> second.status().getShards(0).getSource().getState().equals("RUNNING"));
        for (int i = 0; i < 20; i++) {
          f.primary.kv().put("/fence/k" + i, ByteString.copyFromUtf8("v"));
        }
        f.awaitCaughtUp(Duration.ofSeconds(60));
        // The first copy stops once its next transaction meets the second's epoch.
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> first.status().getShards(0).getSource().getState().equals("STOPPED"));
        assertThat(first.status().getShards(0).getSource().getDetail()).contains("fenced");
        assertThat(first.healthy()).isFalse();
        assertThat(second.status().getShards(0).getSource().getState()).isEqualTo("RUNNING");
        assertThat(all(f.standby, f)).isEqualTo(all(f.primary, f));
      }
    }
  }

  @Test
  @ResourceLock(value = BROKER, mode = ResourceAccessMode.READ)
  void aWatchMovesFromThePrimaryToTheStandbyAtTheSameRevision() throws Exception {
    try (Federation f = new Federation(dir, 5, kafka.bootstrapServers());
        Bridge bridge = Bridge.start(f.config(true, true, Map.of()))) {
      List<io.meridian.api.v1.Event> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
      io.meridian.client.WatchClient.Listener listener =
          new io.meridian.client.WatchClient.Listener() {
            @Override
            public void onEvents(
                List<io.meridian.api.v1.Event> events, io.meridian.api.v1.ResponseHeader at) {
              seen.addAll(events);
            }

            @Override
            public void onError(io.meridian.api.MeridianException error) {
              throw new AssertionError(error);
            }
          };
      io.meridian.api.v1.WatchCreateRequest create =
          io.meridian.api.v1.WatchCreateRequest.newBuilder()
              .setKey("/move/")
              .setPrefix(true)
              .setStartRevision(1)
              .build();
      long resumeAt;
      try (var onPrimary = f.primary.watches().watch(create, listener)) {
        for (int i = 0; i < 5; i++) {
          f.primary.kv().put("/move/k" + i, ByteString.copyFromUtf8("v"));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() == 5);
        resumeAt = onPrimary.revision() + 1;
      }
      for (int i = 5; i < 10; i++) {
        f.primary.kv().put("/move/k" + i, ByteString.copyFromUtf8("v"));
      }
      try (var onStandby =
          f.standby
              .watches()
              .watch(
                  create.toBuilder().setStartRevision(resumeAt).setStartEpoch(1).build(),
                  listener)) {
        await().atMost(Duration.ofSeconds(30)).until(() -> seen.size() == 10);
      }
      assertThat(seen)
          .extracting(e -> e.getKv().getModRevision())
          .containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    }
  }

  private static void puts(MeridianClient c, int from, int to) {
    for (int i = from; i < to; i++) {
      c.kv().put("/leaders/k" + i, ByteString.copyFromUtf8("v" + i));
    }
  }

  private static double gauge(Bridge bridge, String name) {
    return bridge.metrics().get(name).tag("region", "west").gauge().value();
  }

  /**
   * How reads compare the two clusters: a standby answers only reads of its applied state
   * (SERIALIZABLE); the primary is read linearizably.
   */
  private static Consistency consistencyFor(MeridianClient c, Federation f) {
    return c == f.standby ? Consistency.SERIALIZABLE : Consistency.LINEARIZABLE;
  }

  private static List<io.meridian.api.v1.KeyValue> all(MeridianClient c, Federation f) {
    return c.kv()
        .range(
            RangeRequest.newBuilder()
                .setKey("/")
                .setRangeEnd("\0")
                .setConsistency(consistencyFor(c, f))
                .build())
        .getKvsList();
  }

  private static long count(MeridianClient c, Federation f, String prefix) {
    return c.kv()
        .range(
            RangeRequest.newBuilder()
                .setKey(prefix)
                .setPrefix(true)
                .setCountOnly(true)
                .setConsistency(consistencyFor(c, f))
                .build())
        .getCount();
  }

  private static List<String> leases(MeridianClient c, Federation f) {
    return Progress.await(
            Stubs.call(
                c.stubs().lease()::list,
                LeaseListRequest.newBuilder().setConsistency(consistencyFor(c, f)).build(),
                true))
        .getLeasesList()
        .stream()
        .map(LeaseStatus::toString)
        .toList();
  }

  /**
   * Writes {@link Workload} steps on its own thread until closed, paced at {@value
   * #STEPS_PER_SECOND} a second (an open-loop schedule, so a slow phase of the test does not pile
   * up tens of thousands of revisions); at most {@value #MAX_STEPS} steps or {@value #MAX_MINUTES}
   * minutes.
   */
  private static final class Writer implements AutoCloseable {
    private static final int STEPS_PER_SECOND = 50;
    private static final int MAX_STEPS = 15_000;
    private static final int MAX_MINUTES = 5;

    private final Workload work;
    private final AtomicInteger steps = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Thread thread = new Thread(this::loop, "bridge-test-writer");
    private volatile boolean closed;

    Writer(Workload work) {
      this.work = work;
      thread.start();
    }

    private void loop() {
      long start = System.nanoTime();
      long deadline = start + TimeUnit.MINUTES.toNanos(MAX_MINUTES);
      try {
        while (!closed && steps.get() < MAX_STEPS && System.nanoTime() < deadline) {
          LockSupport.parkNanos(
              start + steps.get() * (1_000_000_000L / STEPS_PER_SECOND) - System.nanoTime());
          work.step(steps.get());
          steps.incrementAndGet();
        }
      } catch (Throwable t) {
        failure.set(t);
      }
    }

    /** Waits until {@code n} more steps are written; fails if writing failed or ran out. */
    void awaitMore(int n) {
      int target = steps.get() + n;
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> steps.get() >= target || !thread.isAlive());
      checkFailure();
      assertThat(steps.get()).as("steps written").isGreaterThanOrEqualTo(target);
    }

    private void checkFailure() {
      if (failure.get() != null) {
        throw new AssertionError("a write failed", failure.get());
      }
    }

    @Override
    public void close() throws InterruptedException {
      closed = true;
      thread.join(TimeUnit.SECONDS.toMillis(60));
      assertThat(thread.isAlive()).as("writer still running").isFalse();
      checkFailure();
    }
  }

  /** Mixed writes: keys, transactions, leases, locks and registry instances. */
  private static final class Workload {
    private final MeridianClient c;
    private final Deque<Long> leases = new ArrayDeque<>();

    Workload(MeridianClient c) {
      this.c = c;
    }

    void step(int i) {
      ByteString v = ByteString.copyFromUtf8("v" + i);
      switch (i % 7) {
        case 0 -> c.kv().put("/app/k" + (i % 20), v);
        case 1 -> c.kv().delete("/app/k" + ((i + 13) % 20));
        case 2 ->
            c.kv()
                .txn(
                    TxnRequest.newBuilder()
                        .addCompare(
                            Compare.newBuilder()
                                .setKey("/app/k0")
                                .setTarget(Compare.Target.VERSION)
                                .setResult(Compare.Result.GREATER)
                                .setVersion(0))
                        .addSuccess(put("/app/t" + (i % 5), v))
                        .addSuccess(put("/app/t-extra", v))
                        .addFailure(put("/app/u", v))
                        .build());
        case 3 -> {
          long lease = c.leases().grant("app", Duration.ofMinutes(5)).getId();
          leases.add(lease);
          c.kv()
              .put(
                  PutRequest.newBuilder()
                      .setKey("/app/leased" + i)
                      .setValue(v)
                      .setLease(lease)
                      .build());
        }
        case 4 -> {
          if (leases.size() > 1) {
            c.leases().revoke(leases.poll());
          }
        }
        case 5 -> {
          try (Session session = c.leases().session("app", Duration.ofSeconds(30))) {
            LockHandle lock = c.locks().lock(session, "/app/lock" + (i % 3), Duration.ofSeconds(5));
            if (i % 2 == 0) {
              lock.close();
            }
          }
        }
        default -> {
          c.registry()
              .register(
                  RegisterRequest.newBuilder()
                      .setNamespace("app")
                      .setService("api")
                      .setInstanceId("i" + (i % 4))
                      .setAddress("10.0.0." + (i % 4))
                      .setPort(8080)
                      .setTtl(60)
                      .build());
          if (i % 3 == 0) {
            c.registry()
                .deregister(
                    DeregisterRequest.newBuilder()
                        .setNamespace("app")
                        .setService("api")
                        .setInstanceId("i" + ((i + 1) % 4))
                        .build());
          }
        }
      }
    }

    private static RequestOp put(String key, ByteString value) {
      return RequestOp.newBuilder()
          .setRequestPut(PutRequest.newBuilder().setKey(key).setValue(value))
          .build();
    }
  }
}
