package io.meridian.cluster.replication;

import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ApplyReplicatedRequest;
import io.meridian.api.v1.ApplyReplicatedResponse;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeFeedRequest;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.ReplicationStatusResponse;
import io.meridian.api.v1.ReportShippedRequest;
import io.meridian.api.v1.ReportShippedResponse;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.cluster.internal.Calls;
import io.meridian.cluster.internal.Shards;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.serving.Replies;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The Replication service: the change feed any member serves from its applied state, and the
 * commands the bridge proposes (replicated batches on a standby, the shipped position on the
 * primary). The {@code meridian-shard} header picks the shard.
 */
public final class ReplicationService extends ReplicationGrpc.ReplicationImplBase {
  private final Shards<? extends FeedReplica> shards;

  public ReplicationService(Shards<? extends FeedReplica> shards) {
    this.shards = shards;
  }

  @Override
  public void changeFeed(ChangeFeedRequest request, StreamObserver<ChangeBatch> responses) {
    ServiceRequestContext ctx = ServiceRequestContext.current();
    ctx.clearRequestTimeout();
    ServerCallStreamObserver<ChangeBatch> call = (ServerCallStreamObserver<ChangeBatch>) responses;
    ChangeFeed.Subscription feed;
    try {
      feed =
          shards
              .forRequest()
              .changeFeed()
              .open(
                  request.getAfter().getEpoch(),
                  request.getAfter().getRevision(),
                  new GrpcFeedSink(call, ctx.eventLoop()));
    } catch (MeridianException e) {
      responses.onError(e);
      return;
    }
    call.setOnCancelHandler(feed::close);
  }

  @Override
  public void applyReplicated(
      ApplyReplicatedRequest request, StreamObserver<ApplyReplicatedResponse> observer) {
    Calls.propose(
        observer,
        shards::forRequest,
        Command.newBuilder().setApplyReplicated(request).build(),
        CommandResult::getApplyReplicated);
  }

  @Override
  public void reportShipped(
      ReportShippedRequest request, StreamObserver<ReportShippedResponse> observer) {
    Calls.propose(
        observer,
        shards::forRequest,
        Command.newBuilder().setReportShipped(request).build(),
        CommandResult::getReportShipped);
  }

  @Override
  public void replicationStatus(
      ReplicationStatusRequest request, StreamObserver<ReplicationStatusResponse> observer) {
    Replies.reply(
        observer,
        () -> {
          FeedReplica replica = shards.forRequest();
          return CompletableFuture.completedFuture(
              ReplicationStatusResponse.newBuilder()
                  .setHeader(replica.header(ResponseHeader.getDefaultInstance()))
                  .setState(replica.replicationState())
                  .build());
        });
  }

  /** Sends a feed's batches on a gRPC server stream, respecting its flow control. */
  private record GrpcFeedSink(ServerCallStreamObserver<ChangeBatch> call, Executor executor)
      implements ChangeFeed.Sink {
    @Override
    public boolean isReady() {
      return call.isReady() && !call.isCancelled();
    }

    @Override
    public void send(ChangeBatch batch) {
      call.onNext(batch);
    }

    @Override
    public void fail(MeridianException error) {
      if (!call.isCancelled()) {
        call.onError(error);
      }
    }

    @Override
    public void onReady(Runnable drain) {
      call.setOnReadyHandler(drain);
    }
  }
}
