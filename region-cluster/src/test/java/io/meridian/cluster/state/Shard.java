package io.meridian.cluster.state;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.ApplyReplicatedRequest;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.DeregisterRequest;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.HealthStatus;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.LeaseRevokeRequest;
import io.meridian.api.v1.LockMode;
import io.meridian.api.v1.LockReleaseRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetHealthRequest;
import io.meridian.api.v1.SourcePosition;
import io.meridian.api.v1.TxnRequest;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.InitShard;
import io.meridian.cluster.proto.LeaderStart;
import io.meridian.cluster.proto.LeaseCheckpoint;
import io.meridian.cluster.proto.LeaseExpire;
import io.meridian.cluster.proto.LeaseGrant;
import io.meridian.cluster.proto.LockAcquire;
import io.meridian.cluster.proto.LockCancel;
import io.meridian.cluster.proto.RegistryRegister;
import io.meridian.cluster.proto.SetRole;
import io.meridian.cluster.proto.SetSelfPreservation;
import io.meridian.cluster.proto.ShardSettings;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** A test driver around {@link ShardState}: builds commands, applies them, reads back. */
final class Shard {
  static final int SHARD = 3;
  static final long QUOTA = 1L << 30;

  final ShardState state;
  long now = 1_000_000;
  long term = 1;

  Shard(ShardState state) {
    this.state = state;
  }

  /** An initialized PRIMARY shard at epoch 1, with a generous quota. */
  static Shard primary() {
    return primary(QUOTA, 1000);
  }

  static Shard primary(long quota, int dedupCapacity) {
    Shard s = new Shard(new ShardState(SHARD));
    s.ok(
        s.apply(
            Command.newBuilder()
                .setInitShard(
                    InitShard.newBuilder()
                        .setShard(SHARD)
                        .setRole(Role.PRIMARY)
                        .setEpoch(1)
                        .setSettings(
                            ShardSettings.newBuilder()
                                .setQuotaBytes(quota)
                                .setDedupCapacity(dedupCapacity)))));
    s.ok(s.apply(Command.newBuilder().setLeaderStart(LeaderStart.newBuilder().setLeader("n1"))));
    return s;
  }

  /** An initialized STANDBY shard at epoch 1: it takes only replicated batches. */
  static Shard standby() {
    Shard s = new Shard(new ShardState(SHARD));
    s.ok(s.init(Role.STANDBY, 1));
    s.ok(s.apply(Command.newBuilder().setLeaderStart(LeaderStart.newBuilder().setLeader("s1"))));
    return s;
  }

  ApplyResult applyReplicated(List<ChangeBatch> batches, long offset) {
    return apply(
        Command.newBuilder()
            .setApplyReplicated(
                ApplyReplicatedRequest.newBuilder()
                    .addAllBatches(batches)
                    .setSource(
                        SourcePosition.newBuilder()
                            .setTopic("meridian.3.changes")
                            .setOffset(offset))));
  }

  /** Every batch {@code primary} committed after this shard's revision, applied as one run. */
  ApplyResult follow(Shard primary) {
    List<ChangeBatch> batches = primary.state.changeBatches(0, state.revision(), Integer.MAX_VALUE);
    return ok(applyReplicated(batches, primary.state.revision()));
  }

  static ByteString bytes(String s) {
    return ByteString.copyFrom(s, StandardCharsets.UTF_8);
  }

  /** Every command applied through this driver, in order, as applied. */
  final List<Command> applied = new java.util.ArrayList<>();

  ApplyResult apply(Command.Builder command) {
    Command c = command.setNowMs(now).build();
    applied.add(c);
    return state.apply(c, term);
  }

  ApplyResult ok(ApplyResult r) {
    assertThat(r.result().hasError()).as("error: %s", r.result().getError()).isFalse();
    return r;
  }

  static Error.Code code(ApplyResult r) {
    assertThat(r.result().hasError()).as("expected an error, got %s", r.result()).isTrue();
    return r.result().getError().getCode();
  }

  ApplyResult init(Role role, long epoch) {
    return apply(
        Command.newBuilder()
            .setInitShard(InitShard.newBuilder().setShard(SHARD).setRole(role).setEpoch(epoch)));
  }

