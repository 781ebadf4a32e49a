package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.TxnRequest;
import org.junit.jupiter.api.Test;

class KeySpanTest {
  @Test
  void keysPrefixesAndIntervalsInsideANamespaceHaveThatNamespace() {
    assertThat(KeySpan.of("/team-a/x", "", false).namespace()).isEqualTo("team-a");
    assertThat(KeySpan.of("/team-a", "", false).namespace()).isEqualTo("team-a");
    assertThat(KeySpan.of("/team-a/jobs/", "", true).namespace()).isEqualTo("team-a");
    assertThat(KeySpan.of("/team-a/a", "/team-a/z", false).namespace()).isEqualTo("team-a");
    assertThat(KeySpan.of("/team-a/", "/team-a0", false).namespace()).isEqualTo("team-a");
  }

  @Test
  void anythingThatCanReachAnotherNamespaceSpans() {
    assertThat(KeySpan.of("/team", "", true).single()).isFalse();
    assertThat(KeySpan.of("/", "", true).single()).isFalse();
    assertThat(KeySpan.of("/team-a/x", "\u0000", false).single()).isFalse();
    assertThat(KeySpan.of("/team-a/x", "/team-b/", false).single()).isFalse();
    assertThat(KeySpan.of("/a", "/b", false).single()).isFalse();
  }

  @Test
  void badKeysAreRefused() {
    assertThatThrownBy(() -> KeySpan.of("", "", false)).isInstanceOf(MeridianException.class);
    assertThatThrownBy(() -> KeySpan.of("team-a/x", "", false))
        .hasMessageContaining("begins with '/'");
  }

  @Test
  void aTransactionOnTwoShardsIsRefusedNamingAKeyOfEach() {
    RoutingTable table =
        RoutingTable.parse(RoutingTableTest.table(1, RoutingTableTest.HALVES, "pins: {b: 1}"));
    String a = namespaceOn(table, 0);
    TxnRequest oneShard =
        TxnRequest.newBuilder()
            .addCompare(Compare.newBuilder().setKey("/" + a + "/x"))
            .addSuccess(put("/" + a + "/y"))
            .build();
    assertThat(RoutedKv.shardOfTxn(table, oneShard).id()).isEqualTo(0);
    TxnRequest twoShards = oneShard.toBuilder().addFailure(put("/b/z")).build();
    assertThatThrownBy(() -> RoutedKv.shardOfTxn(table, twoShards))
        .hasMessageContaining("keys on two shards")
        .hasMessageContaining("/" + a + "/x on shard 0")
        .hasMessageContaining("/b/z on shard 1");
    assertThatThrownBy(() -> RoutedKv.shardOfTxn(table, TxnRequest.getDefaultInstance()))
        .hasMessageContaining("no key to route by");
  }

  /** A key touched twice, once as a key and once as the start of a wide range: both count. */
  @Test
  void aRangeOpStartingAtAComparedKeyCannotHideBehindIt() {
    RoutingTable table =
        RoutingTable.parse(RoutingTableTest.table(1, RoutingTableTest.HALVES, "pins: {b: 1}"));
    String a = namespaceOn(table, 0);
    TxnRequest everythingAfter =
        TxnRequest.newBuilder()
            .addCompare(Compare.newBuilder().setKey("/" + a + "/x"))
            .addSuccess(
                RequestOp.newBuilder()
                    .setRequestDeleteRange(
                        DeleteRangeRequest.newBuilder()
                            .setKey("/" + a + "/x")
                            .setRangeEnd(KeySpan.ALL_AFTER)))
            .build();
    assertThatThrownBy(() -> RoutedKv.shardOfTxn(table, everythingAfter))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> assertThat(e.code()).isEqualTo(io.meridian.api.v1.Error.Code.INVALID_ARGUMENT))
        .hasMessageContaining("spans namespaces");
  }

  private static RequestOp put(String key) {
    return RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(key)).build();
  }

  static String namespaceOn(RoutingTable table, int shard) {
    for (int i = 0; ; i++) {
      if (table.shardOf("ns" + i).id() == shard) {
        return "ns" + i;
      }
    }
  }
}
