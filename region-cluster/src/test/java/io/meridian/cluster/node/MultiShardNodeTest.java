package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
                                n.replicas().get(s).info().isLeader()
                                    && n.replicas().get(s).read(st -> st.initialized())));
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
      assertThat(standbyRead).contains("\"role\":\"STANDBY\"").doesNotContain("kvs");
    }
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
