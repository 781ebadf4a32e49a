package io.meridian.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.BridgeRegionStatus;
import io.meridian.api.v1.BridgeShardStatus;
import io.meridian.api.v1.ChangeRecord;
import io.meridian.api.v1.ReplicationState;
import io.meridian.api.v1.Role;
import io.meridian.client.MeridianClient;
import io.meridian.testing.LocalKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A role-following bridge rides a failover done by hand (fence the old primary, fence the shard's
 * producer, let the standby drain the topic, promote it) and a rejoin of the old primary as a
 * standby, without a config change or a restart; and a source whose region is older than the topic
 * refuses to start without fencing the rightful one.
 */
@Tag("cluster")
class FailoverTest {
  @RegisterExtension static final LocalKafka kafka = new LocalKafka();
  @TempDir Path dir;

  @Test
  void theBridgeShipsFromTheNewPrimaryAfterAFailoverAndToTheOldOneAfterItRejoins()
      throws Exception {
    try (Federation f = new Federation(dir, 7, kafka.bootstrapServers());
        Bridge bridge = Bridge.start(f.following())) {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> sourceRegion(bridge).equals("east") && sinkRunning(bridge, "west"));
      puts(f.primary, "/before/", 10);
      f.awaitCaughtUp(Duration.ofSeconds(60));

      // The failover, step by step, to the next epoch.
      long e = Federation.epoch(f.primary);
      Federation.setRole(f.primary, Role.FENCED, e + 1);
      fenceProducer(bridge.config(), f.shard);
      ChangeTopic topic = new ChangeTopic(f.shard, bridge.config().kafka());
      long drained = topic.last().orElseThrow().getRevision();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> Federation.state(f.standby).getRevision() == drained);
      Federation.setRole(f.standby, Role.PRIMARY, e + 1);

      puts(f.standby, "/after/", 10);
      long westRevision = Federation.state(f.standby).getRevision();
      assertThat(westRevision).isEqualTo(drained + 10);
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  topic.last().map(ChangeRecord::getRevision).orElse(0L) == westRevision
                      && sourceRegion(bridge).equals("west")
                      && shard(bridge).getSource().getState().equals("RUNNING"));
      // Every revision after the failover went out in the new epoch, right after the old one's.
      assertThat(topic.last().orElseThrow().getEpoch()).isEqualTo(e + 1);
      assertThat(region(bridge, "east").getRole()).isEqualTo(Role.FENCED);
      assertThat(region(bridge, "east").getPart()).isEqualTo("IDLE");
      assertThat(region(bridge, "east").getDetail()).isEqualTo("FENCED at epoch " + (e + 1));
      assertThat(region(bridge, "west").getPart()).isEqualTo("SOURCE");
      assertThat(region(bridge, "west").getEpoch()).isEqualTo(e + 1);
      assertThat(shard(bridge).getSinksList()).isEmpty();

      // The rejoin: east has no divergent tail here, so it follows as it is.
      Federation.setRole(f.primary, Role.STANDBY, e + 1);
      await().atMost(Duration.ofSeconds(60)).until(() -> sinkRunning(bridge, "east"));
      puts(f.standby, "/rejoined/", 10);
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                ReplicationState west = Federation.state(f.standby);
                ReplicationState east = Federation.state(f.primary);
                return west.getRevision() == westRevision + 10
                    && east.getRevision() == west.getRevision()
                    && east.getChainHash().equals(west.getChainHash());
              });
      assertThat(region(bridge, "east").getPart()).isEqualTo("SINK");
      await().atMost(Duration.ofSeconds(30)).until(bridge::healthy);
    }
  }

  @Test
  void aSourceOfARegionOlderThanTheTopicRefusesAndLeavesTheRightfulOneRunning() throws Exception {
    try (Federation f = new Federation(dir, 8, kafka.bootstrapServers())) {
      try (Bridge first = Bridge.start(f.config(true, true, Map.of()))) {
        puts(f.primary, "/before/", 5);
        f.awaitCaughtUp(Duration.ofSeconds(60));
      }
      // West is promoted while east, cut off, still believes it is PRIMARY at the old epoch.
      long e = Federation.epoch(f.primary);
      Federation.setRole(f.standby, Role.PRIMARY, e + 1);
      try (Bridge rightful = Bridge.start(f.sourceIn("west"))) {
        puts(f.standby, "/after/", 5);
        ChangeTopic topic = new ChangeTopic(f.shard, rightful.config().kafka());
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> topic.last().map(ChangeRecord::getEpoch).orElse(0L) == e + 1);

        try (Bridge stale = Bridge.start(f.sourceIn("east"))) {
          await()
              .atMost(Duration.ofSeconds(60))
              .until(() -> shard(stale).getSource().getState().equals("STOPPED"));
          assertThat(shard(stale).getSource().getDetail())
              .isEqualTo(
                  "topic meridian.8.changes is at epoch %d; region east at epoch %d is no longer"
                      + " the shard's primary",
                  e + 1, e);
          assertThat(stale.healthy()).isFalse();

          // Not fenced: the rightful source ships what west commits next.
          puts(f.standby, "/later/", 5);
          long westRevision = Federation.state(f.standby).getRevision();
          await()
              .atMost(Duration.ofSeconds(60))
              .until(() -> topic.last().map(ChangeRecord::getRevision).orElse(0L) == westRevision);
          assertThat(shard(rightful).getSource().getState()).isEqualTo("RUNNING");
        }
      }
    }
  }

  /** What the failover tool does to stop a source it cannot reach: takes the transactional id. */
  private static void fenceProducer(BridgeConfig config, int shard) {
    Map<String, Object> props = ChangeTopic.common(config.kafka());
    props.put(
        ProducerConfig.TRANSACTIONAL_ID_CONFIG,
        config.kafka().transactionalIdPrefix() + "-shard-" + shard);
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer())) {
      producer.initTransactions();
    }
  }

  private static void puts(MeridianClient c, String prefix, int n) {
    for (int i = 0; i < n; i++) {
      c.kv().put(prefix + "k" + i, ByteString.copyFromUtf8("v" + i));
    }
  }

  private static BridgeShardStatus shard(Bridge bridge) {
    return bridge.status().getShards(0);
  }

  private static String sourceRegion(Bridge bridge) {
    return shard(bridge).getSource().getRegion();
  }

  private static boolean sinkRunning(Bridge bridge, String region) {
    return shard(bridge).getSinksList().stream()
        .anyMatch(s -> s.getRegion().equals(region) && s.getState().equals("RUNNING"));
  }

  private static BridgeRegionStatus region(Bridge bridge, String region) {
    Optional<BridgeRegionStatus> found =
        shard(bridge).getRegionsList().stream()
            .filter(r -> r.getRegion().equals(region))
            .findFirst();
    return found.orElseThrow();
  }
}
