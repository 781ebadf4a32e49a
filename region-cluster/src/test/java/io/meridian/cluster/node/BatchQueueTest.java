package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LeaseKeepAliveResponse;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.CommandResultBatch;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.cluster.proto.QueryResultBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class BatchQueueTest {
  /** Batch sizes as the queue reports them for metrics. */
  private final List<Integer> sizes = new ArrayList<>();

  /** Records what the queue sends and lets the test answer each send. */
  private static final class Leader {
    final List<Query> sent = new ArrayList<>();
    final List<CompletableFuture<QueryResult>> replies = new ArrayList<>();

    CompletableFuture<QueryResult> send(Query q) {
      sent.add(q);
      CompletableFuture<QueryResult> reply = new CompletableFuture<>();
      replies.add(reply);
      return reply;
    }

    /** Answers send {@code i} as a leader would: each keep-alive with its own id. */
    void answer(int i) {
      Query q = sent.get(i);
      QueryResult result =
          q.hasBatch()
              ? QueryResult.newBuilder()
                  .setBatch(
                      QueryResultBatch.newBuilder()
                          .addAllResults(
                              q.getBatch().getQueriesList().stream().map(Leader::renewed).toList()))
                  .build()
              : renewed(q);
      replies.get(i).complete(result);
    }

    static QueryResult renewed(Query q) {
      return QueryResult.newBuilder()
          .setLeaseRenew(
              LeaseKeepAliveResponse.newBuilder().setId(q.getLeaseRenew().getId()).setTtl(10))
          .build();
    }
  }

  private static Query renew(long id) {
    return Query.newBuilder().setLeaseRenew(LeaseKeepAliveRequest.newBuilder().setId(id)).build();
  }

  private static QueryResult error(Error.Code code) {
    return QueryResult.newBuilder()
        .setError(Error.newBuilder().setCode(code).setMessage("no"))
        .build();
  }

  @Test
  void idleMemberSendsAReadAtOnceAndAlone() {
    Leader leader = new Leader();
    BatchQueue<Query, QueryResult> queue = BatchQueue.leaderReads(leader::send, 2, 512, sizes::add);

    CompletableFuture<QueryResult> r = queue.submit(renew(7));

    assertThat(leader.sent).containsExactly(renew(7));
    leader.answer(0);
    assertThat(r.join().getLeaseRenew().getId()).isEqualTo(7);
  }

  @Test
  void readsArrivingWhileBatchesAreOutGoInOneBatchAndEachGetsItsOwnResult() {
    Leader leader = new Leader();
    BatchQueue<Query, QueryResult> queue = BatchQueue.leaderReads(leader::send, 2, 512, sizes::add);
    CompletableFuture<QueryResult> first = queue.submit(renew(1));
    CompletableFuture<QueryResult> second = queue.submit(renew(2));
    List<CompletableFuture<QueryResult>> waiting = new ArrayList<>();
    for (long id = 10; id < 20; id++) {
      waiting.add(queue.submit(renew(id)));
    }
    assertThat(leader.sent).hasSize(2);
    assertThat(queue.waiting()).isEqualTo(10);

    leader.answer(0);

    assertThat(first.join().getLeaseRenew().getId()).isEqualTo(1);
    assertThat(leader.sent).hasSize(3);
    assertThat(leader.sent.get(2).getBatch().getQueriesList())
        .extracting(q -> q.getLeaseRenew().getId())
        .containsExactly(10L, 11L, 12L, 13L, 14L, 15L, 16L, 17L, 18L, 19L);
    leader.answer(2);
    leader.answer(1);
    assertThat(second.join().getLeaseRenew().getId()).isEqualTo(2);
    for (int i = 0; i < waiting.size(); i++) {
      assertThat(waiting.get(i).join().getLeaseRenew().getId()).isEqualTo(10L + i);
    }
    assertThat(queue.waiting()).isZero();
    assertThat(sizes).containsExactly(1, 1, 10);
  }

  @Test
  void aBatchIsNoLargerThanTheLimit() {
    Leader leader = new Leader();
    BatchQueue<Query, QueryResult> queue = BatchQueue.leaderReads(leader::send, 1, 3, sizes::add);
    queue.submit(renew(0));
    for (long id = 1; id <= 5; id++) {
      queue.submit(renew(id));
    }

    leader.answer(0);
    assertThat(leader.sent.get(1).getBatch().getQueriesCount()).isEqualTo(3);
    leader.answer(1);
    assertThat(leader.sent.get(2).getBatch().getQueriesCount()).isEqualTo(2);
  }

  /** Reads 1 and 2 sent together, as the batch after read 0; answers read 0. */
  private List<CompletableFuture<QueryResult>> twoReadsInOneBatch(Leader leader) {
    BatchQueue<Query, QueryResult> queue = BatchQueue.leaderReads(leader::send, 1, 512, sizes::add);
    queue.submit(renew(0));
    List<CompletableFuture<QueryResult>> reads =
        List.of(queue.submit(renew(1)), queue.submit(renew(2)));
    leader.answer(0);
    assertThat(leader.sent.get(1).getBatch().getQueriesCount()).isEqualTo(2);
    return reads;
  }

  @Test
  void aBatchErrorIsEveryReadsResult() {
    Leader leader = new Leader();
    List<CompletableFuture<QueryResult>> reads = twoReadsInOneBatch(leader);
    CompletableFuture<QueryResult> a = reads.get(0);
    CompletableFuture<QueryResult> b = reads.get(1);

    leader.replies.get(1).complete(error(Error.Code.UNAVAILABLE));

    assertThat(a.join().getError().getCode()).isEqualTo(Error.Code.UNAVAILABLE);
    assertThat(b.join().getError().getCode()).isEqualTo(Error.Code.UNAVAILABLE);
  }

  @Test
  void aFailedSendIsUnavailableForEveryRead() {
    BatchQueue<Query, QueryResult> queue =
        BatchQueue.leaderReads(
            q -> CompletableFuture.failedFuture(new IllegalStateException("connection reset")),
            1,
            512,
            size -> {});

    QueryResult r = queue.submit(renew(1)).join();

    assertThat(r.getError().getCode()).isEqualTo(Error.Code.UNAVAILABLE);
    assertThat(r.getError().getMessage()).contains("connection reset");
  }

  @Test
  void answersGivenAtOnceDrainTheQueueWithoutWaiting() {
    // No leader known: the attempt completes before send returns, and every read still gets it.
    BatchQueue<Query, QueryResult> queue =
        BatchQueue.leaderReads(
            q -> CompletableFuture.completedFuture(error(Error.Code.UNAVAILABLE)),
            1,
            2,
            sizes::add);
    List<CompletableFuture<QueryResult>> results = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) {
      results.add(queue.submit(renew(i)));
    }
    assertThat(results)
        .allSatisfy(
            f -> assertThat(f.join().getError().getCode()).isEqualTo(Error.Code.UNAVAILABLE));
    assertThat(queue.waiting()).isZero();
    assertThat(sizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(1_000);
  }

  @Test
  void aShortBatchAnswerFailsTheReadsItLeftOut() {
    Leader leader = new Leader();
    List<CompletableFuture<QueryResult>> reads = twoReadsInOneBatch(leader);
    CompletableFuture<QueryResult> a = reads.get(0);
    CompletableFuture<QueryResult> b = reads.get(1);

    leader
        .replies
        .get(1)
        .complete(
            QueryResult.newBuilder()
                .setBatch(QueryResultBatch.newBuilder().addResults(Leader.renewed(renew(1))))
                .build());

    assertThat(a.join().getLeaseRenew().getId()).isEqualTo(1);
    assertThat(b.join().getError().getCode()).isEqualTo(Error.Code.INTERNAL);
  }

  private static Command put(String key, int valueBytes) {
    return Command.newBuilder()
        .setPut(
            PutRequest.newBuilder()
                .setKey(key)
                .setValue(com.google.protobuf.ByteString.copyFrom(new byte[valueBytes])))
        .build();
  }

  @Test
  void writesArrivingWhileEntriesAreOutGoAsOneBatchEntryAndEachGetsItsOwnResult() {
    List<Command> entries = new ArrayList<>();
    List<CompletableFuture<CommandResult>> replies = new ArrayList<>();
    BatchQueue<Command, CommandResult> queue =
        BatchQueue.proposals(
            c -> {
              entries.add(c);
              CompletableFuture<CommandResult> reply = new CompletableFuture<>();
              replies.add(reply);
              return reply;
            },
            1,
            256,
            1 << 20,
            sizes::add);
    CompletableFuture<CommandResult> first = queue.submit(put("/a", 1));
    CompletableFuture<CommandResult> second = queue.submit(put("/b", 1));
    CompletableFuture<CommandResult> third = queue.submit(put("/c", 1));
    assertThat(entries).containsExactly(put("/a", 1));

    replies.get(0).complete(revision(5));

    assertThat(first.join()).isEqualTo(revision(5));
    assertThat(entries.get(1).getBatch().getCommandsList())
        .containsExactly(put("/b", 1), put("/c", 1));
    replies
        .get(1)
        .complete(
            CommandResult.newBuilder()
                .setBatch(
                    CommandResultBatch.newBuilder().addResults(revision(6)).addResults(revision(7)))
                .build());
    assertThat(second.join()).isEqualTo(revision(6));
    assertThat(third.join()).isEqualTo(revision(7));
    assertThat(sizes).containsExactly(1, 2);
  }

  @Test
  void aWriteBatchStopsAtTheByteLimitButTheFirstWriteAlwaysGoes() {
    List<Command> entries = new ArrayList<>();
    List<CompletableFuture<CommandResult>> replies = new ArrayList<>();
    BatchQueue<Command, CommandResult> queue =
        BatchQueue.proposals(
            c -> {
              entries.add(c);
              CompletableFuture<CommandResult> reply = new CompletableFuture<>();
              replies.add(reply);
              return reply;
            },
            1,
            256,
            1000,
            sizes::add);
    queue.submit(put("/hold", 1));
    queue.submit(put("/big", 5000));
    queue.submit(put("/x", 400));
    queue.submit(put("/y", 400));
    queue.submit(put("/z", 400));

    for (int i = 0; i < 3; i++) {
      replies.get(i).complete(revision(i));
    }

    assertThat(entries.get(1)).isEqualTo(put("/big", 5000));
    assertThat(entries.get(2).getBatch().getCommandsList())
        .containsExactly(put("/x", 400), put("/y", 400));
    assertThat(entries.get(3)).isEqualTo(put("/z", 400));
    assertThat(sizes).containsExactly(1, 1, 2, 1);
  }

  @Test
  void aFailedEntryIsAnUnavailableResultForEveryWriteInIt() {
    BatchQueue<Command, CommandResult> queue =
        BatchQueue.proposals(
            c -> CompletableFuture.failedFuture(new IllegalStateException("connection reset")),
            1,
            256,
            1 << 20,
            size -> {});

    CommandResult r = queue.submit(put("/a", 1)).join();

    assertThat(r.getError().getCode()).isEqualTo(Error.Code.UNAVAILABLE);
    assertThat(r.getError().getMessage()).contains("connection reset");
  }

  private static CommandResult revision(long revision) {
    return CommandResult.newBuilder()
        .setPut(
            PutResponse.newBuilder()
                .setHeader(io.meridian.api.v1.ResponseHeader.newBuilder().setRevision(revision)))
        .build();
  }
}
