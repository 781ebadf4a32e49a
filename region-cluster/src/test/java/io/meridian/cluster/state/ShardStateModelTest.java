package io.meridian.cluster.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.LockInspectResponse;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.LockOwner;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.TxnRequest;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.lease.LeaseView;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandBatch;
import io.meridian.cluster.registry.RegistryIndex;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Random command sequences against a simple model made of plain maps: after every step the result
 * code, the revision, every key (current and at a random retained past revision) and every lock
 * queue must match the model; at the end a snapshot round trip must give the same hash and the same
 * reads.
 *
 * <p>jqwik prints the seed of a failing run; replay it with {@code @Property(seed = "...")} on
 * {@link #behavesLikeTheModel}.
 */
class ShardStateModelTest {
  private static final String[] KEYS = {"/a/k0", "/a/k1", "/a/k2", "/a/x/k3", "/b/k0", "/b/k1"};
  private static final String[] PREFIXES = {"/a/", "/a/x/", "/b/", "/"};
  private static final String[] LOCKS = {"/a/l0", "/a/l1"};
  private static final String[] INSTANCES = {"i0", "i1", "i2"};

  sealed interface Action {}

  record Put(int key, int value, int lease) implements Action {}

  record Delete(int key) implements Action {}

  record DeletePrefix(int prefix) implements Action {}

  record Txn(int cmpKey, int version, int putKey, int otherKey, boolean deleteOther)
      implements Action {}

  record Compact(int back) implements Action {}

  record Grant(boolean namespaceA) implements Action {}

  record Revoke(int lease, boolean expire) implements Action {}

  record Acquire(int lock, int lease, boolean shared, boolean waits) implements Action {}

  record Release(int lock, int lease) implements Action {}

  /** lease 0: a registry-granted lease of 10 s ({@code longTtl}: 20 s); else a named lease. */
  record Register(int instance, boolean longTtl, int lease) implements Action {}

  record Deregister(int instance) implements Action {}

  @Provide
  Arbitrary<List<Action>> actions() {
    Arbitrary<Integer> key = Arbitraries.integers().between(0, KEYS.length - 1);
    Arbitrary<Integer> small = Arbitraries.integers().between(0, 5);
    Arbitrary<Action> put = Combinators.combine(key, small, small).as(Put::new);
    Arbitrary<Action> delete = key.map(Delete::new);
    Arbitrary<Action> deletePrefix =
        Arbitraries.integers().between(0, PREFIXES.length - 1).map(DeletePrefix::new);
    Arbitrary<Action> txn =
        Combinators.combine(
                key, Arbitraries.integers().between(0, 2), key, key, Arbitraries.of(true, false))
            .as(Txn::new);
    Arbitrary<Action> compact = Arbitraries.integers().between(0, 4).map(Compact::new);
    Arbitrary<Action> grant = Arbitraries.of(true, true, false).map(Grant::new);
    Arbitrary<Action> revoke =
        Combinators.combine(small, Arbitraries.of(true, false)).as(Revoke::new);
    Arbitrary<Action> acquire =
        Combinators.combine(
                Arbitraries.integers().between(0, 1),
                small,
                Arbitraries.of(true, false),
                Arbitraries.of(true, false))
            .as(Acquire::new);
    Arbitrary<Action> release =
        Combinators.combine(Arbitraries.integers().between(0, 1), small).as(Release::new);
    Arbitrary<Integer> instance = Arbitraries.integers().between(0, INSTANCES.length - 1);
    Arbitrary<Action> register =
        Combinators.combine(
                instance,
                Arbitraries.of(true, false),
                Arbitraries.frequencyOf(
                    net.jqwik.api.Tuple.of(3, Arbitraries.just(0)),
                    net.jqwik.api.Tuple.of(2, small)))
            .as(Register::new);
    Arbitrary<Action> deregister = instance.map(Deregister::new);
    return Arbitraries.frequencyOf(
            net.jqwik.api.Tuple.of(6, put),
            net.jqwik.api.Tuple.of(2, delete),
            net.jqwik.api.Tuple.of(1, deletePrefix),
            net.jqwik.api.Tuple.of(2, txn),
            net.jqwik.api.Tuple.of(1, compact),
            net.jqwik.api.Tuple.of(2, grant),
            net.jqwik.api.Tuple.of(1, revoke),
            net.jqwik.api.Tuple.of(3, acquire),
            net.jqwik.api.Tuple.of(2, release),
            net.jqwik.api.Tuple.of(3, register),
            net.jqwik.api.Tuple.of(2, deregister))
        .list()
        .ofMinSize(1)
        .ofMaxSize(60);
  }

  @Property(tries = 1000)
  void behavesLikeTheModel(@ForAll("actions") List<Action> actions) {
    Shard s = Shard.primary();
    Shard standby = Shard.standby();
    Model m = new Model();
    for (Action action : actions) {
      ApplyResult r = apply(s, m, action);
      assertThat(r.revision()).as("revision after %s", action).isEqualTo(m.rev);
      compare(s.state, m, action);
      // Every revision replicates: the standby reads the same as the primary after each step.
      standby.follow(s);
      if (s.state.compactRevision() > standby.state.compactRevision()) {
        standby.ok(standby.compact(s.state.compactRevision())); // Each region compacts its own.
      }
      compare(standby.state, m, "standby after " + action);
      assertThat(standby.state.replicationState().getChainHash())
          .isEqualTo(s.state.replicationState().getChainHash());
    }
    ShardState copy = s.reloaded();
    assertThat(copy.stateHash()).isEqualTo(s.hash());
    compare(copy, m, "snapshot");
    assertThat(copy.stats()).isEqualTo(s.state.stats());
    assertThat(standby.state.leases("").stream().map(ShardStateModelTest::leaseFacts))
        .containsExactlyElementsOf(
            s.state.leases("").stream().map(ShardStateModelTest::leaseFacts).toList());
  }

  /**
   * The same commands applied as batch entries of random sizes leave the same results, revisions,
   * committed changes, lock and lease events and state (by hash) as applied one by one.
   */
  @Property(tries = 300)
  void aBatchIsItsCommandsAppliedOneByOne(
      @ForAll("actions") List<Action> actions,
      @ForAll @Size(min = 1, max = 10) List<@IntRange(min = 1, max = 7) Integer> sizes) {
    Shard single = Shard.primary();
    Model m = new Model();
    int setup = single.applied.size();
    List<ApplyResult> alone = new ArrayList<>();
    for (Action action : actions) {
      alone.add(apply(single, m, action));
    }
    List<Command> commands = single.applied.subList(setup, single.applied.size());

    Shard batched = Shard.primary();
    List<ApplyResult> together = new ArrayList<>();
    for (int i = 0, k = 0; i < commands.size(); k++) {
      int n = Math.min(sizes.get(k % sizes.size()), commands.size() - i);
      together.addAll(
          batched.state.applyBatch(
              CommandBatch.newBuilder().addAllCommands(commands.subList(i, i + n)).build(),
              batched.term));
      i += n;
    }

    assertThat(together).containsExactlyElementsOf(alone);
    assertThat(batched.hash()).isEqualTo(single.hash());
    assertThat(batched.state.revision()).isEqualTo(single.state.revision());
  }

  @Property(tries = 20)
  void aBatchInsideABatchIsRefusedAndChangesNothing(@ForAll @IntRange(min = 0, max = 5) int v) {
    Shard s = Shard.primary();
    byte[] before = s.hash();
    Command put =
        Command.newBuilder().setNowMs(s.now).setPut(Shard.putReq(KEYS[0], "v" + v, 0)).build();
    Command nested =
        Command.newBuilder().setBatch(CommandBatch.newBuilder().addCommands(put)).build();

    List<ApplyResult> results =
        s.state.applyBatch(CommandBatch.newBuilder().addCommands(nested).build(), s.term);

    assertThat(results).hasSize(1);
    assertThat(results.get(0).result().getError().getCode()).isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(s.hash()).isEqualTo(before);
  }

  /** Applies {@code action} to both and checks the outcome code; returns the state's result. */
  private ApplyResult apply(Shard s, Model m, Action action) {
    Error.Code expected;
    ApplyResult r;
    if (action instanceof Put p) {
      String key = KEYS[p.key()];
      long lease = p.lease() == 0 ? 0 : m.leaseAt(p.lease());
      r = s.put(key, "v" + p.value(), lease);
      expected = m.put(key, "v" + p.value(), lease);
    } else if (action instanceof Delete d) {
      r = s.delete(KEYS[d.key()]);
      expected = m.deletePrefix(KEYS[d.key()], true);
    } else if (action instanceof DeletePrefix d) {
      r = s.deletePrefix(PREFIXES[d.prefix()]);
      expected = m.deletePrefix(PREFIXES[d.prefix()], false);
    } else if (action instanceof Txn t) {
      String cmpKey = KEYS[t.cmpKey()];
      TxnRequest.Builder txn =
          TxnRequest.newBuilder()
              .addCompare(Shard.cmpVersion(cmpKey, Compare.Result.EQUAL, t.version()))
              .addSuccess(Shard.opPut(KEYS[t.putKey()], "t"))
              .addSuccess(
                  t.deleteOther()
                      ? Shard.opDelete(KEYS[t.otherKey()])
                      : Shard.opPut(KEYS[t.otherKey()], "u"))
              .addFailure(Shard.opDelete(KEYS[t.putKey()]));
      r = s.txn(txn);
      expected = m.txn(cmpKey, t.version(), KEYS[t.putKey()], KEYS[t.otherKey()], t.deleteOther());
    } else if (action instanceof Compact c) {
      long target = m.rev - c.back();
      r = s.compact(target);
      expected = m.compact(target);
    } else if (action instanceof Grant g) {
      r = s.grantResult(g.namespaceA() ? "a" : "b", 10_000, 0);
      expected = m.grant(g.namespaceA() ? "a" : "b");
      if (expected == null) {
        assertThat(r.result().getLeaseGrant().getId()).isEqualTo(m.lastGranted);
      }
    } else if (action instanceof Revoke v) {
      long id = m.leaseAt(v.lease());
      r = v.expire() ? s.expire(id) : s.revoke(id);
      expected = m.revoke(id, v.expire());
    } else if (action instanceof Acquire a) {
      long id = m.leaseAt(a.lease());
      LockMode mode = a.shared() ? LockMode.SHARED : LockMode.EXCLUSIVE;
      r = s.acquire(LOCKS[a.lock()], id, mode, a.waits() ? s.now + 1000 : 0);
      expected = m.acquire(LOCKS[a.lock()], id, a.shared(), a.waits());
    } else if (action instanceof Release rel) {
      long id = m.leaseAt(rel.lease());
      r = s.release(LOCKS[rel.lock()], id);
      expected = m.release(LOCKS[rel.lock()], id);
    } else if (action instanceof Register reg) {
      long given = reg.lease() == 0 ? 0 : m.leaseAt(reg.lease());
      long ttl = reg.longTtl() ? 20_000 : 10_000;
      String id = INSTANCES[reg.instance()];
      r = s.register(Shard.instance("a", "web", id).setLease(given), ttl);
      expected = m.register(id, ttl, given);
    } else if (action instanceof Deregister d) {
      String id = INSTANCES[d.instance()];
      r = s.deregister("a", "web", id);
      expected = m.deregister(id);
    } else {
      throw new IllegalStateException("unknown action " + action);
    }
    if (expected == null) {
      assertThat(r.result().hasError()).as("%s: %s", action, r.result().getError()).isFalse();
    } else {
      assertThat(r.result().getError().getCode()).as("%s", action).isEqualTo(expected);
    }
    return r;
  }

  /** What replication carries of a lease (a checkpoint's remaining TTL is the primary's own). */
  private static List<Object> leaseFacts(LeaseView l) {
    return List.of(l.id(), l.namespace(), l.ttlMs(), l.grantRevision(), l.keys());
  }

  private void compare(ShardState state, Model m, Object step) {
    assertThat(userKeys(state, 0)).as("keys after %s", step).isEqualTo(m.live);
    // One retained past revision per step.
    long low = Math.max(1, m.compactRev);
    if (m.rev >= low) {
      long rev = low + Math.floorMod(m.rev * 31 + m.live.size(), m.rev - low + 1);
      assertThat(userKeys(state, rev))
          .as("keys at %d after %s", rev, step)
          .isEqualTo(m.history.get(rev));
    }
    if (m.compactRev > 1) {
      assertThatThrownBy(
              () ->
                  state.range(
                      RangeRequest.newBuilder()
                          .setKey("/")
                          .setPrefix(true)
                          .setRevision(m.compactRev - 1)
                          .build()))
          .isInstanceOfSatisfying(
              MeridianException.class, e -> assertThat(e.code()).isEqualTo(Error.Code.COMPACTED));
    }
    for (String lock : LOCKS) {
      LockInspectResponse inspect = state.inspectLock(lock);
      List<String> actual = new ArrayList<>();
      inspect.getHoldersList().forEach(o -> actual.add(describe(o, true)));
      inspect.getWaitersList().forEach(o -> actual.add(describe(o, false)));
      List<String> expected = new ArrayList<>();
      for (Model.Entry e : m.locks.getOrDefault(lock, List.of())) {
        if (e.grantRev != 0) {
          expected.add(e.describe());
        }
      }
      for (Model.Entry e : m.locks.getOrDefault(lock, List.of())) {
        if (e.grantRev == 0) {
          expected.add(e.describe());
        }
      }
      assertThat(actual).as("lock %s after %s", lock, step).isEqualTo(expected);
    }
    assertThat(state.leases("").stream().map(LeaseView::id).toList())
        .as("leases after %s", step)
        .isEqualTo(new ArrayList<>(m.leases.keySet()));
    assertThat(state.registryInstances())
        .as("instances after %s", step)
        .isEqualTo(m.instances.size());
    for (String id : INSTANCES) {
      long[] expected = m.instances.get(id);
      String key = RegistryIndex.keyOf("a", "web", id);
      KeyValue kv =
          state.range(RangeRequest.newBuilder().setKey(key).build()).getKvsList().stream()
              .findFirst()
              .orElse(null);
      if (expected == null) {
        assertThat(kv).as("instance %s after %s", id, step).isNull();
      } else {
        assertThat(kv).as("instance %s after %s", id, step).isNotNull();
        assertThat(kv.getLease()).as("lease of %s after %s", id, step).isEqualTo(expected[0]);
        assertThat(RegistryIndex.decode(kv).getOwnsLease())
            .as("owns_lease of %s after %s", id, step)
            .isEqualTo(expected[1] == 1);
      }
    }
  }

  private static String describe(LockOwner o, boolean holder) {
    return o.getLease()
        + "/"
        + o.getMode()
        + "/c"
        + o.getCreateRevision()
        + "/g"
        + o.getGrantRevision()
        + "/t"
        + o.getFencingToken()
        + (holder ? "/held" : "/waiting");
  }

  private static Map<String, String> userKeys(ShardState state, long rev) {
    Map<String, String> out = new TreeMap<>();
    for (KeyValue kv :
        state
            .range(RangeRequest.newBuilder().setKey("/").setPrefix(true).setRevision(rev).build())
            .getKvsList()) {
      if (!kv.getKey().contains("/.meridian/")) {
        out.put(
            kv.getKey(),
            Model.describe(
                kv.getValue().toStringUtf8(),
                kv.getCreateRevision(),
                kv.getModRevision(),
                kv.getVersion(),
                kv.getLease()));
      }
    }
    return out;
  }
}
