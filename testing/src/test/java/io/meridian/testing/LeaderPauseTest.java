package io.meridian.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.meridian.api.ErrorCodes;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leader is frozen (SIGSTOP) for longer than a lease's TTL while its holder keeps renewing
 * through the member that took over. When it wakes, its own deadlines say the lease ran out long
 * ago; whatever it proposes then must not revoke a lease whose last acknowledged renewal is younger
 * than its TTL (etcd #15247).
 */
@Tag("cluster")
class LeaderPauseTest {
  private static final long TTL_SECONDS = 5;

  @TempDir Path dir;

  @Test
  void aResumedLeaderNeverRevokesALeaseRenewedThroughItsSuccessor() throws Exception {
    List<NodeConfig> configs =
        DevCluster.plan(dir, 3, "pause", Map.of("raft", DevCluster.FAST_ELECTIONS)).configs();
    try (ProcessRegion nodes = new ProcessRegion(dir, configs).startAll();
        Renewer renewer = new Renewer(nodes)) {
      int first = nodes.awaitLeader();
      long lease =
          await()
              .atMost(Duration.ofSeconds(60))
              .ignoreExceptions()
              .until(
                  () ->
                      nodes
                          .lease(first)
                          .grant(
                              LeaseGrantRequest.newBuilder()
                                  .setNamespace("jobs")
                                  .setTtl(TTL_SECONDS)
                                  .build())
                          .getId(),
                  id -> id > 0);
      nodes
          .kv(first)
          .put(
              PutRequest.newBuilder()
                  .setKey("/jobs/owner")
                  .setValue(ByteString.copyFromUtf8("me"))
                  .setLease(lease)
                  .build());
      renewer.start(lease);

      for (int round = 0; round < 3; round++) {
        int leader = nodes.awaitLeader();
        renewer.avoid(leader);
        nodes.pause(leader);
        long pausedAt = System.nanoTime();
        // Frozen until its successor has renewed the lease for longer than the TTL.
        long heldUntil = pausedAt + TimeUnit.SECONDS.toNanos(TTL_SECONDS + 2);
        await()
            .atMost(Duration.ofSeconds(90))
            .failFast("a lease was revoked", () -> !renewer.violations().isEmpty())
            .until(() -> renewer.lastAckSentAt() > heldUntil);
        nodes.resume(leader);
        long resumedAt = System.nanoTime();
        long watchUntil = resumedAt + TimeUnit.SECONDS.toNanos(4);
        await()
            .atMost(Duration.ofSeconds(90))
            .failFast("a lease was revoked", () -> !renewer.violations().isEmpty())
            .until(() -> renewer.lastAckSentAt() > watchUntil);
        renewer.avoid(-1);
        assertThat(renewer.violations()).as("round %d", round).isEmpty();
      }
      assertThat(
              nodes
                  .kv(nodes.awaitLeader())
                  .range(RangeRequest.newBuilder().setKey("/jobs/owner").setPrefix(true).build())
                  .getCount())
          .isEqualTo(1);
      assertThat(renewer.violations()).isEmpty();
    }
  }

  /** Renews one lease every 300 ms through the members it is not told to avoid. */
  private static final class Renewer implements AutoCloseable {
    private final ProcessRegion nodes;
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService schedule =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "renewer");
              t.setDaemon(true);
              return t;
            });
    private volatile int avoid = -1;
    private volatile long lastAckSentAt;
    private int next;

    Renewer(ProcessRegion nodes) {
      this.nodes = nodes;
    }

    void start(long lease) {
      lastAckSentAt = System.nanoTime();
      schedule.scheduleWithFixedDelay(() -> renew(lease), 0, 300, TimeUnit.MILLISECONDS);
    }

    void avoid(int member) {
      avoid = member;
    }

    long lastAckSentAt() {
      return lastAckSentAt;
    }

    List<String> violations() {
      return violations;
    }

    private void renew(long lease) {
      int member = next++ % nodes.size();
      if (member == avoid) {
        member = next++ % nodes.size();
      }
      long sent = System.nanoTime();
      try {
        nodes
            .lease(member)
            .withDeadlineAfter(2, TimeUnit.SECONDS)
            .renew(LeaseKeepAliveRequest.newBuilder().setId(lease).build());
        lastAckSentAt = sent;
      } catch (StatusRuntimeException e) {
        long sinceAck = TimeUnit.NANOSECONDS.toMillis(sent - lastAckSentAt);
        if (isLeaseNotFound(e) && sinceAck < TimeUnit.SECONDS.toMillis(TTL_SECONDS)) {
          violations.add(
              "lease revoked " + sinceAck + " ms after its last acknowledged renewal: " + e);
        }
      }
    }

    private static boolean isLeaseNotFound(StatusRuntimeException e) {
      io.meridian.api.v1.Error error = ErrorCodes.errorOf(e);
      return error != null && error.getCode() == Error.Code.LEASE_NOT_FOUND;
    }

    @Override
    public void close() throws InterruptedException {
      schedule.shutdownNow();
      schedule.awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
