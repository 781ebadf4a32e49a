package io.meridian.cluster.internal;

import io.meridian.api.v1.ResponseHeader;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.Query;
import io.meridian.cluster.proto.QueryResult;
import java.util.concurrent.CompletableFuture;

/**
 * What a gRPC service needs of one shard's replica on this node: propose a command, read at the
 * consistency the call asks for, and say where an answer was served. Each domain that needs more of
 * the replica (its leader duty, its watch hub) extends this with one accessor.
 */
public interface Replica {
  /** The shard this replica serves. */
  int shard();

  /** Proposes {@code command} through Raft; completes with its result once applied here. */
  CompletableFuture<CommandResult> propose(Command command);

  /** Answers {@code query} after confirming leadership and catching up (linearizable). */
  CompletableFuture<QueryResult> readLinearizable(Query query);

  /**
   * Answers {@code query} at the leader, from what only the leader holds (lease TTLs, renewals).
   */
  CompletableFuture<QueryResult> readAtLeader(Query query);

  /** Answers {@code query} from this replica's applied state as it is (serializable). */
  QueryResult readLocal(Query query);

  /** {@code partial} completed with where and when this replica served it. */
  ResponseHeader header(ResponseHeader partial);
}
