package io.meridian.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.RangeRequest;
import io.meridian.client.MeridianClient;
import io.meridian.cluster.DevCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bin/meridian dev --state-dir D}, stopped and started again on the same D. */
@Tag("cluster")
class DevRestartTest {
  private static final DevFederation.Shape SHAPE =
      new DevFederation.Shape(List.of("us-east", "us-west"), 1, 1, true);
  private static final Map<String, Map<String, Object>> NODES =
      Map.of("raft", DevCluster.FAST_ELECTIONS);

  @TempDir Path dir;

  @Test
  void aFederationStartedAgainOnItsStateDirResumesWithItsDataAndReplication() throws Exception {
    try (DevFederation first = start()) {
      put(first, "/demo/a", "1");
      awaitReplicated(first, "/demo/a", "1");
    }
    try (DevFederation again = start()) {
      try (MeridianClient east = client(again, "us-east")) {
        assertThat(value(east, "/demo/a", Consistency.LINEARIZABLE)).isEqualTo("1");
      }
      // The same broker and topic: the bridge resumes where it stopped.
      put(again, "/demo/b", "2");
      awaitReplicated(again, "/demo/b", "2");
    }
  }

  private DevFederation start() throws Exception {
    DevFederation f = DevFederation.start(dir, SHAPE, NODES, Map.of());
    await().atMost(Duration.ofSeconds(60)).until(f::ready);
    return f;
  }

  private static MeridianClient client(DevFederation f, String region) {
    return MeridianClient.builder()
        .endpoints(f.router(region).url())
        .requestTimeout(Duration.ofSeconds(20))
        .attemptTimeout(Duration.ofSeconds(20))
        .build();
  }

  private static void put(DevFederation f, String key, String value) {
    try (MeridianClient east = client(f, "us-east")) {
      east.kv().put(key, ByteString.copyFromUtf8(value));
    }
  }

  private static void awaitReplicated(DevFederation f, String key, String value) {
    try (MeridianClient west = client(f, "us-west")) {
      await()
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptions()
          .until(() -> value.equals(value(west, key, Consistency.LOCAL)));
    }
  }

  private static String value(MeridianClient c, String key, Consistency consistency) {
    var kvs =
        c.kv()
            .range(RangeRequest.newBuilder().setKey(key).setConsistency(consistency).build())
            .getKvsList();
    return kvs.isEmpty() ? null : kvs.get(0).getValue().toStringUtf8();
  }
}
