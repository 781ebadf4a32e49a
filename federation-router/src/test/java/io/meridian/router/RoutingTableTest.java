package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.Slot;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class RoutingTableTest {
  /** Two shards splitting the slots, us-east primary for both, us-west standby. */
  static String table(long version, String slots, String extra) {
    return """
        version: %d
        slots:
        %s
        shards:
          - id: 0
            regions:
              - {region: us-east, role: PRIMARY, epoch: %d, endpoints: ["http://127.0.0.1:2379"]}
              - {region: us-west, role: STANDBY, epoch: %d, endpoints: ["http://127.0.0.2:2379"]}
          - id: 1
            regions:
              - {region: us-east, role: PRIMARY, epoch: %d, endpoints: ["http://127.0.0.3:2379"]}
              - {region: us-west, role: STANDBY, epoch: %d, endpoints: ["http://127.0.0.4:2379"]}
        %s
        """
        .formatted(version, slots, version, version, version, version, extra);
  }

  static final String HALVES =
      """
        - {range: 0-2047, shard: 0}
        - {range: 2048-4095, shard: 1}""";

  private static void rejected(String yaml, String... fragments) {
    assertThatThrownBy(() -> RoutingTable.parse(yaml))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> {
              assertThat(e.code()).isEqualTo(Error.Code.INVALID_ARGUMENT);
              assertThat(e.getMessage()).contains(fragments);
            });
  }

  @Test
  void aNamespaceGoesToItsSlotsShardUnlessItIsPinned() {
    RoutingTable t = RoutingTable.parse(table(3, HALVES, "pins: {billing: 0, orders: 1}"));

    assertThat(t.version()).isEqualTo(3);
    for (String ns : List.of("a", "team-b", "payments", "x1", "zz")) {
      int expected = Slot.of(ns) < 2048 ? 0 : 1;
      assertThat(t.shardOf(ns).id()).as(ns).isEqualTo(expected);
    }
    assertThat(t.shardOf("billing").id()).isZero();
    assertThat(t.shardOf("orders").id()).isEqualTo(1);
    assertThat(t.shard(1).primary().region()).isEqualTo("us-east");
    assertThat(t.shard(1).region("us-west").orElseThrow().role()).isEqualTo(Role.STANDBY);
    assertThat(t.shard(0).regions())
        .extracting(RoutingTable.Region::region)
        .containsExactly("us-east", "us-west");
  }

  @Test
  void aTableThatOrphansSlotsIsRejectedWithTheSlotsNamed() {
    rejected(
        table(1, "  - {range: 0-99, shard: 0}\n  - {range: 200-4094, shard: 1}", ""),
        "slots 100-199, 4095 are assigned to no shard");
  }

  @Test
  void aSlotAssignedTwiceIsRejected() {
    rejected(
        table(1, "  - {range: 0-2100, shard: 0}\n  - {range: 2048-4095, shard: 1}", ""),
        "slot 2048 is assigned twice");
  }

  @Test
  void aShardWithTwoPrimariesOrNoneIsRejected() {
    String twoPrimaries =
        table(1, HALVES, "")
            .replace(
                "{region: us-west, role: STANDBY, epoch: 1, endpoints: [\"http://127.0.0.4",
                "{region: us-west, role: PRIMARY, epoch: 1, endpoints: [\"http://127.0.0.4");
    rejected(twoPrimaries, "shard 1 names 2 PRIMARY regions (us-east, us-west)");

    String none =
        table(1, HALVES, "")
            .replace(
                "{region: us-east, role: PRIMARY, epoch: 1, endpoints: [\"http://127.0.0.1",
                "{region: us-east, role: STANDBY, epoch: 1, endpoints: [\"http://127.0.0.1");
    rejected(none, "shard 0 has no PRIMARY region");
  }

  @Test
  void aShardBeingFailedOverHasNoPrimaryAndRefusesWritesByName() {
    RoutingTable fencing =
        RoutingTable.parse(
            table(1, HALVES, "")
                .replace(
                    "{region: us-east, role: PRIMARY, epoch: 1, endpoints: [\"http://127.0.0.1",
                    "{region: us-east, role: FENCED, epoch: 2, endpoints: [\"http://127.0.0.1"));
    RoutingTable.Shard shard = fencing.shard(0);
    assertThat(shard.hasPrimary()).isFalse();
    assertThatThrownBy(shard::primary)
        .isInstanceOfSatisfying(
            MeridianException.class, e -> assertThat(e.code()).isEqualTo(Error.Code.UNAVAILABLE))
        .hasMessageContaining("shard 0 has no PRIMARY region", "us-east");
    assertThat(fencing.shard(1).hasPrimary()).isTrue();
  }

  @Test
  void withRolesMovesOneShardsRolesToTheNextVersion() {
    RoutingTable t = RoutingTable.parse(table(4, HALVES, ""));
    RoutingTable fenced = t.withRoles(0, java.util.Map.of("us-east", Role.FENCED), 5);
    assertThat(fenced.version()).isEqualTo(5);
    assertThat(fenced.shard(0).hasPrimary()).isFalse();
    assertThat(fenced.shard(0).region("us-east").orElseThrow().epoch()).isEqualTo(5);
    assertThat(fenced.shard(1).primary().region()).isEqualTo("us-east");
    RoutingTable moved = fenced.withRoles(0, java.util.Map.of("us-west", Role.PRIMARY), 5);
    assertThat(moved.version()).isEqualTo(6);
    assertThat(moved.shard(0).primary().region()).isEqualTo("us-west");
    assertThatThrownBy(() -> t.withRoles(0, java.util.Map.of("us-west", Role.PRIMARY), 5))
        .hasMessageContaining("2 PRIMARY regions");
    assertThatThrownBy(() -> t.withRoles(0, java.util.Map.of("mars", Role.PRIMARY), 5))
        .hasMessageContaining("shard 0 region mars is not in table version 4");
    assertThatThrownBy(() -> t.withRoles(9, java.util.Map.of("us-west", Role.PRIMARY), 5))
        .hasMessageContaining("shard 9 is not in table");
  }

  @Test
  void otherMistakesAreNamed() {
    rejected(table(0, HALVES, ""), "version: 0");
    rejected(
        table(1, "  - {range: 0-2047, shard: 0}\n  - {range: 2048-4095, shard: 7}", ""),
        "shard 7 is not described");
    rejected(table(1, HALVES, "pins: {billing: 9}"), "pinned to shard 9");
    rejected(table(1, HALVES, "pins: {\"bad/ns\": 0}"), "pins:");
    rejected(table(1, "  - {range: 0-5000, shard: 0}", ""), "range '0-5000'");
    rejected(table(1, HALVES, "").replace("http://127.0.0.2:2379", "ftp://x"), "endpoint ftp://x");
    rejected(
        table(1, HALVES, "")
            .replace(
                "role: STANDBY, epoch: 1, endpoints: [\"http://127.0.0.2",
                "role: LEADER, epoch: 1, endpoints: [\"http://127.0.0.2"),
        "role LEADER");
    rejected(table(1, HALVES, "colour: blue"), "unknown field 'colour'");
  }

  @Test
  void aTableIsReplacedOnlyByAHigherVersion() {
    ServedTable served = new ServedTable(RoutingTable.parse(table(5, HALVES, "")));

    assertThatThrownBy(() -> served.replace(RoutingTable.parse(table(5, HALVES, ""))))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e ->
                assertThat(e.getMessage())
                    .contains("version 5 is not higher than the version served, 5"));
    RoutingTable previous = served.replace(RoutingTable.parse(table(6, HALVES, "")));

    assertThat(previous.version()).isEqualTo(5);
    assertThat(served.current().version()).isEqualTo(6);
  }

  /**
   * Readers routing while tables are swapped never see a mix: each table's epochs equal its
   * version, so a reader that saw a table from two versions would see them disagree.
   */
  @Test
  void readersNeverSeeAHalfUpdatedTableWhileTablesAreSwapped() throws Exception {
    List<RoutingTable> tables = new ArrayList<>();
    for (int v = 1; v <= 200; v++) {
      tables.add(RoutingTable.parse(table(v, HALVES, "")));
    }
    ServedTable served = new ServedTable(tables.get(0));
    AtomicBoolean done = new AtomicBoolean();
    AtomicReference<String> mismatch = new AtomicReference<>();
    List<Thread> readers = new ArrayList<>();
    for (int r = 0; r < 2; r++) {
      Thread t =
          new Thread(
              () -> {
                long seen = 0;
                while (!done.get()) {
                  RoutingTable table = served.current();
                  long version = table.version();
                  long e0 = table.shardOf("a").primary().epoch();
                  long e1 = table.shard(1).region("us-west").orElseThrow().epoch();
                  if (e0 != version || e1 != version || version < seen) {
                    mismatch.set("version " + version + " with epochs " + e0 + ", " + e1);
                  }
                  seen = version;
                }
              });
      t.start();
      readers.add(t);
    }
    for (RoutingTable next : tables.subList(1, tables.size())) {
      served.replace(next);
    }
    done.set(true);
    for (Thread t : readers) {
      t.join(10_000);
    }
    assertThat(mismatch.get()).isNull();
    assertThat(served.current().version()).isEqualTo(200);
  }
}
