package io.meridian.cluster.raft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.proto.RaftProtos.AppendEntriesReplyProto;
import org.apache.ratis.proto.RaftProtos.AppendEntriesReplyProto.AppendResult;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RaftRpcReplyProto;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.leader.FollowerInfo;
import org.apache.ratis.server.leader.LeaderState;
import org.apache.ratis.server.leader.LogAppender;
import org.apache.ratis.server.protocol.TermIndex;
import org.junit.jupiter.api.Test;

class HeartbeatAcksTest {
  private static final RaftPeerId LEADER = RaftPeerId.valueOf("n1");
  private static final RaftPeerId N2 = RaftPeerId.valueOf("n2");
  private static final RaftPeerId N3 = RaftPeerId.valueOf("n3");
  private static final RaftPeerId N4 = RaftPeerId.valueOf("n4");
  private static final RaftPeerId N5 = RaftPeerId.valueOf("n5");

  private static final long TERM = 7;

  private final AtomicLong clock = new AtomicLong(1_000);
  private final HeartbeatAcks acks = new HeartbeatAcks(clock::get);

  /**
   * Ratis's leader state of {@code term} as far as the observer is concerned: it makes requests of
   * that term and records nothing.
   */
  private static LeaderState ratis(long term) {
    return new LeaderState() {
      @Override
      public void restart(LogAppender appender) {}

      @Override
      public AppendEntriesRequestProto newAppendEntriesRequestProto(
          FollowerInfo follower, List<LogEntryProto> entries, TermIndex previous, long callId) {
        return AppendEntriesRequestProto.newBuilder().setLeaderTerm(term).build();
      }

      @Override
      public void checkHealth(FollowerInfo follower) {}

      @Override
      public boolean onFollowerTerm(FollowerInfo follower, long followerTerm) {
        return false;
      }

      @Override
      public void onFollowerCommitIndex(FollowerInfo follower, long commitIndex) {}

      @Override
      public void onFollowerSuccessAppendEntries(FollowerInfo follower) {}

      @Override
      public boolean isFollowerBootstrapping(FollowerInfo follower) {
        return false;
      }

      @Override
      public void onAppendEntriesReply(LogAppender appender, AppendEntriesReplyProto reply) {}
    };
  }

  /** A follower's appender in a term: creates requests now, hands in answers. */
  private final class Appender {
    final LeaderState observed;
    final long term;
    long nextCallId;

    Appender(RaftPeerId follower) {
      this(follower, TERM);
    }

    Appender(RaftPeerId follower, long term) {
      this.term = term;
      observed = acks.observe(ratis(term), follower, LEADER);
    }

    long send() {
      long id = nextCallId++;
      observed.newAppendEntriesRequestProto(null, List.of(), null, id);
      return id;
    }

    /** A follower in the request's term answers it. */
    void answer(long callId) {
      answer(callId, AppendResult.SUCCESS, term);
    }

    void answer(long callId, AppendResult result, long followerTerm) {
      observed.onAppendEntriesReply(
          null,
          AppendEntriesReplyProto.newBuilder()
              .setServerReply(RaftRpcReplyProto.newBuilder().setCallId(callId))
              .setResult(result)
              .setTerm(followerTerm)
              .build());
    }
  }

  private CompletableFuture<Void> read(RaftPeerId... voters) {
    return acks.confirm(TERM, acks.now(), Set.of(voters), LEADER);
  }

  @Test
  void notLeaderAnswersFromFollowersOfANewerTermConfirmNothing() {
    // A leader woken from a pause longer than an election: its appenders stop as it steps down,
    // and Ratis then hands it the followers' NOT_LEADER answers to requests it made on waking.
    Appender n2 = new Appender(N2);
    Appender n3 = new Appender(N3);
    CompletableFuture<Void> read = read(LEADER, N2, N3);

    n2.answer(n2.send(), AppendResult.NOT_LEADER, TERM + 1);
    n3.answer(n3.send(), AppendResult.NOT_LEADER, TERM + 1);

    assertThat(read).isNotDone();
    assertThat(acks.answered()).isEmpty();
  }

