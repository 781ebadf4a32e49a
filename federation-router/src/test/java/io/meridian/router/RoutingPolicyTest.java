package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.ResponseHeader;
import java.util.List;
import org.junit.jupiter.api.Test;

class RoutingPolicyTest {
  /** One shard: us-east PRIMARY, then us-west, eu-west, ap-south (FENCED), eu-north. */
  private static final RoutingTable.Shard SHARD =
      RoutingTable.parse(
              """
              version: 1
              slots:
                - {range: 0-4095, shard: 0}
              shards:
                - id: 0
                  regions:
                    - {region: us-east, role: PRIMARY, epoch: 1, endpoints: ["http://127.0.0.1:1"]}
                    - {region: us-west, role: STANDBY, epoch: 1, endpoints: ["http://127.0.0.1:2"]}
                    - {region: eu-west, role: STANDBY, epoch: 1, endpoints: ["http://127.0.0.1:3"]}
                    - {region: ap-south, role: FENCED, epoch: 1, endpoints: ["http://127.0.0.1:4"]}
                    - {region: eu-north, role: STANDBY, epoch: 1, endpoints: ["http://127.0.0.1:5"]}
              """)
          .shard(0);

  private static final RouterConfig.Policy OPEN =
      new RouterConfig.Policy(Consistency.LOCAL, RouterConfig.OnUnavailable.FAIL_OPEN, 10L, 1000L);
  private static final RouterConfig.Policy CLOSED =
      new RouterConfig.Policy(
          Consistency.LOCAL, RouterConfig.OnUnavailable.FAIL_CLOSED, 10L, 1000L);

  private static List<String> names(List<RoutingTable.Region> regions) {
    return regions.stream().map(RoutingTable.Region::region).toList();
  }

  private static List<RoutingTable.Region> order() {
    return new RoutingPolicy("us-west", List.of("eu-north")).readOrder(SHARD);
  }

  @Test
  void writesAndStrongReadsGoToThePrimaryRegionOnly() {
    RoutingPolicy policy = new RoutingPolicy("us-west", List.of("eu-west"));
    for (Consistency c :
        List.of(
            Consistency.LINEARIZABLE,
            Consistency.SERIALIZABLE,
            Consistency.CONSISTENCY_UNSPECIFIED)) {
      assertThat(names(policy.regions(SHARD, c))).as(c.name()).containsExactly("us-east");
      assertThat(RoutingPolicy.localFirst(c)).isFalse();
    }
  }

  @Test
  void localReadsTryTheOwnRegionThenPreferenceThenTableOrderButNoFencedRegion() {
    RoutingPolicy policy = new RoutingPolicy("us-west", List.of("eu-north", "ap-south", "mars"));

    assertThat(names(policy.regions(SHARD, Consistency.LOCAL)))
        .containsExactly("us-west", "eu-north", "us-east", "eu-west");
    assertThat(names(policy.regions(SHARD, Consistency.CACHED)))
        .containsExactly("us-west", "eu-north", "us-east", "eu-west");
  }

  @Test
  void aRouterInARegionTheShardDoesNotHaveStartsWithItsPreference() {
    RoutingPolicy policy = new RoutingPolicy("sa-east", List.of("eu-west"));

    assertThat(names(policy.readOrder(SHARD)))
        .containsExactly("eu-west", "us-east", "us-west", "eu-north");
    // In a FENCED region: its own region is not read from either.
    assertThat(names(new RoutingPolicy("ap-south", List.of()).readOrder(SHARD)))
        .containsExactly("us-east", "us-west", "eu-west", "eu-north");
  }

  @Test
  void aShardWhoseRegionsAreAllFencedHasNoRegionToReadFrom() {
    RoutingTable.Shard fenced =
        new RoutingTable.Shard(
            7,
            List.of(
                new RoutingTable.Region(
                    "us-east", io.meridian.api.v1.Role.FENCED, 1, SHARD.primary().endpoints())));
    assertThat(new RoutingPolicy("us-east", List.of()).readOrder(fenced)).isEmpty();
  }

  @Test
  void everyRegionButTheLastIsBoundedByTheRegionTimeout() {
    List<RoutingTable.Region> order = order();

    assertThat(RoutingPolicy.boundedByRegionTimeout(order, 0)).isTrue();
    assertThat(RoutingPolicy.boundedByRegionTimeout(order, order.size() - 2)).isTrue();
    assertThat(RoutingPolicy.boundedByRegionTimeout(order, order.size() - 1)).isFalse();
    assertThat(RoutingPolicy.boundedByRegionTimeout(List.of(SHARD.primary()), 0)).isFalse();
  }

  @Test
  void aRegionThatIsDownIsPassedOverWhileThereIsAnotherAndTime() {
    List<RoutingTable.Region> order = order();
    int last = order.size() - 1;

    for (Error.Code down : RoutingPolicy.REGION_DOWN) {
      assertThat(RoutingPolicy.afterFailure(order, 0, down, false, false, CLOSED))
          .as(down.name())
          .isEqualTo(RoutingPolicy.Step.FALL_BACK);
    }
    assertThat(RoutingPolicy.afterFailure(order, last, Error.Code.UNAVAILABLE, false, false, OPEN))
        .isEqualTo(RoutingPolicy.Step.FAIL);
    assertThat(RoutingPolicy.afterFailure(order, 0, Error.Code.UNAVAILABLE, true, false, OPEN))
        .isEqualTo(RoutingPolicy.Step.FAIL);
  }

