package io.meridian.cluster.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchResponse;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.StateReader;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.InitShard;
import io.meridian.cluster.proto.LeaderStart;
import io.meridian.cluster.state.ShardState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The hub against a real shard state fed by hand, as a member replaying its log after a restart is:
 * a watch resumed from a position the member has not applied yet.
 */
class WatchHubTest {
  private static final int SHARD = 3;

  private final Object lock = new Object();
  // Replaced whole by install(), as a snapshot from the leader replaces a member's state.
  private ShardState state = new ShardState(SHARD);
  private final StateReader<ShardState> reader =
      new StateReader<>() {
        @Override
        public <T> T read(Function<? super ShardState, T> f) {
          synchronized (lock) {
            return f.apply(state);
          }
        }
      };
  private final WatchHub hub =
      new WatchHub(SHARD, reader, h -> h, new WatchHub.Options(60_000, 100, 1 << 20), "n1");
  private final List<WatchResponse> sent = new CopyOnWriteArrayList<>();
  private final WatchStream stream = new WatchStream(new Sink(sent::add), 1 << 20, () -> {});

  @AfterEach
  void close() {
    hub.close();
  }

  @Test
  void aWatchFromAPositionNotAppliedYetWaitsForItAndGetsEveryEventFromThere() {
    List<Command> log = history();
    long from = revisionsOf(log).get(4);
    hub.start();
    // Resumed at (epoch 1, revision from - 1) while the member's state is still empty.
    hub.create(stream, watch(from, 1));
    log.forEach(this::apply);

    await().atMost(Duration.ofSeconds(30)).until(() -> events().size() == 3);
    assertThat(events()).extracting(e -> e.getKv().getModRevision()).startsWith(from).isSorted();
    assertThat(sent).noneMatch(WatchResponse::getCanceled);
  }

