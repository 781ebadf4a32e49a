package io.meridian.cluster.node;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.grpc.server.GrpcServicesImpl;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.proto.RaftProtos.RaftRpcRequestProto;
import org.apache.ratis.proto.RaftProtos.ReadIndexRequestProto;
import org.apache.ratis.proto.RaftProtos.RequestVoteRequestProto;
import org.apache.ratis.proto.RaftProtos.StartLeaderElectionRequestProto;
import org.apache.ratis.util.CodeInjectionForTesting;

/**
 * Network partitions between the Raft peers of in-process members, by member id: a cut link carries
 * no Raft request in either direction. Appends (heartbeats included) are held at the sender for as
 * long as the link is cut, so the receiver hears silence, as behind a blackhole; votes and
 * read-index requests fail at once. Uses Ratis's own test hook, {@link CodeInjectionForTesting},
 * which is JVM-wide: one partition at a time, and {@link #close} heals everything.
 */
final class RaftPartition implements AutoCloseable {
  private final Set<String> cut = ConcurrentHashMap.newKeySet();

  private RaftPartition() {}

  /** Installs the hook; no link is cut yet. */
  static RaftPartition install() {
    RaftPartition partition = new RaftPartition();
    CodeInjectionForTesting.put(
        GrpcServicesImpl.GRPC_SEND_SERVER_REQUEST,
        (localId, remoteId, args) -> partition.hold(String.valueOf(localId), args[0]));
    return partition;
  }

  /** Cuts {@code member} off from every other member. */
  void isolate(String member, int size) {
    for (int i = 1; i <= size; i++) {
      String other = "n" + i;
      if (!other.equals(member)) {
        cut(member, other);
      }
    }
  }

  void cut(String a, String b) {
    cut.add(a + "->" + b);
    cut.add(b + "->" + a);
  }

  void heal() {
    cut.clear();
  }

  private boolean hold(String from, Object request) {
    RaftRpcRequestProto rpc = rpcOf(request);
    if (rpc == null) {
      return false;
    }
    String link = from + "->" + rpc.getReplyId().toStringUtf8();
    if (!(request instanceof AppendEntriesRequestProto)) {
      if (cut.contains(link)) {
        throw new IllegalStateException("partitioned: " + link);
      }
      return false;
    }
    while (cut.contains(link)) {
      try {
        TimeUnit.MILLISECONDS.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return true;
      }
    }
    return true;
  }

  private static RaftRpcRequestProto rpcOf(Object request) {
    if (request instanceof AppendEntriesRequestProto r) {
      return r.getServerRequest();
    }
    if (request instanceof RequestVoteRequestProto r) {
      return r.getServerRequest();
    }
    if (request instanceof ReadIndexRequestProto r) {
      return r.getServerRequest();
    }
    if (request instanceof StartLeaderElectionRequestProto r) {
      return r.getServerRequest();
    }
    return null;
  }

  @Override
  public void close() {
    heal();
    CodeInjectionForTesting.remove(GrpcServicesImpl.GRPC_SEND_SERVER_REQUEST);
  }
}
