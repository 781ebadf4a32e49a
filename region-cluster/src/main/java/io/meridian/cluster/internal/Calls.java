package io.meridian.cluster.internal;

import com.google.protobuf.Message;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Consistency;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.serving.Headers;
import io.meridian.serving.Replies;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The one way a service reaches its shard: propose a command or read, then answer with the part of
 * the result the call asked for, its header completed by the replica that served it.
 */
public final class Calls {
  private Calls() {}

  /** Proposes {@code command}; answers with {@code answer} of its result, or throws its error. */
  public static <T extends Message> CompletableFuture<T> propose(
      Replica replica, Command command, Function<CommandResult, T> answer) {
    return replica.propose(command).thenApply(r -> served(replica, answer.apply(ok(r))));
  }

  /**
   * Reads linearizably by default, from the local replica when the caller accepts staleness ({@code
   * SERIALIZABLE}, {@code LOCAL}, {@code CACHED}).
   */
  public static <T extends Message> CompletableFuture<T> read(
      Replica replica, Query query, Consistency consistency, Function<QueryResult, T> answer) {
    CompletableFuture<QueryResult> result =
        switch (consistency) {
          case SERIALIZABLE, LOCAL, CACHED ->
              CompletableFuture.completedFuture(replica.readLocal(query));
          default -> replica.readLinearizable(query);
        };
    return result.thenApply(r -> served(replica, answer.apply(ok(r))));
  }

  /** Reads what only the leader knows (a lease's time left, a heartbeat's renewal). */
  public static <T extends Message> CompletableFuture<T> readAtLeader(
      Replica replica, Query query, Function<QueryResult, T> answer) {
    return replica.readAtLeader(query).thenApply(r -> served(replica, answer.apply(ok(r))));
  }

  /**
   * Answers a unary RPC with {@code answer} of {@code command}'s result, proposed to the replica
   * {@code replica} picks: one call per write RPC. A refusal while picking the replica (a lease or
   * shard header this node does not serve) answers the RPC with its error.
   */
  public static <R extends Replica, T extends Message> void propose(
      StreamObserver<T> observer,
      Supplier<R> replica,
      Command command,
      Function<CommandResult, T> answer) {
    Replies.reply(observer, () -> propose(replica.get(), command, answer));
  }

  /**
   * Answers a unary RPC with a read at {@code consistency} (see {@link #read(Replica, Query,
   * Consistency, Function)}).
   */
  public static <R extends Replica, T extends Message> void read(
      StreamObserver<T> observer,
      Supplier<R> replica,
      Query query,
      Consistency consistency,
      Function<QueryResult, T> answer) {
    Replies.reply(observer, () -> read(replica.get(), query, consistency, answer));
  }

  /**
   * Answers a unary RPC with a read the leader answers (see {@link #readAtLeader(Replica, Query,
   * Function)}).
   */
  public static <R extends Replica, T extends Message> void readAtLeader(
      StreamObserver<T> observer,
      Supplier<R> replica,
      Query query,
      Function<QueryResult, T> answer) {
    Replies.reply(observer, () -> readAtLeader(replica.get(), query, answer));
  }

  /**
   * {@code response} with its {@code header} completed by {@code replica}: where and when it was
   * served (region, member, leader, Raft term). Every response message has a {@code header} field.
   */
  public static <T extends Message> T served(Replica replica, T response) {
    return Headers.with(response, replica::header);
  }

  /** The result, or its error thrown as a {@link MeridianException}. */
  public static CommandResult ok(CommandResult result) {
    if (result.hasError()) {
      throw MeridianException.fromError(result.getError());
    }
    return result;
  }

  public static QueryResult ok(QueryResult result) {
    if (result.hasError()) {
      throw MeridianException.fromError(result.getError());
    }
    return result;
  }
}
