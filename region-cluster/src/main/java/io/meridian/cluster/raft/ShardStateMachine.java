package io.meridian.cluster.raft;

import com.google.protobuf.InvalidProtocolBufferException;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.NodeClock;
import io.meridian.cluster.internal.StateReader;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandBatch;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.CommandResultBatch;
import io.meridian.cluster.proto.LockAcquire;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.cluster.state.ShardState;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.util.LifeCycle;
import org.apache.ratis.util.MD5FileUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thin Ratis adapter around a {@link ShardState}: it stamps leader time into commands in {@link
 * #startTransaction}, applies them in {@link #applyTransaction}, serves reads in {@link #query} and
 * writes checksummed snapshots. Every rule lives in {@link ShardState}.
 *
 * <p>Lifecycle follows Ratis's snapshot-install contract: {@link #pause} moves to PAUSED before the
 * state-machine directory is replaced, {@link #reinitialize} reloads the newest snapshot.
 *
 * <p>Its length is Ratis's state-machine contract (transactions, reads, snapshot take, install and
 * reload, pause and resume) kept in one class, so that every use of Ratis's server API by the state
 * machine is in one file; nothing in it decides a rule.
 */
public final class ShardStateMachine extends BaseStateMachine implements StateReader<ShardState> {
  private static final Logger log = LoggerFactory.getLogger(ShardStateMachine.class);

  /** What the node does with applied commands, leadership changes and reads. */
  public interface Hooks {
    /** Called on the apply thread after each command; keep it cheap. */
    void onApplied(Command command, ApplyResult result, long term, long index);

    void onLeaderChanged(RaftPeerId leader, boolean self);

    /** Serves a read Ratis handed to this member as leader; it confirms its leadership itself. */
    CompletableFuture<QueryResult> query(Query query);

    /** The state was replaced by a snapshot installed from the leader. */
    void onStateReloaded();

    /**
     * An entry that carries no command (a configuration change) was applied at {@code index}: the
     * applied index moved without {@link #onApplied}.
     */
    void onIndexApplied(long index);
  }

  private final int shard;
  private final NodeClock clock;
  // Held while a written snapshot is moved into place with its MD5 file: Ratis's clean-up of old
  // snapshots (on the apply thread) would otherwise see it without one and warn.
  private final Object publishing = new Object();
  private final SimpleStateMachineStorage storage =
      new SimpleStateMachineStorage() {
        @Override
        public void cleanupOldSnapshots(
            org.apache.ratis.statemachine.SnapshotRetentionPolicy policy) throws IOException {
          synchronized (publishing) {
            super.cleanupOldSnapshots(policy);
          }
        }
      };

  /**
   * A snapshot file is forced to disk every this many bytes while it is written, not all at the
   * end: one fsync of tens of megabytes held the Raft log's own fsyncs (same disk) behind it, and
   * every write with them.
   */
  static final long SNAPSHOT_SYNC_BYTES = 4L << 20;

  private final ReadWriteLock stateLock = new ReentrantReadWriteLock();
  private volatile Hooks hooks;
  private final java.util.concurrent.atomic.AtomicInteger reinitializations =
      new java.util.concurrent.atomic.AtomicInteger();

  // Guarded by stateLock.
  private ShardState state;

  private static final long SNAPSHOT_WAIT_SECONDS = 60;
  // Writes frozen states while applies go on, one at a time.
  private final ExecutorService snapshotWriter;
  private final Object snapshots = new Object();
  // Guarded by snapshots: the newest snapshot index Ratis got from takeSnapshot, the write in
  // progress (or the last one), what it takes before a write is due, and who waits for one.
  private SingleFileSnapshotInfo reported;
  private CompletableFuture<Long> writing = CompletableFuture.completedFuture(-1L);
  private long snapshotThreshold = Long.MAX_VALUE;
  private final List<CompletableFuture<Long>> wanted = new ArrayList<>();

  public ShardStateMachine(int shard, NodeClock clock) {
    this.shard = shard;
    this.clock = clock;
    this.state = new ShardState(shard);
    this.snapshotWriter =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "shard-" + shard + "-snapshot");
              t.setDaemon(true);
              return t;
            });
  }

  public void setHooks(Hooks hooks) {
    this.hooks = hooks;
  }

  /** Runs {@code reader} against the applied state under the read lock. */
  @Override
  public <T> T read(Function<? super ShardState, T> reader) {
    stateLock.readLock().lock();
    try {
      return reader.apply(state);
    } finally {
      stateLock.readLock().unlock();
    }
  }

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage)
      throws IOException {
    getLifeCycle()
        .startAndTransition(
            () -> {
              super.initialize(server, groupId, raftStorage);
              storage.init(raftStorage);
              synchronized (snapshots) {
                snapshotThreshold =
                    RaftServerConfigKeys.Snapshot.autoTriggerEnabled(server.getProperties())
                        ? RaftServerConfigKeys.Snapshot.autoTriggerThreshold(server.getProperties())
                        : Long.MAX_VALUE;
              }
              loadLatestSnapshot();
            });
  }

  @Override
  public void pause() {
    LifeCycle lc = getLifeCycle();
    if (lc.getCurrentState() == LifeCycle.State.RUNNING) {
      lc.transition(LifeCycle.State.PAUSING);
      // The directory is about to be replaced: no write of ours may land in it.
      awaitSnapshotWrites();
      lc.transition(LifeCycle.State.PAUSED);
    }
  }

  @Override
  public void reinitialize() throws IOException {
    // Ratis calls this after installing a snapshot from the leader.
    getLifeCycle().transition(LifeCycle.State.STARTING);
    reinitializations.incrementAndGet();
    loadLatestSnapshot();
    getLifeCycle().transition(LifeCycle.State.RUNNING);
    Hooks h = hooks;
    if (h != null) {
      h.onStateReloaded();
    }
  }

  @Override
  public SimpleStateMachineStorage getStateMachineStorage() {
    return storage;
  }

  private void loadLatestSnapshot() throws IOException {
    SingleFileSnapshotInfo snapshot = storage.loadLatestSnapshot();
    if (snapshot == null) {
      return;
    }
    File file = snapshot.getFile().getPath().toFile();
    MD5Hash md5 = snapshot.getFile().getFileDigest();
    if (md5 != null) {
      MD5FileUtil.verifySavedMD5(file, md5);
    }
    ShardState loaded;
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file.toPath()))) {
      loaded = ShardState.readSnapshot(in);
    }
    stateLock.writeLock().lock();
    try {
      state = loaded;
    } finally {
      stateLock.writeLock().unlock();
    }
    updateLastAppliedTermIndex(snapshot.getTermIndex());
    synchronized (snapshots) {
      reported = snapshot;
    }
    log.info(
        "shard={} loaded snapshot {} revision={}",
        shard,
        snapshot.getTermIndex(),
        loaded.revision());
  }

  /**
   * Ratis asks on the apply thread, after applies, while the log since the snapshot it knows is
   * past its threshold, and when asked through {@link #snapshotWanted}. The state is frozen here in
   * O(1) and written by {@link #snapshotWriter} while applies go on; a finished write is reported
   * the next time Ratis asks, which is when Ratis records it and purges the log up to it. Until
   * then it answers -1 and Ratis keeps the snapshot it knows (decision 0015).
   */
  @Override
  public long takeSnapshot() {
    TermIndex last = getLastAppliedTermIndex();
    SingleFileSnapshotInfo newest = storage.getLatestSnapshot();
    synchronized (snapshots) {
      long answer = -1;
      if (newest != null && newest.getIndex() > reportedIndex()) {
        reported = newest;
        answer = newest.getIndex();
      }
      if (last == null || last.getIndex() < 0) {
        return answer;
      }
      boolean due = last.getIndex() - reportedIndex() >= snapshotThreshold && writing.isDone();
      if (!due && wanted.isEmpty()) {
        return answer;
      }
      List<CompletableFuture<Long>> waiters = List.copyOf(wanted);
      wanted.clear();
      long newestIndex = newest == null ? -1 : newest.getIndex();
      if (last.getIndex() <= newestIndex) {
        // Nothing applied since the newest snapshot: it is the one wanted.
        waiters.forEach(w -> w.complete(newestIndex));
        return answer;
      }
      ShardState.Frozen frozen = read(ShardState::freeze);
      CompletableFuture<Long> write =
          writing
              .handle((index, failure) -> null)
              .thenApplyAsync(ignored -> writeSnapshot(frozen, last), snapshotWriter);
      write.whenComplete(
          (index, failure) ->
              waiters.forEach(
                  w -> {
                    if (failure != null) {
                      w.completeExceptionally(failure);
                    } else {
                      w.complete(index);
                    }
                  }));
      writing = write;
      return answer;
    }
  }

  /**
   * The snapshot Ratis recorded (the last one {@link #takeSnapshot} reported), not a newer one
   * still unknown to it: Ratis decides from this whether an on-demand snapshot is needed.
   */
  @Override
  public SnapshotInfo getLatestSnapshot() {
    synchronized (snapshots) {
      return reported;
    }
  }

  private long reportedIndex() {
    return reported == null ? -1 : reported.getIndex();
  }

  /**
   * Completes with the index of a snapshot of a state at least as new as now, once it is written,
   * or exceptionally if writing failed. Unless the newest snapshot Ratis knows is already that new,
   * Ratis must then be asked to take a snapshot (a snapshot management request) for the state to be
   * frozen, and asked again after this completes to record it.
   */
  public CompletableFuture<Long> snapshotWanted() {
    TermIndex last = getLastAppliedTermIndex();
    synchronized (snapshots) {
      if (last == null || last.getIndex() <= reportedIndex()) {
        return CompletableFuture.completedFuture(reportedIndex());
      }
      CompletableFuture<Long> written = new CompletableFuture<>();
      wanted.add(written);
      return written;
    }
  }

  private long writeSnapshot(ShardState.Frozen frozen, TermIndex at) {
    File target = storage.getSnapshotFile(at.getTerm(), at.getIndex());
    File tmp = new File(target.getParentFile(), target.getName() + ".tmp");
    long started = clock.monotonicMillis();
    try {
      MessageDigest digest = MD5FileUtil.newMD5();
      try (FileOutputStream file = new FileOutputStream(tmp);
          OutputStream out =
              new BufferedOutputStream(
                  new DigestOutputStream(new SyncingOutputStream(file), digest), 1 << 16)) {
        frozen.writeTo(out);
        out.flush();
        // Durable before it is renamed into place and announced to Ratis.
        file.getFD().sync();
      }
      MD5Hash md5 = MD5Hash.newInstance(digest.digest());
      synchronized (publishing) {
        Files.move(
            tmp.toPath(),
            target.toPath(),
            StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
        MD5FileUtil.saveMD5File(target, md5);
      }
      // Both files are synced before their renames; the renames themselves are durable only once
      // the directory is. Ratis purges the log up to this snapshot, so losing it in a crash loses
      // state.
      syncDirectory(target.getParentFile().toPath());
      storage.updateLatestSnapshot(
          new SingleFileSnapshotInfo(new FileInfo(target.toPath(), md5), at));
      log.info(
          "shard={} snapshot at {} revision={} file={} bytes={} in {} ms",
          shard,
          at,
          frozen.revision(),
          target,
          target.length(),
          clock.monotonicMillis() - started);
      return at.getIndex();
    } catch (IOException e) {
      log.error("shard={} snapshot at {} failed: {}", shard, at, e.toString());
      tmp.delete();
      throw new UncheckedIOException(e);
    }
  }

  /** Waits for the snapshot being written, if any (before the directory changes or at close). */
  private void awaitSnapshotWrites() {
    CompletableFuture<Long> current;
    synchronized (snapshots) {
      current = writing;
    }
    try {
      current.get(SNAPSHOT_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      // Logged by the writer; the last good snapshot stays.
    } catch (TimeoutException e) {
      log.warn(
          "shard={} snapshot still being written after {} s; going on without it",
          shard,
          SNAPSHOT_WAIT_SECONDS);
    }
  }

  @Override
  public void close() throws IOException {
    awaitSnapshotWrites();
    snapshotWriter.shutdownNow();
    super.close();
  }

  /** Writes to a file, forcing it to disk every {@link #SNAPSHOT_SYNC_BYTES}. */
  private static final class SyncingOutputStream extends java.io.FilterOutputStream {
    private final FileOutputStream file;
    private long unsynced;

    SyncingOutputStream(FileOutputStream file) {
      super(file);
      this.file = file;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      file.write(b, off, len);
      unsynced += len;
      if (unsynced >= SNAPSHOT_SYNC_BYTES) {
        file.getChannel().force(false);
        unsynced = 0;
      }
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }
  }

  /** Makes the entries of {@code dir} (renames into it) durable. */
  static void syncDirectory(java.nio.file.Path dir) throws IOException {
    try (java.nio.channels.FileChannel channel =
        java.nio.channels.FileChannel.open(dir, java.nio.file.StandardOpenOption.READ)) {
      channel.force(true);
    }
  }

  @Override
  public TransactionContext startTransaction(RaftClientRequest request) throws IOException {
    // Runs on the leader only: stamp the leader's time so apply stays deterministic.
    TransactionContext.Builder trx =
        TransactionContext.newBuilder().setStateMachine(this).setClientRequest(request);
    try {
      Command command = RatisMessages.parse(Command.parser(), request.getMessage());
      Command stamped = stamp(command, clock.nowMillis());
      // The leader applies from this context (Ratis keeps it until apply), so it parses once.
      trx.setLogData(RatisMessages.toByteString(stamped)).setStateMachineContext(stamped);
    } catch (InvalidProtocolBufferException e) {
      TransactionContext failed = trx.build();
      failed.setException(e);
      return failed;
    }
    return trx.build();
  }

  /**
   * {@code command} with the leader's time, and each waiting lock acquire's deadline, filled in.
   */
  static Command stamp(Command command, long now) {
    if (command.hasBatch()) {
      CommandBatch.Builder batch = CommandBatch.newBuilder();
      for (Command c : command.getBatch().getCommandsList()) {
        batch.addCommands(stamp(c, now));
      }
      return command.toBuilder().setNowMs(now).setBatch(batch).build();
    }
    Command.Builder stamped = command.toBuilder().setNowMs(now);
    if (command.hasLockAcquire() && command.getLockAcquire().getTimeoutMs() > 0) {
      LockAcquire acquire = command.getLockAcquire();
      stamped.setLockAcquire(
          acquire.toBuilder().setDeadlineMs(now + acquire.getTimeoutMs()).build());
    }
    return stamped.build();
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    LogEntryProto entry = trx.getLogEntry();
    Command command;
    if (trx.getStateMachineContext() instanceof Command stamped) {
      command = stamped;
    } else {
      try {
        command =
            RatisMessages.parse(Command.parser(), entry.getStateMachineLogEntry().getLogData());
      } catch (InvalidProtocolBufferException e) {
        // Every replica fails the same way: an error result keeps apply deterministic.
        updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
        return CompletableFuture.completedFuture(
            RatisMessages.toMessage(
                CommandResult.newBuilder()
                    .setError(
                        MeridianException.of(
                                Error.Code.INTERNAL,
                                "malformed command in the log at index %d",
                                entry.getIndex())
                            .toError())
                    .build()));
      }
    }
    List<Command> commands =
        command.hasBatch() ? command.getBatch().getCommandsList() : List.of(command);
    List<ApplyResult> results;
    stateLock.writeLock().lock();
    try {
      results =
          command.hasBatch()
              ? state.applyBatch(command.getBatch(), entry.getTerm())
              : List.of(state.apply(command, entry.getTerm()));
      updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
    } finally {
      stateLock.writeLock().unlock();
    }
    Hooks h = hooks;
    if (h != null) {
      for (int i = 0; i < results.size(); i++) {
        try {
          h.onApplied(commands.get(i), results.get(i), entry.getTerm(), entry.getIndex());
        } catch (RuntimeException e) {
          log.warn("shard={} hook failed at index {}", shard, entry.getIndex(), e);
        }
      }
    }
    CommandResult reply;
    if (command.hasBatch()) {
      CommandResultBatch.Builder batch = CommandResultBatch.newBuilder();
      results.forEach(r -> batch.addResults(r.result()));
      reply = CommandResult.newBuilder().setBatch(batch).build();
    } else {
      reply = results.get(0).result();
    }
    return CompletableFuture.completedFuture(RatisMessages.toMessage(reply));
  }

  @Override
  public void notifyTermIndexUpdated(long term, long index) {
    super.notifyTermIndexUpdated(term, index);
    Hooks h = hooks;
    if (h != null) {
      h.onIndexApplied(index);
    }
  }

  @Override
  public CompletableFuture<Message> query(Message request) {
    Hooks h = hooks;
    try {
      Query query = RatisMessages.parse(Query.parser(), request);
      CompletableFuture<QueryResult> result =
          h == null
              ? CompletableFuture.completedFuture(
                  QueryResult.newBuilder()
                      .setError(
                          MeridianException.of(
                                  Error.Code.UNAVAILABLE, "shard %d is starting", shard)
                              .toError())
                      .build())
              : h.query(query);
      return result.thenApply(RatisMessages::toMessage);
    } catch (InvalidProtocolBufferException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  @Override
  public void notifyLeaderChanged(RaftGroupMemberId groupMemberId, RaftPeerId newLeaderId) {
    Hooks h = hooks;
    if (h != null) {
      h.onLeaderChanged(newLeaderId, newLeaderId != null && newLeaderId.equals(getId()));
    }
  }

  public int shard() {
    return shard;
  }

  /** How many times the state was reloaded from a snapshot installed by the leader. */
  public int snapshotInstalls() {
    return reinitializations.get();
  }
}
