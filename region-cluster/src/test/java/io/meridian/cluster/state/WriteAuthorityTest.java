package io.meridian.cluster.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.Position;
import io.meridian.api.v1.ReportShippedRequest;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.SetWriteAuthority;
import io.meridian.cluster.replication.WriteAuthority;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The write authority of a federated primary: the leader's decision from the commit time of the
 * oldest unshipped revision, and what the state does with it (refuses writes and lock grants with
 * FENCED, holds expiry), all without a clock.
 */
class WriteAuthorityTest {
  private static final long LIMIT_MS = 2_000;
  private final Shard primary = Shard.primary();
  private final WriteAuthority authority = new WriteAuthority(LIMIT_MS);

  private Optional<SetWriteAuthority> decide() {
    return authority.decide(
        primary.state.writeAuthorityLost(),
        primary.state.oldestUnshipped(),
        primary.state.shipped(),
        primary.state.lastReportMs(),
        primary.now);
  }

  /** The leader's check: decides at the fixture's time and commits what it decided. */
  private Optional<SetWriteAuthority> check() {
    Optional<SetWriteAuthority> d = decide();
    d.ifPresent(set -> primary.ok(primary.apply(Command.newBuilder().setSetWriteAuthority(set))));
    return d;
  }

  private ApplyResult shipped(long revision) {
    return primary.apply(
        Command.newBuilder()
            .setReportShipped(
                ReportShippedRequest.newBuilder()
                    .setShipped(Position.newBuilder().setEpoch(1).setRevision(revision))));
  }

  @Test
  void aShardNoBridgeEverReportedForIsNeverFenced() {
    primary.ok(primary.put("/a/k", "1"));
    primary.now += 10 * LIMIT_MS;
    assertThat(primary.state.oldestUnshipped()).isEmpty();
    assertThat(check()).isEmpty();
    primary.ok(primary.put("/a/k", "2"));
  }

  @Test
  void aQuietPrimaryWhoseBridgeStoppedReportingIsFencedToo() {
    primary.ok(primary.put("/a/k", "1"));
    primary.ok(shipped(primary.state.revision()));
    // Nothing unshipped, but no report for longer than the limit: the source may be fenced, or
    // Kafka out of reach, while this region's clients could still write here.
    primary.now += LIMIT_MS;
    assertThat(check()).isEmpty();
    primary.now += 1;
    SetWriteAuthority lost = check().orElseThrow();
    assertThat(lost.getHeld()).isFalse();
    assertThat(lost.getReason()).contains("has not reported for " + (LIMIT_MS + 1) + " ms");
    assertThat(Shard.code(primary.put("/a/k", "2"))).isEqualTo(Error.Code.FENCED);
    assertThat(primary.reloaded().lastReportMs()).isEqualTo(primary.state.lastReportMs());
    // The next report gives it back.
    primary.ok(shipped(primary.state.revision()));
    assertThat(check().orElseThrow().getHeld()).isTrue();
    primary.ok(primary.put("/a/k", "2"));
    primary.ok(shipped(primary.state.revision()));
    // A role change restarts the wait for a report.
    primary.now += 10 * LIMIT_MS;
    primary.ok(primary.setRole(Role.PRIMARY, 2));
    assertThat(check()).isEmpty();
  }

  @Test
  void aStalledShipmentFencesWritesAndLockGrantsUntilShippingCatchesUp() {
    long holder = primary.grant("a");
    long waiter = primary.grant("a");
    primary.ok(primary.acquire("/a/lock", holder, LockMode.EXCLUSIVE, 0));
    primary.ok(primary.acquire("/a/lock", waiter, LockMode.EXCLUSIVE, primary.now + 60_000));
    primary.ok(shipped(primary.state.revision()));
    long unshipped = primary.state.revision() + 1;
    primary.ok(primary.put("/a/k", "1"));

    // Unshipped for exactly the limit: still allowed.
    primary.now += LIMIT_MS;
    assertThat(check()).isEmpty();
    primary.ok(primary.put("/a/k", "2"));

    primary.now += 1;
    SetWriteAuthority lost = check().orElseThrow();
    assertThat(lost.getHeld()).isFalse();
    assertThat(lost.getReason())
        .startsWith("revision " + unshipped + " committed " + (LIMIT_MS + 1) + " ms ago")
        .contains("has not reached the change topic")
        .contains("writes resume when shipping catches up");
    assertThat(check()).as("decided once").isEmpty();

    long revision = primary.state.revision();
    ApplyResult refused = primary.put("/a/k", "3");
    assertThat(Shard.code(refused)).isEqualTo(Error.Code.FENCED);
    assertThat(refused.result().getError().getMessage())
        .contains("write authority lost")
        .contains("revision " + unshipped);
    assertThat(Shard.code(primary.acquire("/a/other", holder, LockMode.EXCLUSIVE, 0)))
        .isEqualTo(Error.Code.FENCED);
    assertThat(Shard.code(primary.release("/a/lock", holder))).isEqualTo(Error.Code.FENCED);
    assertThat(Shard.code(primary.revoke(holder))).isEqualTo(Error.Code.FENCED);
    // An expiry would grant the lock to its waiter: none takes effect.
    primary.ok(primary.expire(holder));
    assertThat(primary.state.lease(holder)).isPresent();
    assertThat(primary.state.lockWaiter("/a/lock", waiter))
        .isInstanceOf(io.meridian.cluster.lock.LockWaiterState.Waiting.class);
    assertThat(primary.state.revision()).isEqualTo(revision);
    // Every member and a restart keep the flag; reads and the role are untouched.
    assertThat(primary.reloaded().writeAuthorityLost()).isEqualTo(lost.getReason());
    assertThat(primary.state.requirePrimary()).isEqualTo(Role.PRIMARY);

    // Shipping reaches a revision whose successor is still too old: still fenced.
    primary.now += LIMIT_MS;
    primary.ok(shipped(unshipped));
    assertThat(check()).isEmpty();
    primary.ok(shipped(primary.state.revision()));
    SetWriteAuthority regained = check().orElseThrow();
    assertThat(regained.getHeld()).isTrue();
    assertThat(regained.getReason()).contains("shipping caught up");
    primary.ok(primary.put("/a/k", "3"));
    primary.ok(primary.expire(holder));
    assertThat(primary.state.lockWaiter("/a/lock", waiter))
        .isInstanceOf(io.meridian.cluster.lock.LockWaiterState.Held.class);
  }

  @Test
  void turningTheLimitOffOrChangingTheRoleGivesTheAuthorityBack() {
    primary.ok(primary.put("/a/k", "1"));
    primary.ok(shipped(1));
    primary.ok(primary.put("/a/k", "2"));
    primary.now += LIMIT_MS + 1;
    assertThat(check().orElseThrow().getHeld()).isFalse();

    Optional<SetWriteAuthority> off =
        new WriteAuthority(0)
            .decide(
                primary.state.writeAuthorityLost(),
                primary.state.oldestUnshipped(),
                primary.state.shipped(),
                primary.state.lastReportMs(),
                primary.now);
    assertThat(off.orElseThrow().getHeld()).isTrue();

    primary.ok(primary.setRole(Role.FENCED, 1));
    assertThat(primary.state.writeAuthorityLost()).isEmpty();
    // Only a primary holds or loses write authority.
    assertThat(
            Shard.code(
                primary.apply(
                    Command.newBuilder()
                        .setSetWriteAuthority(
                            SetWriteAuthority.newBuilder().setHeld(false).setReason("x")))))
        .isEqualTo(Error.Code.FENCED);
  }
}
