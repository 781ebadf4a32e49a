package io.meridian.cluster.state;

import static io.meridian.cluster.state.Shard.code;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.Limits;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.Role;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.Change;
import io.meridian.cluster.proto.Command;
import org.junit.jupiter.api.Test;

class KvTest {
  private final Shard s = Shard.primary();

  @Test
  void putCreatesThenVersions() {
    ApplyResult first = s.ok(s.put("/a/k", "v1"));
    assertThat(first.revision()).isEqualTo(1);
    assertThat(first.result().getPut().getHeader().getRevision()).isEqualTo(1);
    assertThat(first.result().getPut().getHeader().getShard()).isEqualTo(Shard.SHARD);
    assertThat(first.result().getPut().getHeader().getEpoch()).isEqualTo(1);
    assertThat(first.result().getPut().getHeader().getRole()).isEqualTo(Role.PRIMARY);
    assertThat(first.result().getPut().hasPrevKv()).isFalse();
    ApplyResult second = s.ok(s.put("/a/k", "v2"));
    assertThat(second.revision()).isEqualTo(2);
    assertThat(second.result().getPut().getPrevKv().getValue().toStringUtf8()).isEqualTo("v1");
    KeyValue kv = s.get("/a/k");
    assertThat(kv.getCreateRevision()).isEqualTo(1);
    assertThat(kv.getModRevision()).isEqualTo(2);
    assertThat(kv.getVersion()).isEqualTo(2);
    assertThat(second.changes()).singleElement().isInstanceOf(Change.KvPut.class);
  }

  @Test
  void deleteTombstonesAndResetsVersion() {
    s.ok(s.put("/a/k", "v1"));
    s.ok(s.put("/a/k", "v2"));
    ApplyResult del = s.ok(s.delete("/a/k"));
    assertThat(del.revision()).isEqualTo(3);
    assertThat(del.result().getDeleteRange().getDeleted()).isEqualTo(1);
    assertThat(del.result().getDeleteRange().getPrevKvs(0).getValue().toStringUtf8())
        .isEqualTo("v2");
    assertThat(del.changes())
        .singleElement()
        .isEqualTo(new Change.KvDelete("/a/k", 3, s.state.range(at("/a/k", 2)).getKvs(0)));
    assertThat(s.get("/a/k")).isNull();
    // A delete that deletes nothing does not bump the revision.
    ApplyResult none = s.ok(s.delete("/a/k"));
    assertThat(none.revision()).isEqualTo(3);
    assertThat(none.result().getDeleteRange().getDeleted()).isZero();
    s.ok(s.put("/a/k", "v3"));
    KeyValue kv = s.get("/a/k");
    assertThat(kv.getVersion()).isEqualTo(1);
    assertThat(kv.getCreateRevision()).isEqualTo(4);
  }

  private static RangeRequest at(String key, long rev) {
    return RangeRequest.newBuilder().setKey(key).setRevision(rev).build();
  }