  ApplyResult setRole(Role role, long epoch) {
    return apply(
        Command.newBuilder().setSetRole(SetRole.newBuilder().setRole(role).setEpoch(epoch)));
  }

  ApplyResult setSettings(long quotaBytes, int dedupCapacity) {
    return apply(
        Command.newBuilder()
            .setSetSettings(
                io.meridian.cluster.proto.SetSettings.newBuilder()
                    .setSettings(
                        ShardSettings.newBuilder()
                            .setQuotaBytes(quotaBytes)
                            .setDedupCapacity(dedupCapacity))));
  }

  ApplyResult leaderStart(long newTerm) {
    term = newTerm;
    return apply(Command.newBuilder().setLeaderStart(LeaderStart.getDefaultInstance()));
  }

  ApplyResult put(String key, String value) {
    return put(key, value, 0);
  }

  ApplyResult put(String key, String value, long lease) {
    return apply(Command.newBuilder().setPut(putReq(key, value, lease)));
  }

  /** A put carrying a request id, so the dedup table remembers its outcome. */
  ApplyResult putOnce(String requestId, String key, String value) {
    return apply(Command.newBuilder().setRequestId(requestId).setPut(putReq(key, value, 0)));
  }

  static PutRequest putReq(String key, String value, long lease) {
    return PutRequest.newBuilder()
        .setKey(key)
        .setValue(bytes(value))
        .setLease(lease)
        .setPrevKv(true)
        .build();
  }

  ApplyResult delete(String key) {
    return apply(
        Command.newBuilder()
            .setDeleteRange(DeleteRangeRequest.newBuilder().setKey(key).setPrevKv(true)));
  }

  ApplyResult deletePrefix(String prefix) {
    return apply(
        Command.newBuilder()
            .setDeleteRange(
                DeleteRangeRequest.newBuilder().setKey(prefix).setPrefix(true).setPrevKv(true)));
  }

  ApplyResult txn(TxnRequest.Builder txn) {
    return apply(Command.newBuilder().setTxn(txn));
  }

  static RequestOp opPut(String key, String value) {
    return RequestOp.newBuilder().setRequestPut(putReq(key, value, 0)).build();
  }

  static RequestOp opDelete(String key) {
    return RequestOp.newBuilder()
        .setRequestDeleteRange(DeleteRangeRequest.newBuilder().setKey(key))
        .build();
  }

  static RequestOp opDeletePrefix(String key) {
    return RequestOp.newBuilder()
        .setRequestDeleteRange(DeleteRangeRequest.newBuilder().setKey(key).setPrefix(true))
        .build();
  }

