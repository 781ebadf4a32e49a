package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeRecord;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.bridge.Bridge;
import io.meridian.bridge.BridgeConfig;
import io.meridian.bridge.ChangeArchive;
import io.meridian.client.MeridianClient;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.backup.SnapshotFile;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.state.ShardState;
import io.meridian.testing.LocalFederation;
import io.meridian.testing.LocalKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meridianctl restore} against a real primary whose bridge ships to a real broker: a known
 * history, the primary's content hash recorded at several revisions, a snapshot midway; restores to
 * those revisions must reach those hashes, and a broken topic or a target out of range must be
 * refused with its error.
 */
@Tag("cluster")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeridianctlRestoreTest {
  private static final int SHARD = 4;
  private static final String TOPIC = "meridian." + SHARD + ".changes";
  @RegisterExtension static final LocalKafka kafka = new LocalKafka();
  @TempDir static Path dir;

  /** The primary's revision, content hash and commit time, read from its applied state. */
  record Point(long revision, String hash, long commitTimeMs) {}

  private LocalFederation regions;
  private MeridianClient primary;
  private Bridge bridge;
  private final List<Point> points = new ArrayList<>();
  private Path snapshot;

  @BeforeAll
  void writeAHistoryAndSnapshotItMidway() throws Exception {
    regions =
        LocalFederation.builder(dir.resolve("fed")).primary("east").shard(SHARD).members(1).start();
    regions.awaitReady();
    primary =
        MeridianClient.builder()
            .endpoints(regions.region("east").urls())
            .shard(SHARD)
            .requestTimeout(Duration.ofSeconds(20))
            .build();
    bridge = Bridge.start(bridgeConfig());
    long lease = primary.leases().grant("app", Duration.ofMinutes(30)).getId();
    puts(0, 10, 0);
    points.add(point()); // 0: before the snapshot
    puts(10, 20, lease);
    points.add(point()); // 1: the snapshot's revision
    ShardState.Frozen frozen = replica().read(ShardState::freeze);
    snapshot = dir.resolve("shard-" + SHARD + SnapshotFile.SUFFIX);
    SnapshotFile.write(snapshot, frozen, SnapshotManifest.newBuilder().setRegion("east").build());
    puts(5, 25, 0);
    // Larger than the bridge's record limit: shipped as several records, reassembled on restore.
    primary.kv().put("/app/big", ByteString.copyFrom(new byte[200_000]));
    primary.kv().delete("/app/k3");
    points.add(point()); // 2: after it
    primary.leases().revoke(lease);
    puts(25, 30, 0);
    points.add(point()); // 3: the last shipped
    long last = points.get(3).revision();
    await().atMost(Duration.ofSeconds(60)).until(() -> replica().read(ShardState::shipped) >= last);
  }

  @AfterAll
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {bridge, primary, regions}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // Best effort: the next one still closes.
      }
    }
  }

  @Test
  void restoresToTheSnapshotAndAfterItReachThePrimarysContentHash() throws Exception {
    for (Point p : points.subList(1, 4)) {
      CtlRun run = restore("--to-revision", Long.toString(p.revision()), "--dry-run", "-o", "json");
      assertThat(run.code()).as(run.err()).isZero();
      JsonNode plan = new ObjectMapper().readTree(run.out());
      assertThat(plan.path("targetRevision").asLong()).isEqualTo(p.revision());
      assertThat(plan.path("stateHash").asText()).isEqualTo(p.hash());
      assertThat(plan.path("batches").asLong()).isEqualTo(p.revision() - points.get(1).revision());
      assertThat(plan.path("role").asText()).isEqualTo("PRIMARY");
    }
    CtlRun table = restore("--to-revision", Long.toString(points.get(2).revision()), "--dry-run");
    assertThat(table.code()).as(table.err()).isZero();
    assertThat(table.out())
        .contains(
            "covers revisions " + points.get(1).revision() + ".." + points.get(3).revision(),
            "state hash " + points.get(2).hash(),
            "PRIMARY (the snapshot's",
            "nothing (--dry-run)");
  }

  @Test
  void toTimePicksTheLastRevisionCommittedByThen() throws Exception {
    Point p = points.get(2);
    for (String t :
        List.of(
            Long.toString(p.commitTimeMs()), Instant.ofEpochMilli(p.commitTimeMs()).toString())) {
      CtlRun run = restore("--to-time", t, "--dry-run", "-o", "json");
      assertThat(run.code()).as(run.err()).isZero();
      JsonNode plan = new ObjectMapper().readTree(run.out());
      assertThat(plan.path("targetRevision").asLong()).isEqualTo(p.revision());
      assertThat(plan.path("stateHash").asText()).isEqualTo(p.hash());
    }
    CtlRun early = restore("--to-time", Long.toString(points.get(0).commitTimeMs()), "--dry-run");
    assertThat(early.code()).isEqualTo(1);
    assertThat(early.err()).startsWith("Error: COMPACTED: --to-time");
  }

  @Test
  void targetsOutsideTheCoveredRangeAreRefusedNamingIt() {
    String covers =
        "covers revisions " + points.get(1).revision() + ".." + points.get(3).revision();
    CtlRun before = restore("--to-revision", Long.toString(points.get(0).revision()), "--dry-run");
    assertThat(before.code()).isEqualTo(1);
    assertThat(before.err()).startsWith("Error: COMPACTED: ").contains(covers);
    CtlRun after =
        restore("--to-revision", Long.toString(points.get(3).revision() + 5), "--dry-run");
    assertThat(after.code()).isEqualTo(1);
    assertThat(after.err()).startsWith("Error: FUTURE_REVISION: ").contains(covers);
  }

  @Test
  void aMissingRevisionAndAForgedBatchInTheTopicAreRefusedNamingRevisionAndOffset()
      throws Exception {
    List<ChangeBatch> shipped = shipped();
    long gone = points.get(2).revision();
    copy("pitr-gap", shipped, b -> b.getRevision() == gone ? null : b);
    CtlRun gap = restoreFrom("pitr-gap", points.get(3).revision());
    assertThat(gap.code()).isEqualTo(1);
    assertThat(gap.err())
        // Revision r is at offset r - 1 in a copy: the batch after the missing one is at gone - 1.
        .startsWith(
            "Error: REVISION_GAP: pitr-gap offset " + (gone - 1) + ", revision " + (gone + 1))
        .contains("revision " + (gone + 1), "expected: " + gone);

    copy(
        "pitr-forged",
        shipped,
        b ->
            b.getRevision() != gone
                ? b
                : b.toBuilder()
                    .setOps(
                        0,
                        b.getOps(0).toBuilder()
                            .setPut(
                                b.getOps(0).getPut().toBuilder()
                                    .setValue(ByteString.copyFromUtf8("forged"))))
                    .build());
    CtlRun forged = restoreFrom("pitr-forged", points.get(3).revision());
    assertThat(forged.code()).isEqualTo(1);
    assertThat(forged.err())
        .startsWith(
            "Error: CHAIN_MISMATCH: pitr-forged offset " + (gone - 1) + ", revision " + gone);
    // Up to the revision before the forged one, that copy is still good.
    CtlRun good = restoreFrom("pitr-forged", gone - 1);
    assertThat(good.code()).as(good.err()).isZero();
  }

  @Test
  void aTopicWhoseRetentionDroppedTheRevisionAfterTheSnapshotCannotExtendIt() throws Exception {
    long s = points.get(1).revision();
    copy("pitr-trimmed", shipped(), b -> b.getRevision() <= s + 2 ? null : b);
    CtlRun trimmed = restoreFrom("pitr-trimmed", points.get(3).revision());
    assertThat(trimmed.code()).isEqualTo(1);
    assertThat(trimmed.err())
        .startsWith("Error: COMPACTED: ")
        .contains(
            "no longer holds revisions " + (s + 1) + ".." + (s + 2),
            "covers revisions " + s + ".." + s);
    // The snapshot itself is still reachable.
    CtlRun at = restoreFrom("pitr-trimmed", s);
    assertThat(at.code()).as(at.err()).isZero();
  }

  @Test
  void aRecordThatIsNotAChangeRecordIsRefusedNamingItsOffset() throws Exception {
    List<ChangeBatch> shipped = shipped();
    copy("pitr-foreign", shipped, b -> b);
    try (KafkaProducer<String, byte[]> producer = producer()) {
      producer.send(new ProducerRecord<>("pitr-foreign", 0, null, new byte[] {(byte) 0xff})).get();
    }
    CtlRun foreign = restoreFrom("pitr-foreign", points.get(3).revision());
    // Found where the topic's last revision is read: only the bridge may write the topic.
    assertThat(foreign.code()).isEqualTo(1);
    assertThat(foreign.err())
        .startsWith(
            "Error: INTERNAL: pitr-foreign offset " + shipped.size() + ": not a change record");
  }

  @Test
  void aWrittenMemberStartsAtTheTargetWithThePrimarysContentAndTheSnapshotsRole() throws Exception {
    Point p = points.get(2);
    DevCluster planned =
        DevCluster.plan(
            dir.resolve("restored"),
            1,
            "east",
            Map.of("raft", DevCluster.FAST_ELECTIONS),
            Map.of(SHARD, Role.STANDBY));
    NodeConfig c = planned.configs().get(0);
    String[] write = {
      "--to-revision",
      Long.toString(p.revision()),
      "--data-dir",
      c.dataDir(),
      "--member",
      c.member(),
      "--peers",
      c.member() + "=" + c.self().peer(),
      "--region",
      "east"
    };
    CtlRun run = restore(write);
    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.out()).contains("member " + c.member() + ": " + c.dataDir());
    CtlRun again = restore(write);
    assertThat(again.code()).isEqualTo(1);
    assertThat(again.err()).startsWith("Error: FAILED_PRECONDITION: --data-dir");
    CtlRun noDir = restore("--to-revision", Long.toString(p.revision()));
    assertThat(noDir.code()).isEqualTo(2);
    assertThat(noDir.err()).contains("--data-dir");

    try (DevCluster cluster = planned.start()) {
      ShardReplica r =
          cluster.node(0).replicas().stream().filter(x -> x.shard() == SHARD).findFirst().get();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> r.read(ShardState::revision) == p.revision());
      assertThat(HexFormat.of().formatHex(r.read(ShardState::contentHash))).isEqualTo(p.hash());
      // The snapshot's role, not the config's STANDBY: the operator changes it with SetRole.
      assertThat(r.read(ShardState::role)).isEqualTo(Role.PRIMARY);
      assertThat(r.read(ShardState::compactRevision)).isEqualTo(p.revision());
    }
  }

  private CtlRun restore(String... args) {
    List<String> line =
        new ArrayList<>(
            List.of(
                "restore",
                "--shard",
                Integer.toString(SHARD),
                "--snapshot",
                snapshot.toString(),
                "--kafka",
                kafka.bootstrapServers()));
    line.addAll(List.of(args));
    return CtlRun.run(line.toArray(String[]::new));
  }

  private CtlRun restoreFrom(String topic, long revision) {
    return restore("--topic", topic, "--to-revision", Long.toString(revision), "--dry-run");
  }

  /** Every batch of the shard's topic, as the bridge shipped it. */
  private List<ChangeBatch> shipped() {
    List<ChangeBatch> out = new ArrayList<>();
    try (ChangeArchive archive = ChangeArchive.open(kafka.bootstrapServers(), TOPIC, Map.of())) {
      archive.read(0, 0, a -> out.add(a.batch()));
    }
    assertThat(out).hasSize((int) points.get(3).revision());
    return out;
  }

  /**
   * Writes {@code batches} to {@code topic} with a plain producer, one record each at offsets 0, 1,
   * ... (no transactions, so no markers), after {@code edit} (null drops the batch).
   */
  private void copy(String topic, List<ChangeBatch> batches, UnaryOperator<ChangeBatch> edit)
      throws Exception {
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
      admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
    }
    try (KafkaProducer<String, byte[]> producer = producer()) {
      for (ChangeBatch b : batches) {
        ChangeBatch sent = edit.apply(b);
        if (sent == null) {
          continue;
        }
        ChangeRecord record =
            ChangeRecord.newBuilder()
                .setShard(sent.getShard())
                .setEpoch(sent.getEpoch())
                .setRevision(sent.getRevision())
                .setPart(0)
                .setParts(1)
                .setData(sent.toByteString())
                .build();
        producer.send(new ProducerRecord<>(topic, 0, null, record.toByteArray())).get();
      }
    }
  }

  private KafkaProducer<String, byte[]> producer() {
    Map<String, Object> props =
        Map.of("bootstrap.servers", kafka.bootstrapServers(), "acks", "all");
    return new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer());
  }

  private void puts(int from, int to, long lease) {
    for (int i = from; i < to; i++) {
      primary
          .kv()
          .put(
              PutRequest.newBuilder()
                  .setKey("/app/k" + i)
                  .setValue(ByteString.copyFromUtf8("v" + i + "@" + points.size()))
                  .setLease(lease)
                  .build());
    }
  }

  /**
   * The primary's revision, content hash and commit time now; then waits until its clock has moved
   * past that commit time, so the next revision is committed strictly later.
   */
  private Point point() {
    Point p =
        replica()
            .read(
                s ->
                    new Point(
                        s.revision(),
                        HexFormat.of().formatHex(s.contentHash()),
                        s.replicationState().getCommitTimeMs()));
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> System.currentTimeMillis() > p.commitTimeMs() + 2);
    return p;
  }

  private ShardReplica replica() {
    return regions.region("east").node(0).replicas().stream()
        .filter(r -> r.shard() == SHARD)
        .findFirst()
        .orElseThrow();
  }

  private BridgeConfig bridgeConfig() {
    String yaml =
        "listen: {port: 0}\n"
            + "kafka: {bootstrap-servers: '"
            + kafka.bootstrapServers()
            + "', replication-factor: 1, min-insync-replicas: 1, max-record-bytes: 65536}\n"
            + "retry: {initial-backoff-ms: 100, max-backoff-ms: 1000}\n"
            + "shards:\n"
            + "  - id: "
            + SHARD
            + "\n    source: ["
            + String.join(", ", regions.region("east").urls())
            + "]\n";
    return BridgeConfig.parse(yaml);
  }
}
