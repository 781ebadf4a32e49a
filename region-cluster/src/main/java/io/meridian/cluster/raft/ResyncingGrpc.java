package io.meridian.cluster.raft;

import org.apache.ratis.RaftConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.rpc.RpcFactory;
import org.apache.ratis.rpc.RpcType;

/**
 * The RPC type that gives Ratis's gRPC transport our corrected log appender ({@link
 * ResyncingLogAppender}). Ratis instantiates it by class name from {@code raft.rpc.type}, so it
 * needs a public no-argument constructor.
 */
public final class ResyncingGrpc implements RpcType {
  public ResyncingGrpc() {}

  /** Selects this RPC type for servers and clients built from {@code properties}. */
  public static void select(RaftProperties properties) {
    // setType stores name(): the class name, so that Ratis loads this type and not stock gRPC.
    RaftConfigKeys.Rpc.setType(properties, new ResyncingGrpc());
  }

  @Override
  public String name() {
    return ResyncingGrpc.class.getName();
  }

  @Override
  public RpcFactory newFactory(Parameters parameters) {
    return new ResyncingGrpcFactory(parameters);
  }
}