  @Test
  void anInconsistencyAnswerInTheTermConfirmsLikeASuccess() {
    // The follower lacks entries but is in the leader's term: it would have refused a newer one.
    Appender n2 = new Appender(N2);
    CompletableFuture<Void> read = read(LEADER, N2, N3);

    n2.answer(n2.send(), AppendResult.INCONSISTENCY, TERM);

    assertThat(read).isCompleted();
  }

  @Test
  void answersInAnotherTermDoNotConfirmAReadOfThisOne() {
    // The member lost term 7 and leads term 9 now: a read that arrived in term 7 took term 7's
    // commit index, which term 9's answers say nothing about.
    Appender n2 = new Appender(N2, TERM + 2);
    Appender n3 = new Appender(N3, TERM + 2);
    CompletableFuture<Void> read = read(LEADER, N2, N3);

    n2.answer(n2.send());
    n3.answer(n3.send());

    assertThat(read).isNotDone();
    assertThat(acks.confirm(TERM + 2, acks.now() - 1, Set.of(LEADER, N2, N3), LEADER))
        .isCompleted();
  }

  @Test
  void losingLeadershipFailsTheWaitingReads() {
    new Appender(N2);
    CompletableFuture<Void> read = read(LEADER, N2, N3);

    acks.lost(new IllegalStateException("deposed"));

    assertThat(read).isCompletedExceptionally();
    assertThat(acks.waiting()).isZero();
  }

  @Test
  void answersToRequestsCreatedBeforeTheReadArrivedDoNotConfirmIt() {
    Appender n2 = new Appender(N2);
    Appender n3 = new Appender(N3);
    long early2 = n2.send();
    long early3 = n3.send();
    clock.addAndGet(10);

    CompletableFuture<Void> read = acks.confirm(TERM, acks.now(), Set.of(LEADER, N2, N3), LEADER);
    n2.answer(early2);
    n3.answer(early3);

    assertThat(read).isNotDone();
    n3.answer(n3.send());
    assertThat(read).isCompleted();
    assertThat(acks.waiting()).isZero();
  }

  @Test
  void aMajorityOfVotersIsNeededAndTheLeaderCountsItself() {
    Appender n2 = new Appender(N2);
    Appender n3 = new Appender(N3);
    CompletableFuture<Void> read =
        acks.confirm(TERM, acks.now(), Set.of(LEADER, N2, N3, N4, N5), LEADER);

    n2.answer(n2.send());
    assertThat(read).isNotDone();
    n3.answer(n3.send());
    assertThat(read).isCompleted();
  }

  @Test
  void aLoneVoterConfirmsAtOnce() {
    assertThat(acks.confirm(TERM, acks.now(), Set.of(LEADER), LEADER)).isCompleted();
  }

  @Test
  void anAnswerToAnUnknownOrForgottenRequestCountsForNothing() {
    Appender n2 = new Appender(N2);
    CompletableFuture<Void> read = acks.confirm(TERM, acks.now(), Set.of(LEADER, N2, N3), LEADER);

    n2.answer(41);

    assertThat(read).isNotDone();
    assertThat(acks.answered()).isEmpty();
  }

  @Test
  void eachAppenderHasItsOwnCallIds() {
    // A restarted appender starts its call ids at 0 again: an answer to the old one's request 0
    // must not be taken for the new one's.
    Appender old = new Appender(N2);
    long stale = old.send();
    clock.addAndGet(10);
    CompletableFuture<Void> read = acks.confirm(TERM, acks.now(), Set.of(LEADER, N2, N3), LEADER);
    Appender fresh = new Appender(N2);
    fresh.send();

    old.answer(stale);

    assertThat(read).isNotDone();
  }

  @Test
  void readsThatGaveUpLeaveWhileNoAnswerComes() {
    // A cut-off leader: no follower answers; each read times out (its future completed by the
    // caller's orTimeout) and must not stay behind.
    for (int i = 0; i < 100; i++) {
      acks.confirm(TERM, acks.now(), Set.of(LEADER, N2, N3), LEADER)
          .completeExceptionally(new java.util.concurrent.TimeoutException());
    }
    acks.confirm(TERM, acks.now(), Set.of(LEADER, N2, N3), LEADER);

    assertThat(acks.waiting()).isEqualTo(1);
  }
}
