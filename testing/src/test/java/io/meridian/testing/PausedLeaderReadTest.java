package io.meridian.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A leader paused past an election wakes believing it still leads. A linearizable read that reached
 * it meanwhile must see every write its successor acknowledged before the read was sent, or be
 * refused: never be answered from the woken leader's own state. (The fault-injection soak found
 * this: the deposed leader counted its followers' NOT_LEADER answers as confirmations.)
 */
@Tag("cluster")
class PausedLeaderReadTest {
  private static final int ROUNDS = 4;
  private static final int READS = 8;
  private static final Duration PAUSE = Duration.ofSeconds(3);

  @TempDir Path dir;
  private final ExecutorService callers = Executors.newFixedThreadPool(READS);

  @Test
  void aReadQueuedAtAPausedLeaderSeesItsSuccessorsWritesOrIsRefused() throws Exception {
    List<NodeConfig> configs =
        DevCluster.plan(dir, 3, "woken", Map.of("raft", DevCluster.FAST_ELECTIONS)).configs();
    try (ProcessRegion region = new ProcessRegion(dir, configs).startAll()) {
      for (int round = 0; round < ROUNDS; round++) {
        int old = region.awaitLeader();
        String key = "/woken/k" + round;
        // The old leader's connection is open before it is paused, so the reads below are in its
        // socket when it wakes.
        await()
            .atMost(Duration.ofSeconds(60))
            .ignoreExceptions()
            .until(
                () -> region.kv(old).withDeadlineAfter(5, TimeUnit.SECONDS).range(read(key)),
                r -> true);

        long pausedAt = System.nanoTime();
        region.pause(old);
        int successor = region.awaitLeader(old);
        await()
            .atMost(Duration.ofSeconds(60))
            .ignoreExceptions()
            .until(
                () -> {
                  region
                      .kv(successor)
                      .withDeadlineAfter(5, TimeUnit.SECONDS)
                      .put(
                          PutRequest.newBuilder()
                              .setKey(key)
                              .setValue(ByteString.copyFromUtf8("v" + old))
                              .build());
                  return true;
                });
        List<CompletableFuture<RangeResponse>> answers = new ArrayList<>();
        for (int i = 0; i < READS; i++) {
          answers.add(
              CompletableFuture.supplyAsync(
                  () -> region.kv(old).withDeadlineAfter(30, TimeUnit.SECONDS).range(read(key)),
                  callers));
        }
        // The fault's length: past Ratis's JVM-pause step-down threshold (1 s), as in the soak
        // that found this, so the woken leader stops its appenders while answers still arrive.
        long heldMs =
            PAUSE.toMillis() - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - pausedAt);
        if (heldMs > 0) {
          Thread.sleep(heldMs);
        }
        region.resume(old);

        for (CompletableFuture<RangeResponse> answer : answers) {
          try {
            RangeResponse range = answer.get(60, TimeUnit.SECONDS);
            assertThat(range.getKvsList())
                .as("round %d: a read the woken n%d answered", round, old + 1)
                .singleElement()
                .satisfies(kv -> assertThat(kv.getValue().toStringUtf8()).isEqualTo("v" + old));
          } catch (ExecutionException e) {
            assertThat(e.getCause())
                .as("round %d: a refused read says so", round)
                .isInstanceOfSatisfying(
                    StatusRuntimeException.class,
                    s -> assertThat(s.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
          }
        }
      }
    } finally {
      callers.shutdownNow();
    }
  }

  private static RangeRequest read(String key) {
    return RangeRequest.newBuilder().setKey(key).setConsistency(Consistency.LINEARIZABLE).build();
  }
}
