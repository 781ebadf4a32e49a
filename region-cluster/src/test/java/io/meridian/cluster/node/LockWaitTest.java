package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.LockInspectRequest;
import io.meridian.api.v1.LockInspectResponse;
import io.meridian.api.v1.LockOwner;
import io.meridian.api.v1.LockReleaseRequest;
import io.meridian.cluster.DevCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Lock waits that outlive the member they were waiting on. */
@Tag("cluster")
class LockWaitTest {
  @TempDir Path dir;

  private static long lease(Clients c) {
    return c.lease()
        .grant(LeaseGrantRequest.newBuilder().setNamespace("l").setTtl(60).build())
        .getId();
  }

  /**
   * A waiter's member dies; the lock is released and the waiter granted while its caller retries
   * the acquire (same request id) on another member. The retry is answered with the grant, at once:
   * the grant was applied before the retry arrived, so no event will ever announce it.
   */
  @Test
  void aRetriedAcquireOnAnotherMemberIsAnsweredWithTheGrantItMissed() throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      int leader = TestClusters.awaitReady(cluster);
      int n1 = (leader + 1) % 3;
      int n2 = (leader + 2) % 3;
      Clients c2 = Clients.of(cluster.node(n2));
      long holder = lease(c2);
      long waiter = lease(c2);
      LockAcquireResponse held =
          c2.lock()
              .acquire(LockAcquireRequest.newBuilder().setName("/l/job").setLease(holder).build());
      LockAcquireRequest acquire =
          LockAcquireRequest.newBuilder()
              .setName("/l/job")
              .setLease(waiter)
              .setTimeoutMs(20_000)
              .setRequestId("acquire-1")
              .build();
      // The first attempt waits on n1.
      var first =
          GrpcClients.builder(cluster.node(n1).clientUrl())
              .build(LockGrpc.LockFutureStub.class)
              .acquire(acquire);
      await().atMost(Duration.ofSeconds(20)).until(() -> inspect(c2).getWaitersCount() == 1);

      cluster.stop(n1);
      c2.lock().release(LockReleaseRequest.newBuilder().setName("/l/job").setLease(holder).build());
      ShardReplica replica = cluster.node(n2).replicas().get(0);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> replica.read(s -> s.inspectLock("/l/job")).getHoldersCount() == 1);

      long sent = System.nanoTime();
      LockAcquireResponse retried = c2.lock().acquire(acquire);
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent))
          .as("answered from the applied grant, not at the 20 s timeout")
          .isLessThan(10_000);
      assertThat(retried.getLease()).isEqualTo(waiter);
      assertThat(retried.getFencingToken()).isGreaterThan(held.getFencingToken());
      LockInspectResponse now = inspect(c2);
      assertThat(now.getHoldersList()).extracting(LockOwner::getLease).containsExactly(waiter);
      assertThat(now.getHolders(0).getFencingToken()).isEqualTo(retried.getFencingToken());
      assertThat(now.getWaitersCount()).isZero();
      first.cancel(true);
    }
  }

  private static LockInspectResponse inspect(Clients c) {
    return c.lock().inspect(LockInspectRequest.newBuilder().setName("/l/job").build());
  }
}