  @Test
  void aFailureThatIsNotUnavailabilityEndsTheRead() {
    for (Error.Code code :
        List.of(Error.Code.INVALID_ARGUMENT, Error.Code.NOT_FOUND, Error.Code.INTERNAL)) {
      assertThat(RoutingPolicy.afterFailure(order(), 0, code, false, false, OPEN))
          .as(code.name())
          .isEqualTo(RoutingPolicy.Step.FAIL);
    }
  }

  @Test
  void whenTheLastRegionFailsAFailOpenNamespaceGetsTheStaleAnswerKept() {
    List<RoutingTable.Region> order = order();
    int last = order.size() - 1;

    assertThat(RoutingPolicy.afterFailure(order, last, Error.Code.UNAVAILABLE, false, true, OPEN))
        .isEqualTo(RoutingPolicy.Step.ANSWER);
    assertThat(RoutingPolicy.afterFailure(order, last, Error.Code.UNAVAILABLE, false, true, CLOSED))
        .isEqualTo(RoutingPolicy.Step.FAIL);
    assertThat(RoutingPolicy.afterFailure(order, 1, Error.Code.INTERNAL, false, true, OPEN))
        .isEqualTo(RoutingPolicy.Step.ANSWER);
  }

  @Test
  void anAnswerWithinTheLimitsIsTaken() {
    assertThat(
            RoutingPolicy.afterAnswer(order(), 0, new PrimaryProgress.Lag(10, 1000), false, CLOSED))
        .isEqualTo(RoutingPolicy.Step.ANSWER);
    assertThat(RoutingPolicy.afterAnswer(order(), 0, PrimaryProgress.Lag.NONE, true, CLOSED))
        .isEqualTo(RoutingPolicy.Step.ANSWER);
  }

  @Test
  void aStaleAnswerFallsBackWhileThereIsAnotherRegionAndTime() {
    List<RoutingTable.Region> order = order();

    assertThat(RoutingPolicy.afterAnswer(order, 0, new PrimaryProgress.Lag(11, 0), false, CLOSED))
        .isEqualTo(RoutingPolicy.Step.FALL_BACK);
    assertThat(RoutingPolicy.afterAnswer(order, 0, new PrimaryProgress.Lag(0, 1001), false, OPEN))
        .isEqualTo(RoutingPolicy.Step.FALL_BACK);
    // Out of time: what there is, by the namespace's policy.
    assertThat(RoutingPolicy.afterAnswer(order, 0, new PrimaryProgress.Lag(11, 0), true, OPEN))
        .isEqualTo(RoutingPolicy.Step.ANSWER);
    assertThat(RoutingPolicy.afterAnswer(order, 0, new PrimaryProgress.Lag(11, 0), true, CLOSED))
        .isEqualTo(RoutingPolicy.Step.REFUSE_STALE);
  }

  @Test
  void aStaleAnswerFromTheLastRegionIsTakenWhenFailOpenAndRefusedWhenFailClosed() {
    List<RoutingTable.Region> order = order();
    int last = order.size() - 1;
    PrimaryProgress.Lag stale = new PrimaryProgress.Lag(0, 5000);

    assertThat(RoutingPolicy.afterAnswer(order, last, stale, false, OPEN))
        .isEqualTo(RoutingPolicy.Step.ANSWER);
    assertThat(RoutingPolicy.afterAnswer(order, last, stale, false, CLOSED))
        .isEqualTo(RoutingPolicy.Step.REFUSE_STALE);
  }

  @Test
  void theFreshestAnswerWinsTheNearerOneWhileFallingBackTheLastOneAtTheEnd() {
    RangeResponse west5 = answer("us-west", 5);
    RangeResponse east5 = answer("us-east", 5);
    RangeResponse eu7 = answer("eu-west", 7);

    assertThat(RoutingPolicy.kept(null, west5)).isSameAs(west5);
    assertThat(RoutingPolicy.kept(west5, eu7)).isSameAs(eu7);
    assertThat(RoutingPolicy.kept(eu7, west5)).isSameAs(eu7);
    assertThat(RoutingPolicy.kept(west5, east5)).isSameAs(west5);

    assertThat(RoutingPolicy.chosen(null, west5)).isSameAs(west5);
    assertThat(RoutingPolicy.chosen(eu7, west5)).isSameAs(eu7);
    assertThat(RoutingPolicy.chosen(west5, eu7)).isSameAs(eu7);
    assertThat(RoutingPolicy.chosen(west5, east5)).isSameAs(east5);
  }

  private static RangeResponse answer(String region, long revision) {
    return RangeResponse.newBuilder()
        .setHeader(ResponseHeader.newBuilder().setRegion(region).setRevision(revision))
        .build();
  }
}
