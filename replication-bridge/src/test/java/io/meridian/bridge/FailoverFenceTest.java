package io.meridian.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.BridgeShardStatus;
import io.meridian.api.v1.Position;
import io.meridian.testing.LocalKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A failover's source fence holds: once {@link SourceFence} fenced the shard for a new epoch, the
 * old primary's bridge, retrying or restarted, ships nothing more, while sinks skip the marker.
 */
@Tag("cluster")
class FailoverFenceTest {
  @TempDir Path dir;
  @RegisterExtension static final LocalKafka kafka = new LocalKafka();

  @Test
  void aFencedShardsOldSourceNeverShipsAgainAndSinksSkipTheMarker() throws Exception {
    try (Federation f = new Federation(dir, 6, kafka.bootstrapServers())) {
      BridgeConfig config = f.config(true, true, Map.of());
      long shipped;
      try (Bridge bridge = Bridge.start(config)) {
        shipped =
            f.primary.kv().put("/app/k1", ByteString.copyFromUtf8("1")).getHeader().getRevision();
        f.awaitCaughtUp(Duration.ofSeconds(60));

        SourceFence.fence(kafka.bootstrapServers(), "meridian-bridge", f.shard, 2, Map.of());
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> shard(bridge).getSource().getState().equals("STOPPED"));
        // The standby's sink read past the marker without complaint.
        assertThat(shard(bridge).getSinks(0).getState()).isEqualTo("RUNNING");
      }
      // The old primary (still PRIMARY at epoch 1: it was not reachable to fence) takes a write,
      // and its bridge comes back.
      f.primary.kv().put("/app/k2", ByteString.copyFromUtf8("2"));
      try (Bridge again = Bridge.start(config)) {
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    shard(again)
                        .getSource()
                        .getDetail()
                        .contains("was fenced by a failover to epoch 2"));
        assertThat(shard(again).getSinks(0).getState()).isEqualTo("RUNNING");
      }
      try (ChangeArchive archive =
          ChangeArchive.open(kafka.bootstrapServers(), BridgeConfig.topic(f.shard), Map.of())) {
        Position last = archive.last().orElseThrow();
        assertThat(last.getRevision()).isEqualTo(shipped);
        assertThat(archive.extent().orElseThrow().lastRevision()).isEqualTo(shipped);
      }
      assertThat(Federation.state(f.standby).getRevision()).isEqualTo(shipped);
    }
  }

  private static BridgeShardStatus shard(Bridge bridge) {
    return bridge.status().getShards(0);
  }
}
