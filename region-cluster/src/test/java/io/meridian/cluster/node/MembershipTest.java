package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import io.grpc.StatusRuntimeException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberAddRequest;
import io.meridian.api.v1.MemberAddResponse;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberPromoteRequest;
import io.meridian.api.v1.MemberRemoveRequest;
import io.meridian.api.v1.MemberRemoveResponse;
import io.meridian.api.v1.PutRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.MeridianNode;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.serving.LoopbackPorts;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Member add, promote and remove on real Raft groups (the Cluster service's membership RPCs). */
@Tag("cluster")
class MembershipTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;

  @Test
  void growsToFiveVotersAndBackToThreeUnderWritesWithoutLosingAnAcknowledgedWrite()
      throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      TestClusters.awaitReady(cluster);
      List<Integer> live = new CopyOnWriteArrayList<>(List.of(0, 1, 2));
      Set<String> acked = ConcurrentHashMap.newKeySet();
      AtomicBoolean stop = new AtomicBoolean();
      Thread writer = new Thread(() -> write(cluster, live, acked, stop), "test-writer");
      writer.start();
      try {
        for (String id : List.of("n4", "n5")) {
          int index = join(cluster, id);
          promoteOnceCaughtUp(cluster, id);
          live.add(index);
        }
        await().atMost(WAIT).until(() -> acked.size() > 50);
        List<Member> five = members(cluster);
        assertThat(five).hasSize(5);
        assertThat(five)
            .allSatisfy(m -> assertThat(m.getShards(0).getRole()).isNotEqualTo("LISTENER"));

        // Five to three: the first removal leaves an even count, which only force allows.
        int leader = TestClusters.awaitReady(cluster);
        String leaderId = cluster.configs().get(leader).member();
        Clients atLeader = Clients.of(cluster.node(leader));
        assertThatThrownBy(
                () ->
                    atLeader
                        .cluster()
                        .memberRemove(MemberRemoveRequest.newBuilder().setId(leaderId).build()))
            .satisfies(t -> assertThat(Clients.code(t)).isEqualTo(Error.Code.FAILED_PRECONDITION))
            .hasMessageContaining("would leave 4 voters")
            .hasMessageContaining("an even count");
        // Removing the leader hands leadership to another voter first.
        MemberRemoveResponse removed =
            atLeader
                .cluster()
                .memberRemove(
                    MemberRemoveRequest.newBuilder().setId(leaderId).setForce(true).build());
        assertThat(removed.getMembersList()).extracting(Member::getId).doesNotContain(leaderId);
        assertThat(removed.getMembersList())
            .anySatisfy(m -> assertThat(m.getShards(0).getRole()).isEqualTo("LEADER"));
        live.remove(Integer.valueOf(leader));
        int next = awaitLeaderOtherThan(cluster, leader);
        var oldLeader = cluster.node(leader).replicas().get(0).info();
        assertThat(oldLeader == null || !oldLeader.isLeader()).isTrue();

        // Four to three: odd, at least 3, every voter answering: no force needed.
        int second = live.stream().filter(i -> i != next).findFirst().orElseThrow();
        String secondId = cluster.configs().get(second).member();
        Clients.of(cluster.node(next))
            .cluster()
            .memberRemove(MemberRemoveRequest.newBuilder().setId(secondId).build());
        live.remove(Integer.valueOf(second));
        int before = acked.size();
        await().atMost(WAIT).until(() -> acked.size() > before + 20);
      } finally {
        stop.set(true);
        writer.join(WAIT.toMillis());
      }
      assertThat(writer.isAlive()).isFalse();
      List<Member> three = members(cluster, live.get(0));
      assertThat(three).hasSize(3);
      assertThat(acked).hasSizeGreaterThan(70);
      // Every acknowledged write is on every remaining member.
      for (int i : live) {
        Clients c = Clients.of(cluster.node(i));
        await()
            .atMost(WAIT)
            .untilAsserted(
                () -> assertThat(keys(c.localPrefix("/grow/").getKvsList())).containsAll(acked));
      }
    }
  }

  @Test
  void aListenerServesSerializableReadsOfWritesMadeThroughTheLeader() throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      int leader = TestClusters.awaitReady(cluster);
      NodeConfig joining = cluster.planJoining("n4");
      int n4 = cluster.startMember(joining);
      MemberAddResponse added =
          Clients.of(cluster.node(leader))
              .cluster()
              .memberAdd(
                  MemberAddRequest.newBuilder()
                      .setId("n4")
                      .setPeerAddress(joining.self().peer())
                      .build());
      // The client URL comes from the new node's own config when the request gives none.
      Member listed = byId(added.getMembersList(), "n4");
      assertThat(listed.getClientUrl()).isEqualTo(joining.self().client());
      assertThat(listed.getShards(0).getRole()).isEqualTo("LISTENER");

      Clients.of(cluster.node(leader)).put("/listen/k", "through-the-leader");
      Clients atListener = Clients.of(cluster.node(n4));
      await()
          .atMost(WAIT)
          .untilAsserted(
              () ->
                  assertThat(atListener.localPrefix("/listen/").getKvsList())
                      .extracting(kv -> kv.getValue().toStringUtf8())
                      .containsExactly("through-the-leader"));
      // The listener knows itself as one, with its applied index; the others list it too.
      Member self = byId(members(cluster, n4), "n4");
      assertThat(self.getShards(0).getRole()).isEqualTo("LISTENER");
      assertThat(self.getShards(0).getAppliedIndex()).isPositive();
      int follower = (leader + 1) % 3;
      assertThat(byId(members(cluster, follower), "n4").getShards(0).getRole())
          .isEqualTo("LISTENER");
      assertThat(cluster.node(n4).replicas().get(0).info().isListener()).isTrue();
    }
  }

  @Test
  void refusesWhatWouldBreakTheClusterAndNamesWhy() throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      int leader = TestClusters.awaitReady(cluster);
      Clients atLeader = Clients.of(cluster.node(leader));
      int follower = (leader + 1) % 3;
      String followerId = cluster.configs().get(follower).member();

      assertRefused(
          () -> atLeader.cluster().memberAdd(add(followerId, "127.0.0.1:1")),
          Error.Code.ALREADY_EXISTS,
          followerId + " is a voter of shard 0");
      assertRefused(
          () -> atLeader.cluster().memberAdd(add("bad id!", "127.0.0.1:1")),
          Error.Code.INVALID_ARGUMENT,
          "id: bad id!");
      assertRefused(
          () -> atLeader.cluster().memberAdd(add("n4", "no-port")),
          Error.Code.INVALID_ARGUMENT,
          "peer_address: no-port");
      assertRefused(
          () -> atLeader.cluster().memberAdd(add("n4", "127.0.0.1:" + LoopbackPorts.free())),
          Error.Code.FAILED_PRECONDITION,
          "does not answer on its peer port");
      assertRefused(
          () -> Clients.of(cluster.node(follower)).cluster().memberAdd(add("n4", "127.0.0.1:1")),
          Error.Code.UNAVAILABLE,
          "does not lead shard 0");
      assertRefused(
          () ->
              atLeader
                  .cluster()
                  .memberPromote(MemberPromoteRequest.newBuilder().setId("n9").build()),
          Error.Code.NOT_FOUND,
          "n9 is not a member");
      assertRefused(
          () ->
              atLeader
                  .cluster()
                  .memberPromote(MemberPromoteRequest.newBuilder().setId(followerId).build()),
          Error.Code.FAILED_PRECONDITION,
          "is a voter of shard 0 in test already");
      assertRefused(
          () ->
              atLeader
                  .cluster()
                  .memberRemove(MemberRemoveRequest.newBuilder().setId(followerId).build()),
          Error.Code.FAILED_PRECONDITION,
          "would leave 2 voters");
      // The same refusal over HTTP/JSON.
      var http =
          WebClient.of(cluster.node(leader).clientUrl())
              .execute(
                  RequestHeaders.builder(HttpMethod.POST, "/v1/cluster/members/remove")
                      .contentType(MediaType.JSON)
                      .build(),
                  "{\"id\": \"" + followerId + "\"}")
              .aggregate()
              .join();
      assertThat(http.status().code()).isEqualTo(409);
      assertThat(http.contentUtf8())
          .contains("FAILED_PRECONDITION")
          .contains("would leave 2 voters");

      // A node that counts itself a voter of its own configuration is not let in.
      NodeConfig voter = cluster.planJoining("n4");
      List<NodeConfig.Member> asVoter =
          voter.members().stream()
              .map(m -> new NodeConfig.Member(m.id(), m.peer(), m.client()))
              .toList();
      NodeConfig self =
          new NodeConfig(
              voter.member(),
              voter.region(),
              voter.dataDir(),
              voter.client(),
              voter.peer(),
              asVoter,
              voter.shards(),
              voter.raft(),
              voter.lease(),
              voter.lock(),
              voter.storage(),
              voter.watch(),
              voter.registry(),
              voter.backup(),
              voter.replication(),
              voter.clusterToken(),
              voter.tls(),
              voter.peerTls());
      int n4 = cluster.startMember(self);
      assertRefused(
          () -> atLeader.cluster().memberAdd(add("n4", self.self().peer())),
          Error.Code.FAILED_PRECONDITION,
          "counts itself a voter");
      cluster.stop(n4);

      // A listener may always be removed; force removes a voter below three.
      NodeConfig listener = cluster.planJoining("n5");
      cluster.startMember(listener);
      atLeader.cluster().memberAdd(add("n5", listener.self().peer()));
      MemberRemoveResponse gone =
          atLeader.cluster().memberRemove(MemberRemoveRequest.newBuilder().setId("n5").build());
      assertThat(gone.getMembersList()).extracting(Member::getId).doesNotContain("n5");
      MemberRemoveResponse forced =
          atLeader
              .cluster()
              .memberRemove(
                  MemberRemoveRequest.newBuilder().setId(followerId).setForce(true).build());
      assertThat(forced.getMembersList()).extracting(Member::getId).hasSize(2);
      assertThat(members(cluster, leader)).extracting(Member::getId).doesNotContain(followerId);
    }
  }

  private static MemberAddRequest add(String id, String address) {
    return MemberAddRequest.newBuilder().setId(id).setPeerAddress(address).build();
  }

  private static void assertRefused(Runnable call, Error.Code code, String message) {
    assertThatThrownBy(call::run)
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(t -> assertThat(Clients.code(t)).isEqualTo(code))
        .hasMessageContaining(message);
  }

  /** Starts member {@code id} as a listener and has the leader add it; returns its index. */
  private static int join(DevCluster cluster, String id) throws Exception {
    NodeConfig config = cluster.planJoining(id);
    int index = cluster.startMember(config);
    int leader = TestClusters.awaitReady(cluster);
    Clients.of(cluster.node(leader))
        .cluster()
        .memberAdd(
            MemberAddRequest.newBuilder()
                .setId(id)
                .setPeerAddress(config.self().peer())
                .setClientUrl(config.self().client())
                .build());
    return index;
  }

  /** Promotes listener {@code id}, retrying while the leader says it lags. */
  private static void promoteOnceCaughtUp(DevCluster cluster, String id) {
    await()
        .atMost(WAIT)
        .ignoreExceptionsMatching(
            t ->
                t instanceof StatusRuntimeException s
                    && Clients.code(s) != Error.Code.NOT_FOUND
                    && !s.getMessage().contains("voter of shard 0 in test already"))
        .until(
            () -> {
              int leader = TestClusters.awaitReady(cluster);
              Clients.of(cluster.node(leader))
                  .cluster()
                  .memberPromote(MemberPromoteRequest.newBuilder().setId(id).build());
              return true;
            });
  }

  private static int awaitLeaderOtherThan(DevCluster cluster, int old) {
    int[] leader = {-1};
    await().atMost(WAIT).until(() -> (leader[0] = cluster.readyLeader()) >= 0 && leader[0] != old);
    return leader[0];
  }

  /** Puts distinct keys until stopped, through the live members in turn; records acknowledged. */
  private static void write(
      DevCluster cluster, List<Integer> live, Set<String> acked, AtomicBoolean stop) {
    Map<Integer, Clients> clients = new ConcurrentHashMap<>();
    for (int i = 0; i < 5_000 && !stop.get(); i++) {
      String key = "/grow/k" + i;
      for (int attempt = 0; attempt < 20 && !stop.get(); attempt++) {
        List<Integer> members = List.copyOf(live);
        int target = members.get((i + attempt) % members.size());
        MeridianNode node = cluster.node(target);
        if (node == null) {
          continue;
        }
        try {
          clients
              .computeIfAbsent(target, t -> Clients.of(node))
              .kv()
              .put(
                  PutRequest.newBuilder()
                      .setKey(key)
                      .setValue(ByteString.copyFromUtf8("v" + i))
                      .setRequestId("grow-" + i)
                      .build());
          acked.add(key);
          break;
        } catch (StatusRuntimeException e) {
          // Leadership moving: the same request id on another member applies at most once.
        }
      }
    }
  }

  private static List<Member> members(DevCluster cluster) {
    return members(cluster, TestClusters.awaitReady(cluster));
  }

  private static List<Member> members(DevCluster cluster, int index) {
    return Clients.of(cluster.node(index))
        .cluster()
        .memberList(MemberListRequest.getDefaultInstance())
        .getMembersList();
  }

  private static Member byId(List<Member> members, String id) {
    return members.stream().filter(m -> m.getId().equals(id)).findFirst().orElseThrow();
  }

  private static Set<String> keys(List<KeyValue> kvs) {
    return kvs.stream().map(KeyValue::getKey).collect(Collectors.toSet());
  }
}
