package io.meridian.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.client.LockHandle;
import io.meridian.testing.LocalKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A federated primary holds its write authority only while its commits reach the change topic: with
 * the bridge's source stopped it refuses writes and lock grants with FENCED once the oldest
 * unshipped revision is older than {@code replication.write-authority-ms}, and takes writes again
 * once a source ships again.
 */
@Tag("cluster")
class WriteAuthorityTest {
  // Well above how long the bridge takes to report a shipped revision (about 3 s seen under load),
  // so restored authority is not lost again while the test checks it.
  private static final long LIMIT_MS = 8_000;

  @RegisterExtension static final LocalKafka kafka = new LocalKafka();
  @TempDir Path dir;

  @Test
  void stoppingTheSourceFencesThePrimaryAfterTheLimitAndRestartingItRestoresWrites()
      throws Exception {
    try (Federation f =
        new Federation(
            dir,
            4,
            kafka.bootstrapServers(),
            1,
            Map.of("replication", Map.of("write-authority-ms", LIMIT_MS)))) {
      BridgeConfig config = f.config(true, true, Map.of());
      Bridge bridge = Bridge.start(config);
      try {
        put(f, "/app/k", "0");
        try (LockHandle lock = f.primary.lock("/app/lock", Duration.ofSeconds(5))) {
          assertThat(lock.fencingToken()).isPositive();
        }
        long revision = Federation.state(f.primary).getRevision();
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> Federation.state(f.primary).getShippedRevision() >= revision);
        assertThat(authorityGauge(f)).isEqualTo(1);

        bridge.close();
        put(f, "/app/k", "1"); // Within the limit: taken.
        AtomicReference<MeridianException> refused = new AtomicReference<>();
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(200))
            .until(
                () -> {
                  try {
                    put(f, "/app/k", "2");
                    return false;
                  } catch (MeridianException e) {
                    refused.set(e);
                    return true;
                  }
                });
        assertThat(refused.get().code()).isEqualTo(Error.Code.FENCED);
        assertThat(refused.get().getMessage())
            .contains("write authority lost")
            // Whichever the leader saw first: the unshipped write, or the bridge's silence.
            .containsAnyOf("has not reached the change topic", "has not reported for")
            .contains("writes resume when");
        assertThat(authorityGauge(f)).isZero();
        assertThat(code(() -> f.primary.lock("/app/lock", Duration.ofSeconds(1)).close()))
            .isEqualTo(Error.Code.FENCED);
        // No linearizable read either (another region may lead now); serializable ones go on.
        assertThat(code(() -> f.primary.kv().get("/app/k"))).isEqualTo(Error.Code.FENCED);
        assertThat(
                f.primary
                    .kv()
                    .range(
                        io.meridian.api.v1.RangeRequest.newBuilder()
                            .setKey("/app/k")
                            .setConsistency(io.meridian.api.v1.Consistency.SERIALIZABLE)
                            .build())
                    .getKvs(0)
                    .getValue()
                    .toStringUtf8())
            .isIn("1", "2");

        bridge = Bridge.start(config);
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(200))
            .until(
                () -> {
                  try {
                    put(f, "/app/k", "3");
                    return true;
                  } catch (MeridianException e) {
                    assertThat(e.code()).isEqualTo(Error.Code.FENCED);
                    return false;
                  }
                });
        assertThat(authorityGauge(f)).isEqualTo(1);
        try (LockHandle lock = f.primary.lock("/app/lock", Duration.ofSeconds(5))) {
          assertThat(lock.fencingToken()).isPositive();
        }
        f.awaitCaughtUp(Duration.ofSeconds(60));
      } finally {
        bridge.close();
      }
    }
  }

  @Test
  void aQuietPrimaryWhoseSourceIsFencedStopsTakingWritesWithinTheLimit() throws Exception {
    try (Federation f =
            new Federation(
                dir.resolve("quiet"),
                5,
                kafka.bootstrapServers(),
                1,
                Map.of("replication", Map.of("write-authority-ms", LIMIT_MS)));
        Bridge bridge = Bridge.start(f.config(true, true, Map.of()))) {
      put(f, "/app/k", "0");
      long revision = Federation.state(f.primary).getRevision();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> Federation.state(f.primary).getShippedRevision() >= revision);
      // A failover elsewhere fences the shard's source; this primary writes nothing meanwhile,
      // so no revision goes unshipped: only the bridge's silence can stop it.
      SourceFence.fence(kafka.bootstrapServers(), "meridian-bridge", f.shard, 2, Map.of());
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> bridge.status().getShards(0).getSource().getState().equals("STOPPED"));
      long fenced = System.nanoTime();
      AtomicReference<MeridianException> refused = new AtomicReference<>();
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                try {
                  put(f, "/app/k", "late");
                  return false;
                } catch (MeridianException e) {
                  refused.set(e);
                  return true;
                }
              });
      assertThat(refused.get().code()).isEqualTo(Error.Code.FENCED);
      assertThat(refused.get().getMessage()).contains("has not reported for");
      // Writes taken after the fence never reach Kafka: at most a limit's worth of them.
      assertThat(Duration.ofNanos(System.nanoTime() - fenced)).isLessThan(Duration.ofSeconds(40));
    }
  }

  private static void put(Federation f, String key, String value) {
    f.primary.kv().put(key, ByteString.copyFromUtf8(value));
  }

  private static double authorityGauge(Federation f) {
    return f.east
        .node(0)
        .metrics()
        .get("meridian.write.authority")
        .tag("shard", Integer.toString(f.shard))
        .gauge()
        .value();
  }

  private static Error.Code code(ThrowingRunnable call) {
    try {
      call.run();
    } catch (MeridianException e) {
      return e.code();
    } catch (Exception e) {
      throw new AssertionError("expected a MeridianException", e);
    }
    throw new AssertionError("expected a refusal");
  }

  private interface ThrowingRunnable {
    void run() throws Exception;
  }
}