  @Test
  void readsHistoryAtPastRevisions() {
    s.ok(s.put("/a/k", "v1"));
    s.ok(s.put("/a/k", "v2"));
    s.ok(s.delete("/a/k"));
    assertThat(s.state.range(at("/a/k", 1)).getKvs(0).getValue().toStringUtf8()).isEqualTo("v1");
    assertThat(s.state.range(at("/a/k", 2)).getKvs(0).getValue().toStringUtf8()).isEqualTo("v2");
    assertThat(s.state.range(at("/a/k", 3)).getKvsCount()).isZero();
    assertThatThrownBy(() -> s.state.range(at("/a/k", 4)))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> assertThat(e.code()).isEqualTo(Error.Code.FUTURE_REVISION));
  }

  @Test
  void rangesByPrefixIntervalAndUnbounded() {
    for (String k : new String[] {"/a/x/1", "/a/x/2", "/a/x/3", "/a/y", "/b/z"}) {
      s.ok(s.put(k, k));
    }
    assertThat(keys(RangeRequest.newBuilder().setKey("/a/x/").setPrefix(true)))
        .containsExactly("/a/x/1", "/a/x/2", "/a/x/3");
    assertThat(keys(RangeRequest.newBuilder().setKey("/").setPrefix(true))).hasSize(5);
    assertThat(keys(RangeRequest.newBuilder().setKey("/a/x/2").setRangeEnd("/a/y")))
        .containsExactly("/a/x/2", "/a/x/3");
    assertThat(keys(RangeRequest.newBuilder().setKey("/a/y").setRangeEnd("\u0000")))
        .containsExactly("/a/y", "/b/z");
    RangeResponse limited =
        s.state.range(RangeRequest.newBuilder().setKey("/a/").setPrefix(true).setLimit(2).build());
    assertThat(limited.getKvsCount()).isEqualTo(2);
    assertThat(limited.getCount()).isEqualTo(4);
    assertThat(limited.getMore()).isTrue();
    RangeResponse counted =
        s.state.range(
            RangeRequest.newBuilder().setKey("/a/").setPrefix(true).setCountOnly(true).build());
    assertThat(counted.getKvsCount()).isZero();
    assertThat(counted.getCount()).isEqualTo(4);
    RangeResponse keysOnly =
        s.state.range(RangeRequest.newBuilder().setKey("/a/y").setKeysOnly(true).build());
    assertThat(keysOnly.getKvs(0).getValue().isEmpty()).isTrue();
    assertThat(keysOnly.getKvs(0).getVersion()).isEqualTo(1);
    assertThat(keysOnly.getHeader().getRevision()).isEqualTo(5);
  }

  private java.util.List<String> keys(RangeRequest.Builder req) {
    return s.state.range(req.build()).getKvsList().stream().map(KeyValue::getKey).toList();
  }

  @Test
  void badRangesThrow() {
    assertThatThrownBy(() -> s.state.range(RangeRequest.newBuilder().setKey("x").build()))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> assertThat(e.code()).isEqualTo(Error.Code.INVALID_ARGUMENT));
    assertThatThrownBy(
            () -> s.state.range(RangeRequest.newBuilder().setKey("/a/b").setLimit(-1).build()))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> assertThat(e.code()).isEqualTo(Error.Code.INVALID_ARGUMENT));
  }

  @Test
  void rangeDeleteSkipsReservedKeys() {
    long lease = s.grant("a");
    s.ok(s.acquire("/a/lock", lease, io.meridian.api.v1.LockMode.EXCLUSIVE, 0));
    s.ok(s.put("/a/k", "v"));
    ApplyResult del = s.ok(s.deletePrefix("/a/"));
    assertThat(del.result().getDeleteRange().getDeleted()).isEqualTo(1);
    assertThat(s.state.inspectLock("/a/lock").getHoldersCount()).isEqualTo(1);
    assertThat(s.prefix("/a/.meridian/")).hasSize(1);
  }

  @Test
  void reservedAndOversizedWritesAreRefused() {
    assertThat(code(s.put("/a/.meridian/x", "v"))).isEqualTo(Error.Code.RESERVED_KEY);
    assertThat(code(s.delete("/a/.meridian/x"))).isEqualTo(Error.Code.RESERVED_KEY);
    assertThat(code(s.put("a/b", "v"))).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(code(s.put("/" + "k".repeat(Limits.MAX_KEY_BYTES), "v")))
        .isIn(Error.Code.KEY_TOO_LARGE, Error.Code.INVALID_ARGUMENT);
    Command.Builder big =
        Command.newBuilder()
            .setPut(
                PutRequest.newBuilder()
                    .setKey("/a/big")
                    .setValue(
                        com.google.protobuf.ByteString.copyFrom(
                            new byte[Limits.MAX_VALUE_BYTES + 1])));
    assertThat(code(s.apply(big))).isEqualTo(Error.Code.VALUE_TOO_LARGE);
    assertThat(s.state.revision()).isZero();
  }

  @Test
  void putWithLeaseAttachesAndMovesKeys() {
    long l1 = s.grant("a");
    long l2 = s.grant("a");
    long other = s.grant("b");
    s.ok(s.put("/a/k", "v", l1));
    assertThat(s.state.lease(l1).orElseThrow().keys()).containsExactly("/a/k");
    s.ok(s.put("/a/k", "v", l2));
    assertThat(s.state.lease(l1).orElseThrow().keys()).isEmpty();
    assertThat(s.state.lease(l2).orElseThrow().keys()).containsExactly("/a/k");
    s.ok(s.put("/a/k", "v"));
    assertThat(s.state.lease(l2).orElseThrow().keys()).isEmpty();
    assertThat(code(s.put("/a/k", "v", other))).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(code(s.put("/a/k", "v", l2 + 100))).isEqualTo(Error.Code.LEASE_NOT_FOUND);
  }
}