  @Test
  void aPositionOnAnotherHistoryIsStillRefusedOnceTheMemberHasAppliedIt() {
    List<Command> log = history();
    long from = revisionsOf(log).get(4);
    hub.start();
    // Epoch 7 never existed on this shard: once the member reaches the position, it says so.
    hub.create(stream, watch(from, 7));
    log.forEach(this::apply);

    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> sent.stream().anyMatch(r -> r.getCanceled()));
    WatchResponse last = sent.get(sent.size() - 1);
    assertThat(last.getError().getCode()).isEqualTo(Error.Code.HISTORY_DIVERGED);
    assertThat(events()).isEmpty();
  }

  @Test
  void onAMemberPastThePositionAnotherHistoryIsRefusedAtOnce() {
    history().forEach(this::apply);
    hub.start();
    MeridianException refused = null;
    try {
      hub.create(stream, watch(reader.read(ShardState::revision), 7));
    } catch (MeridianException e) {
      refused = e;
    }
    assertThat(refused).isNotNull();
    assertThat(refused.code()).isEqualTo(Error.Code.HISTORY_DIVERGED);
  }

  @Test
  void aWatchLiveAcrossASnapshotInstallGetsEveryLaterRevisionEvenWhenAnotherWatchStarts() {
    List<Command> log = history();
    log.subList(0, 5).forEach(this::apply);
    hub.start();
    hub.create(stream, watch(1, 0));
    await().atMost(Duration.ofSeconds(30)).until(() -> events().size() == 3);

    // The leader sends a snapshot of where this member already is; applies go on after it.
    install(snapshotOf(log.subList(0, 5)));
    log.subList(5, 6).forEach(this::apply);
    // A second watch starting must not move the first one past what it was not sent yet.
    // What the second client is sent is not under test.
    WatchStream other = new WatchStream(new Sink(r -> {}), 1 << 20, () -> {});
    hub.create(other, watch(0, 0));
    await().atMost(Duration.ofSeconds(30)).until(() -> hub.watches() == 2);
    log.subList(6, 7).forEach(this::apply);

    await().atMost(Duration.ofSeconds(30)).until(() -> events().size() == 5);
    assertThat(events())
        .extracting(e -> e.getKv().getModRevision())
        .containsExactlyElementsOf(revisionsOf(log).subList(2, 7));
  }

  @Test
  void aMemberSentBackToAnOlderSnapshotNeitherRepeatsNorSkips() {
    List<Command> log = history();
    log.subList(0, 5).forEach(this::apply);
    List<Long> revisions = revisionsOf(log);
    hub.start();
    // The watcher saw up to the third put elsewhere.
    hub.create(stream, watch(revisions.get(4) + 1, 0));
    await().atMost(Duration.ofSeconds(30)).until(() -> hub.watches() == 1);

    // Back to the first put, then the log again from there.
    install(snapshotOf(log.subList(0, 3)));
    log.subList(3, 7).forEach(this::apply);

    long last = revisions.get(6);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> events().stream().anyMatch(e -> e.getKv().getModRevision() == last));
    assertThat(events())
        .extracting(e -> e.getKv().getModRevision())
        .containsExactly(revisions.get(5), revisions.get(6));
  }

  @Test
  void aRevisionThatNeverReachedTheDispatcherIsReplayedFromTheState() {
    List<Command> log = history();
    log.subList(0, 3).forEach(this::apply);
    hub.start();
    hub.create(stream, watch(0, 0));
    await().atMost(Duration.ofSeconds(30)).until(() -> hub.watches() == 1);

    synchronized (lock) {
      state.apply(log.get(3), 1); // applied, never handed over
    }
    log.subList(4, 7).forEach(this::apply);

    await().atMost(Duration.ofSeconds(30)).until(() -> events().size() == 4);
    assertThat(events())
        .extracting(e -> e.getKv().getModRevision())
        .containsExactlyElementsOf(revisionsOf(log).subList(3, 7));
  }

  /** Replaces the state with {@code snapshot} and tells the hub, as a snapshot install does. */
  private void install(byte[] snapshot) {
    synchronized (lock) {
      try {
        state = ShardState.readSnapshot(new ByteArrayInputStream(snapshot));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    hub.reloaded();
  }

  /** A snapshot of the state {@code log} reaches. */
  private static byte[] snapshotOf(List<Command> log) {
    ShardState scratch = new ShardState(SHARD);
    log.forEach(c -> scratch.apply(c, 1));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      scratch.writeSnapshot(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** A PRIMARY at epoch 1 and five puts under /w/, as the log a restarted member replays. */
  private static List<Command> history() {
    List<Command> log = new ArrayList<>();
    log.add(
        Command.newBuilder()
            .setNowMs(1_000_000)
            .setInitShard(InitShard.newBuilder().setShard(SHARD).setRole(Role.PRIMARY).setEpoch(1))
            .build());
    log.add(
        Command.newBuilder()
            .setNowMs(1_000_000)
            .setLeaderStart(LeaderStart.newBuilder().setLeader("n1"))
            .build());
    for (int i = 0; i < 5; i++) {
      log.add(
          Command.newBuilder()
              .setNowMs(1_000_000)
              .setPut(
                  PutRequest.newBuilder()
                      .setKey("/w/" + i)
                      .setValue(ByteString.copyFromUtf8("v" + i)))
              .build());
    }
    return log;
  }

  /** The revision each command of {@code log} reaches, applied to a state of its own. */
  private static List<Long> revisionsOf(List<Command> log) {
    ShardState scratch = new ShardState(SHARD);
    return log.stream().map(c -> scratch.apply(c, 1).revision()).toList();
  }

  private void apply(Command c) {
    ApplyResult r;
    synchronized (lock) {
      r = state.apply(c, 1);
    }
    for (ApplyResult.Committed done : r.committed()) {
      hub.applied(done.batch().getRevision(), done.batch().getEpoch(), r.role(), done.changes());
    }
  }

  private static WatchCreateRequest watch(long start, long epoch) {
    return WatchCreateRequest.newBuilder()
        .setKey("/w/")
        .setPrefix(true)
        .setStartRevision(start)
        .setStartEpoch(epoch)
        .build();
  }

  private List<Event> events() {
    return sent.stream().flatMap(r -> r.getEventsList().stream()).toList();
  }

  /** A client's end of a stream, always ready, handing what it is sent to {@code received}. */
  private record Sink(Consumer<WatchResponse> received) implements WatchSink {
    @Override
    public Executor executor() {
      return Runnable::run;
    }

    @Override
    public boolean isReady() {
      return true;
    }

    @Override
    public void send(WatchResponse response) {
      received.accept(response);
    }

    @Override
    public void onReady(Runnable drain) {}

    @Override
    public void fail(MeridianException error) {}
  }
}
