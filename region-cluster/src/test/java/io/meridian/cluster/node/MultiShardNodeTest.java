package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.RequestHeaders;
import io.grpc.stub.StreamObserver;
import io.meridian.api.LeaseId;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LeaseKeepAliveResponse;
import io.meridian.api.v1.Role;
import io.meridian.cluster.DevCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Nodes that replicate two shards (one Raft group each), and the streaming keep-alive. */
@Tag("cluster")
class MultiShardNodeTest {
  @TempDir Path dir;

  @Test
  void eachShardIsItsOwnGroupWithItsOwnRoleAndRevisions() throws Exception {
    DevCluster planned =
        DevCluster.plan(
            dir, 3, "multi", TestClusters.fast(), Map.of(0, Role.PRIMARY, 1, Role.STANDBY));
    try (DevCluster cluster = planned.start()) {
      for (int shard = 0; shard < 2; shard++) {
        int s = shard;
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    cluster.nodes().stream()
                        .anyMatch(
                            n ->
                                replica(n, s).info().isLeader()
                                    && replica(n, s).read(st -> st.initialized())));
      }
      WebClient http = WebClient.of(cluster.node(0).clientUrl());
      // A node with two shards cannot guess which one a call without the header means.
      AggregatedHttpResponse unnamed =
          post(http, null, "/v1/kv/put", "{\"key\":\"/m/a\",\"value\":\"eA==\"}");
      assertThat(unnamed.status().code()).isEqualTo(400);
      assertThat(unnamed.contentUtf8())
          .contains("INVALID_ARGUMENT")
          .contains(ShardHeader.NAME)
          .contains("[0, 1]");
      // Shard 0 takes the write; shard 1 is a STANDBY and refuses it.
      assertThat(
              post(http, "0", "/v1/kv/put", "{\"key\":\"/m/a\",\"value\":\"eA==\"}")
                  .status()
                  .code())
          .isEqualTo(200);
      AggregatedHttpResponse refused =
          post(http, "1", "/v1/kv/put", "{\"key\":\"/m/a\",\"value\":\"eA==\"}");
      assertThat(refused.status().code()).isEqualTo(409);
      assertThat(refused.contentUtf8()).contains("NOT_PRIMARY");
      assertThat(post(http, "7", "/v1/kv/range", "{\"key\":\"/m/a\"}").contentUtf8())
          .contains("not served by this node");
      String standbyRead =
          post(http, "1", "/v1/kv/range", "{\"key\":\"/m/a\",\"consistency\":\"SERIALIZABLE\"}")
              .contentUtf8();
      assertThat(standbyRead).contains("\"role\":\"STANDBY\"", "\"kvs\":[]");
    }
  }

  @Test
  void membersShowEachMembersRoleInEveryShardOverJson() throws Exception {
    DevCluster planned =
        DevCluster.plan(
            dir, 3, "multi", TestClusters.fast(), Map.of(0, Role.PRIMARY, 1, Role.PRIMARY));
    try (DevCluster cluster = planned.start()) {
      WebClient http = WebClient.of(cluster.node(1).clientUrl());
      ObjectMapper json = new ObjectMapper();
      // Until node 1 knows a leader of each shard (then each shard has exactly one) and has
      // applied an entry in each: knowing the leader comes before applying its first entry.
      String self1 = cluster.configs().get(1).member();
      JsonNode members =
          await()
              .atMost(Duration.ofSeconds(30))
              .until(
                  () -> json.readTree(get(http, "/v1/cluster/members")).get("members"),
                  m -> leaders(m, 0) == 1 && leaders(m, 1) == 1 && leastApplied(m, self1) > 0);
      assertThat(members).hasSize(3);
      for (JsonNode member : members) {
        assertThat(member.has("leader")).as("the per-region flag is gone").isFalse();
        List<Integer> shards = new ArrayList<>();
        member.get("shards").forEach(s -> shards.add(s.get("shard").asInt()));
        assertThat(shards).as(member.get("id").asText()).containsExactly(0, 1);
      }
      // Proto3 JSON would leave out shard 0; the API prints fields at their defaults.
      assertThat(get(http, "/v1/cluster/members")).contains("\"shard\":0");
      JsonNode self = null;
      for (JsonNode member : members) {
        if (member.get("id").asText().equals(cluster.configs().get(1).member())) {
          self = member;
        }
      }
      assertThat(self).isNotNull();
      for (JsonNode s : self.get("shards")) {
        assertThat(s.get("role").asText()).isIn("LEADER", "FOLLOWER");
        assertThat(s.get("appliedIndex").asLong()).isPositive();
        assertThat(s.get("commitIndex").asLong()).isPositive();
      }
      // Each shard's leader, as its own replica says (once an early election has settled: node
      // 1 learns of a new leader a heartbeat after it wins).
      for (int shard = 0; shard < 2; shard++) {
        int s = shard;
        await()
            .atMost(Duration.ofSeconds(30))
            .untilAsserted(
                () -> {
                  String leader =
                      cluster.nodes().stream()
                          .filter(n -> replica(n, s).info().isLeader())
                          .map(n -> n.config().member())
                          .findFirst()
                          .orElseThrow();
                  JsonNode latest = json.readTree(get(http, "/v1/cluster/members")).get("members");
                  assertThat(leaderOf(latest, s)).isEqualTo(leader);
                });
      }
    }
  }

  /** Node {@code n}'s replica of {@code shard}: its list follows the config, not shard order. */
  private static ShardReplica replica(io.meridian.cluster.MeridianNode n, int shard) {
    return n.replicas().stream().filter(r -> r.shard() == shard).findFirst().orElseThrow();
  }

  private static long leaders(JsonNode members, int shard) {
    long n = 0;
    for (JsonNode m : members) {
      for (JsonNode s : m.get("shards")) {
        if (s.get("shard").asInt() == shard && s.get("role").asText().equals("LEADER")) {
          n++;
        }
      }
    }
    return n;
  }

  /** The lowest applied index member {@code id} reports over its shards. */
  private static long leastApplied(JsonNode members, String id) {
    long least = Long.MAX_VALUE;
    for (JsonNode m : members) {
      if (m.get("id").asText().equals(id)) {
        for (JsonNode s : m.get("shards")) {
          least = Math.min(least, s.get("appliedIndex").asLong());
        }
      }
    }
    return least == Long.MAX_VALUE ? -1 : least;
  }

  private static String leaderOf(JsonNode members, int shard) {
    for (JsonNode m : members) {
      for (JsonNode s : m.get("shards")) {
        if (s.get("shard").asInt() == shard && s.get("role").asText().equals("LEADER")) {
          return m.get("id").asText();
        }
      }
    }
    return null;
  }

  private static String get(WebClient http, String path) {
    AggregatedHttpResponse r = http.get(path).aggregate().join();
    assertThat(r.status().code()).as(r.contentUtf8()).isEqualTo(200);
    return r.contentUtf8();
  }

  @Test
  void keepAliveStreamRenewsALeaseOnEveryMessage() throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      Clients c = Clients.of(cluster.node(1));
      long id =
          c.lease()
              .grant(LeaseGrantRequest.newBuilder().setNamespace("ka").setTtl(5).build())
              .getId();
      assertThat(LeaseId.shardOf(id)).isZero();
      LeaseGrpc.LeaseStub async =
          com.linecorp.armeria.client.grpc.GrpcClients.newClient(
              cluster.node(1).clientUrl(), LeaseGrpc.LeaseStub.class);
      List<LeaseKeepAliveResponse> replies = new CopyOnWriteArrayList<>();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      StreamObserver<LeaseKeepAliveRequest> requests =
          async.keepAlive(
              new StreamObserver<>() {
                @Override
                public void onNext(LeaseKeepAliveResponse r) {
                  replies.add(r);
                }

                @Override
                public void onError(Throwable t) {
                  failure.set(t);
                }

                @Override
                public void onCompleted() {}
              });
      for (int i = 0; i < 3; i++) {
        requests.onNext(LeaseKeepAliveRequest.newBuilder().setId(id).build());
      }
      await().atMost(Duration.ofSeconds(20)).until(() -> replies.size() == 3);
      assertThat(replies).allSatisfy(r -> assertThat(r.getTtl()).isEqualTo(5));
      // An unknown lease ends the stream with LEASE_NOT_FOUND.
      requests.onNext(LeaseKeepAliveRequest.newBuilder().setId(id + 1000).build());
      await().atMost(Duration.ofSeconds(20)).until(() -> failure.get() != null);
      assertThat(failure.get()).hasMessageContaining("NOT_FOUND");
    }
  }

  private static AggregatedHttpResponse post(
      WebClient http, String shard, String path, String body) {
    com.linecorp.armeria.common.RequestHeadersBuilder h =
        RequestHeaders.builder(HttpMethod.POST, path);
    if (shard != null) {
      h.add(ShardHeader.NAME, shard);
    }
    return http.execute(h.build(), body).aggregate().join();
  }
}
