package io.meridian.router;

import com.google.protobuf.Message;
import io.grpc.Deadline;
import io.meridian.api.v1.Consistency;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Reads one shard by the consistency asked for, before a region is chosen. {@link ShardReads}
 * chooses regions and tries them; decorators wrap it, Armeria-style ({@code Function<ShardReader,
 * ShardReader>}), to answer from elsewhere or when no region can ({@link AnswerCache}).
 */
interface ShardReader {
  /** The answer of {@code read}, or its failure as a Meridian error. */
  <R extends Message> CompletableFuture<R> read(Read<R> read);

  /**
   * One read of {@code shard}: {@code request} sent by {@code call}. {@code remember}: whether the
   * answer is kept in the router's cache even when not read {@code CACHED}; {@code empty}: the
   * fail-open answer when no region and no cache can answer (null: fail instead).
   */
  record Read<R extends Message>(
      RoutingTable.Shard shard,
      RouterConfig.Policy policy,
      Consistency consistency,
      Message request,
      boolean remember,
      Supplier<R> empty,
      Deadline deadline,
      UpstreamCall<R> call) {}
}
