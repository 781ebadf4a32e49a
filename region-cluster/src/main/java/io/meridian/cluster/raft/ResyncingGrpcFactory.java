package io.meridian.cluster.raft;

import org.apache.ratis.conf.Parameters;
import org.apache.ratis.grpc.GrpcFactory;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.leader.FollowerInfo;
import org.apache.ratis.server.leader.LeaderState;
import org.apache.ratis.server.leader.LogAppender;

/** Ratis's gRPC transport with the {@link ResyncingLogAppender}. */
final class ResyncingGrpcFactory extends GrpcFactory {
  ResyncingGrpcFactory(Parameters parameters) {
    super(parameters);
  }

  @Override
  public LogAppender newLogAppender(
      RaftServer.Division server, LeaderState state, FollowerInfo follower) {
    return new ResyncingLogAppender(server, state, follower);
  }
}
