package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.StatusRuntimeException;
import io.meridian.api.ErrorCodes;
import io.meridian.api.FencingToken;
import io.meridian.api.v1.ApplyReplicatedRequest;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeFeedRequest;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.Position;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.api.v1.ShardStatus;
import io.meridian.api.v1.StatusRequest;
import io.meridian.cluster.DevCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Promotions between real one-member region clusters: the wait after a failover whose old primary
 * could not be fenced, and a fenced old primary after a restart.
 */
@Tag("cluster")
class PromotionNodeTest {
  private static final long WRITE_AUTHORITY_MS = 4_000;

  @TempDir Path dir;
  private DevCluster east;
  private DevCluster west;

  private DevCluster start(String region, Role role) throws Exception {
    Map<String, Map<String, Object>> o = TestClusters.fast();
    o.put("replication", new HashMap<>(Map.of("write-authority-ms", WRITE_AUTHORITY_MS)));
    o.put("lease", new HashMap<>(Map.of("min-ttl-seconds", 1)));
    DevCluster c = DevCluster.plan(dir.resolve(region), 1, region, o, Map.of(0, role)).start();
    TestClusters.awaitReady(c);
    return c;
  }

  @AfterEach
  void stop() {
    if (west != null) {
      west.close();
    }
    if (east != null) {
      east.close();
    }
  }

  private static long lease(Clients c, long ttlSeconds) {
    return c.lease()
        .grant(LeaseGrantRequest.newBuilder().setNamespace("app").setTtl(ttlSeconds).build())
        .getId();
  }

  /** Every batch the primary committed, applied to the standby the way its bridge would. */
  private void ship(DevCluster from, DevCluster to, int batches) {
    Iterator<ChangeBatch> feed =
        GrpcClients.builder(from.node(0).clientUrl())
            .responseTimeout(Duration.ofSeconds(30))
            .build(ReplicationGrpc.ReplicationBlockingStub.class)
            .changeFeed(
                ChangeFeedRequest.newBuilder()
                    .setAfter(Position.newBuilder().setRevision(0))
                    .build());
    ApplyReplicatedRequest.Builder b = ApplyReplicatedRequest.newBuilder();
    for (int i = 0; i < batches; i++) {
      b.addBatches(feed.next());
    }
    GrpcClients.builder(to.node(0).clientUrl())
        .responseTimeout(Duration.ofSeconds(30))
        .build(ReplicationGrpc.ReplicationBlockingStub.class)
        .applyReplicated(b.build());
  }

  private static ShardStatus status(Clients c) {
    return c.cluster().status(StatusRequest.getDefaultInstance()).getShards(0);
  }

  @Test
  void anUnfencedFailoverHoldsWritesForTheLimitAndHeldLocksForTheLimitPlusTheirLease()
      throws Exception {
    east = start("east", Role.PRIMARY);
    west = start("west", Role.STANDBY);
    Clients primary = Clients.of(east.node(0));
    long holder = lease(primary, 2);
    long waiter = lease(primary, 60);
    primary
        .lock()
        .acquire(
            LockAcquireRequest.newBuilder()
                .setName("/app/lock")
                .setLease(holder)
                .setMode(LockMode.EXCLUSIVE)
                .build());
    ship(east, west, 3);

    Clients promoted = Clients.of(west.node(0));
    promoted
        .cluster()
        .setRole(
            SetRoleRequest.newBuilder()
                .setRole(Role.PRIMARY)
                .setEpoch(2)
                .setOldPrimaryUnfenced(true)
                .build());
    ShardStatus held = status(promoted);
    assertThat(held.getAlarmsList()).contains("PROMOTION_WAIT");
    long writesUntil = held.getPromotionWritesUntilMs();
    long locksUntil = held.getPromotionLocksUntilMs();
    assertThat(locksUntil - writesUntil).as("the holder's lease").isEqualTo(2_000);

    if (System.currentTimeMillis() < writesUntil - 1_000) {
      assertThatThrownBy(() -> promoted.put("/app/k", "1"))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(Clients.code(e)).isEqualTo(Error.Code.FENCED);
                assertThat(ErrorCodes.errorOf(e).getMessage())
                    .contains(
                        "promoted at epoch 2 while the old primary could not be fenced; writes"
                            + " resume in")
                    .contains("replication.write-authority-ms after the promotion");
              });
    }
    // Keep-alives and reads go on meanwhile.
    promoted.lease().renew(LeaseKeepAliveRequest.newBuilder().setId(waiter).build());
    assertThat(promoted.prefix("/app/").getHeader().getEpoch()).isEqualTo(2);

    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .untilAsserted(() -> promoted.put("/app/k", "1"));
    assertThat(System.currentTimeMillis()).isGreaterThanOrEqualTo(writesUntil);

    // The holder renews nowhere here: its lease ends, and its lock still waits out the lease the
    // old primary's client might still be acting on. The waiter is granted when the wait ends.
    LockAcquireResponse granted =
        promoted
            .lock()
            .acquire(
                LockAcquireRequest.newBuilder()
                    .setName("/app/lock")
                    .setLease(waiter)
                    .setMode(LockMode.EXCLUSIVE)
                    .setTimeoutMs(20_000)
                    .build());
    assertThat(System.currentTimeMillis()).isGreaterThanOrEqualTo(locksUntil);
    assertThat(FencingToken.epochOf(granted.getFencingToken())).isEqualTo(2);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !status(promoted).getAlarmsList().contains("PROMOTION_WAIT"));
  }

  @Test
  void aFencedOldPrimaryRefusesWritesAndLinearizableReadsAfterARestart() throws Exception {
    east = start("east", Role.PRIMARY);
    Clients before = Clients.of(east.node(0));
    before.put("/app/k", "1");
    before.cluster().setRole(SetRoleRequest.newBuilder().setRole(Role.FENCED).setEpoch(2).build());

    east.restart(0);
    Clients after = Clients.of(east.node(0));
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(() -> after.localPrefix("/app/").getHeader().getRole() == Role.FENCED);

    for (Runnable call :
        List.<Runnable>of(() -> after.put("/app/k", "2"), () -> after.prefix("/app/"))) {
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptionsMatching(e -> !(e instanceof AssertionError))
          .untilAsserted(
              () ->
                  assertThatThrownBy(call::run)
                      .isInstanceOfSatisfying(
                          StatusRuntimeException.class,
                          e -> {
                            assertThat(Clients.code(e)).isEqualTo(Error.Code.FENCED);
                            assertThat(ErrorCodes.errorOf(e).getMessage())
                                .contains("this region cluster is FENCED at epoch 2")
                                .contains("no linearizable read");
                          }));
    }
    // Reads that accept staleness still answer, from the last state.
    assertThat(after.localPrefix("/app/").getKvs(0).getValue().toStringUtf8()).isEqualTo("1");
  }
}
