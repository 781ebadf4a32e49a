package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RequestOp;
import io.meridian.testing.LocalRegion;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Locks through the client against a real 3-node cluster; each test uses its own lock names. */
@Tag("cluster")
class LockTest {
  @TempDir static Path dir;
  static LocalRegion cluster;
  static MeridianClient a;
  static MeridianClient b;

  @BeforeAll
  static void start() throws IOException {
    cluster = LocalCluster.start(dir);
    a = MeridianClient.builder().endpoints(cluster.urls()).build();
    b = MeridianClient.builder().endpoints(cluster.urls()).build();
  }

  @AfterAll
  static void stop() {
    a.close();
    b.close();
    cluster.close();
  }

  private static List<RequestOp> put(String key, String value) {
    return List.of(
        RequestOp.newBuilder()
            .setRequestPut(
                PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)))
            .build());
  }

  @Test
  void aWaiterGetsTheLockWhenItIsReleasedWithALargerToken() throws Exception {
    LockHandle first = a.locks().lock("/jobs/locks/fifo", Duration.ofSeconds(5));
    assertThat(first.isValid()).isTrue();
    CompletableFuture<LockHandle> second =
        b.locks().lockAsync("/jobs/locks/fifo", Duration.ofSeconds(20));
    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(10))
        .until(() -> !second.isDone());

    first.close();

    LockHandle next = second.get(10, TimeUnit.SECONDS);
    assertThat(next.fencingToken()).isGreaterThan(first.fencingToken());
    assertThat(first.isValid()).isFalse();
    next.close();
  }

  @Test
  void aFencedWriteAppliesOnlyWhileItsTokenHoldsTheLock() {
    LockHandle first = a.locks().lock("/jobs/locks/fence", Duration.ofSeconds(5));
    first.fencedTxn(put("/jobs/report", "first"));
    first.close();
    try (LockHandle second = b.locks().lock("/jobs/locks/fence", Duration.ofSeconds(5))) {
      assertThatThrownBy(() -> first.fencedTxn(put("/jobs/report", "stale")))
          .isInstanceOfSatisfying(
              MeridianException.class, e -> assertThat(e.code()).isEqualTo(Error.Code.FENCED));
      second.fencedTxn(put("/jobs/report", "second"));
    }
    assertThat(a.kv().get("/jobs/report").orElseThrow().getValue().toStringUtf8())
        .isEqualTo("second");
  }

  @Test
  void aLockWaitEndsWithLockTimeout() {
    try (LockHandle held = a.locks().lock("/jobs/locks/busy", Duration.ofSeconds(5))) {
      assertThatThrownBy(() -> b.locks().lock("/jobs/locks/busy", Duration.ofMillis(300)))
          .isInstanceOfSatisfying(
              MeridianException.class,
              e -> assertThat(e.code()).isEqualTo(Error.Code.LOCK_TIMEOUT));
      assertThat(held.isValid()).isTrue();
    }
  }

  @Test
  void aLockIsReportedLostWithItsSessionAndAnotherClientCanTakeIt() throws Exception {
    Session session = a.leases().session("jobs", Duration.ofSeconds(3));
    LockHandle held = a.locks().lock(session, "/jobs/locks/lost", Duration.ofSeconds(5));

    b.leases().revoke(session.leaseId());

    Session.Loss loss = held.lost().get(10, TimeUnit.SECONDS);
    assertThat(loss.leaseId()).isEqualTo(session.leaseId());
    assertThat(held.isValid()).isFalse();
    try (LockHandle taken = b.locks().lock("/jobs/locks/lost", Duration.ofSeconds(5))) {
      assertThat(taken.fencingToken()).isGreaterThan(held.fencingToken());
    }
    held.close(); // lost with its session: nothing to release
  }
}
