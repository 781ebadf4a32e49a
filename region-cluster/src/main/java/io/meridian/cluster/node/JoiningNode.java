package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.proto.RaftProtos.RaftPeerProto;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.exceptions.GroupMismatchException;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.util.TimeDuration;

/**
 * What a member's node says of its copy of a shard's group, asked over its Raft admin port before
 * the leader adds or promotes it: its applied index and the client URL its own config gives.
 */
record JoiningNode(long appliedIndex, String clientUrl) {
  /** How long the node may take to answer. */
  private static final long TIMEOUT_MS = 3_000;

  /**
   * Asks the node at {@code peer}'s address for its copy of {@code shard}'s group: it must answer,
   * be {@code peer}'s member and host the group; a {@code joining} node must not count itself among
   * the voters (it could start elections before it holds the log).
   */
  static JoiningNode ask(
      RaftPeer peer,
      RaftGroupId groupId,
      int shard,
      RaftProperties properties,
      Parameters transport,
      boolean joining) {
    String id = peer.getId().toString();
    RaftProperties p = new RaftProperties(properties);
    RaftClientConfigKeys.Rpc.setRequestTimeout(
        p, TimeDuration.valueOf(TIMEOUT_MS, TimeUnit.MILLISECONDS));
    GroupInfoReply reply;
    try (RaftClient client =
        RaftClient.newBuilder()
            .setRaftGroup(RaftGroup.valueOf(groupId, peer))
            .setProperties(p)
            .setParameters(transport)
            .setRetryPolicy(RetryPolicies.noRetry())
            .build()) {
      reply = client.getGroupManagementApi(peer.getId()).info(groupId);
    } catch (GroupMismatchException e) {
      throw notHosting(peer, shard);
    } catch (IOException | RuntimeException e) {
      Throwable cause = MeridianException.causeOf(e);
      if (cause instanceof GroupMismatchException) {
        throw notHosting(peer, shard);
      }
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "%s at %s does not answer on its peer port (%s): start its node first, with shard %d in"
              + " its config and itself as `role: LISTENER` among its members",
          id,
          peer.getAddress(),
          cause.getClass().getSimpleName(),
          shard);
    }
    if (!reply.isSuccess()) {
      if (reply.getException() instanceof GroupMismatchException) {
        throw notHosting(peer, shard);
      }
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "%s at %s refused to describe shard %d's group: %s",
          id,
          peer.getAddress(),
          shard,
          String.valueOf(reply.getException()));
    }
    String self = reply.getRoleInfoProto().getSelf().getId().toStringUtf8();
    if (!self.equals(id)) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "the node at %s is member %s, not %s",
          peer.getAddress(),
          self,
          id);
    }
    String url = "";
    if (reply.getConf().isPresent()) {
      var conf = reply.getConf().get();
      if (joining && has(conf.getPeersList(), id)) {
        throw MeridianException.of(
            Error.Code.FAILED_PRECONDITION,
            "%s counts itself a voter of shard %d in its own configuration and could start"
                + " elections: restart it with `role: LISTENER` in its own members entry (and an"
                + " empty data directory)",
            id,
            shard);
      }
      for (RaftPeerProto m : conf.getPeersList()) {
        url = m.getId().toStringUtf8().equals(id) ? m.getDataStreamAddress() : url;
      }
      for (RaftPeerProto m : conf.getListenersList()) {
        url = m.getId().toStringUtf8().equals(id) ? m.getDataStreamAddress() : url;
      }
    }
    long applied =
        reply.getLogInfoProto().hasApplied() ? reply.getLogInfoProto().getApplied().getIndex() : -1;
    return new JoiningNode(applied, url);
  }

  private static boolean has(List<RaftPeerProto> peers, String id) {
    return peers.stream().anyMatch(m -> m.getId().toStringUtf8().equals(id));
  }

  private static MeridianException notHosting(RaftPeer peer, int shard) {
    return MeridianException.of(
        Error.Code.FAILED_PRECONDITION,
        "the node at %s does not host shard %d's Raft group: add shard %d to its config, with"
            + " itself as `role: LISTENER` among its members, and restart it",
        peer.getAddress(),
        shard,
        shard);
  }
}