  static RequestOp opGet(String key) {
    return RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(key)).build();
  }

  static Compare cmpVersion(String key, Compare.Result result, long version) {
    return Compare.newBuilder()
        .setKey(key)
        .setTarget(Compare.Target.VERSION)
        .setResult(result)
        .setVersion(version)
        .build();
  }

  ApplyResult compact(long revision) {
    return apply(
        Command.newBuilder()
            .setCompact(io.meridian.api.v1.CompactionRequest.newBuilder().setRevision(revision)));
  }

  ApplyResult grantResult(String namespace, long ttlMs, long id) {
    return apply(
        Command.newBuilder()
            .setLeaseGrant(
                LeaseGrant.newBuilder().setNamespace(namespace).setTtlMs(ttlMs).setId(id)));
  }

  long grant(String namespace) {
    return ok(grantResult(namespace, 10_000, 0)).result().getLeaseGrant().getId();
  }

  ApplyResult revoke(long id) {
    return apply(Command.newBuilder().setLeaseRevoke(LeaseRevokeRequest.newBuilder().setId(id)));
  }

  /** An expiry proposed by the leader of the current term. */
  ApplyResult expire(long... ids) {
    return expireProposedIn(term, ids);
  }

  /** An expiry proposed by the leader of {@code proposerTerm}, in an entry of the current term. */
  ApplyResult expireProposedIn(long proposerTerm, long... ids) {
    LeaseExpire.Builder b = LeaseExpire.newBuilder().setProposerTerm(proposerTerm).setLeader("n1");
    for (long id : ids) {
      b.addIds(id);
    }
    return apply(Command.newBuilder().setLeaseExpire(b));
  }

  ApplyResult checkpoint(long id, long remainingMs) {
    return checkpointProposedIn(term, id, remainingMs);
  }

  ApplyResult checkpointProposedIn(long proposerTerm, long id, long remainingMs) {
    return apply(
        Command.newBuilder()
            .setLeaseCheckpoint(
                LeaseCheckpoint.newBuilder()
                    .setProposerTerm(proposerTerm)
                    .setLeader("n1")
                    .addLeases(
                        LeaseCheckpoint.Remaining.newBuilder()
                            .setId(id)
                            .setRemainingMs(remainingMs))));
  }

  ApplyResult acquire(String name, long lease, LockMode mode, long deadlineMs) {
    return acquire(name, lease, mode, deadlineMs, false);
  }

  ApplyResult acquire(
      String name, long lease, LockMode mode, long deadlineMs, boolean hierarchical) {
    return apply(
        Command.newBuilder()
            .setLockAcquire(
                LockAcquire.newBuilder()
                    .setName(name)
                    .setLease(lease)
                    .setMode(mode)
                    .setDeadlineMs(deadlineMs)
                    .setHierarchical(hierarchical)));
  }

  ApplyResult release(String name, long lease) {
    return apply(
        Command.newBuilder()
            .setLockRelease(LockReleaseRequest.newBuilder().setName(name).setLease(lease)));
  }

  ApplyResult cancel(String name, long lease) {
    return apply(
        Command.newBuilder()
            .setLockCancel(
                LockCancel.newBuilder()
                    .addWaiters(LockCancel.Waiter.newBuilder().setName(name).setLease(lease))));
  }

  /** A registration of {@code ns/service/id} at 10.0.0.1:8080, everything else default. */
  static RegisterRequest.Builder instance(String ns, String service, String id) {
    return RegisterRequest.newBuilder()
        .setNamespace(ns)
        .setService(service)
        .setInstanceId(id)
        .setAddress("10.0.0.1")
        .setPort(8080);
  }

  ApplyResult register(RegisterRequest.Builder request, long ttlMs) {
    return apply(
        Command.newBuilder()
            .setRegistryRegister(
                RegistryRegister.newBuilder().setRequest(request).setTtlMs(ttlMs)));
  }

  /** Registers with a 30 s registry-granted lease and returns the instance. */
  Instance registered(RegisterRequest.Builder request) {
    return ok(register(request, 30_000)).result().getRegistryRegister().getInstance();
  }

  ApplyResult setHealth(String ns, String service, String id, HealthStatus health, String note) {
    return apply(
        Command.newBuilder()
            .setRegistrySetHealth(
                SetHealthRequest.newBuilder()
                    .setNamespace(ns)
                    .setService(service)
                    .setInstanceId(id)
                    .setHealth(health)
                    .setNote(note)));
  }

  ApplyResult deregister(String ns, String service, String id) {
    return apply(
        Command.newBuilder()
            .setRegistryDeregister(
                DeregisterRequest.newBuilder()
                    .setNamespace(ns)
                    .setService(service)
                    .setInstanceId(id)));
  }

  ApplyResult selfPreservation(boolean active) {
    return apply(
        Command.newBuilder()
            .setSetSelfPreservation(
                SetSelfPreservation.newBuilder().setActive(active).setReason("test")));
  }

  /** The ids that discovery returns, in order. */
  List<String> discover(DiscoverRequest.Builder request) {
    return state.discover(request.build()).getInstancesList().stream()
        .map(Instance::getId)
        .toList();
  }

  /** The current value of {@code key}, or null. */
  KeyValue get(String key) {
    RangeResponse r = state.range(RangeRequest.newBuilder().setKey(key).build());
    return r.getKvsCount() == 0 ? null : r.getKvs(0);
  }

  String value(String key) {
    KeyValue kv = get(key);
    return kv == null ? null : kv.getValue().toStringUtf8();
  }

  List<KeyValue> prefix(String prefix) {
    return state
        .range(RangeRequest.newBuilder().setKey(prefix).setPrefix(true).build())
        .getKvsList();
  }

  byte[] hash() {
    return state.stateHash();
  }

  /** A copy made through a snapshot round trip. */
  ShardState reloaded() {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      state.writeSnapshot(out);
      return ShardState.readSnapshot(new ByteArrayInputStream(out.toByteArray()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
