package io.meridian.ctl;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.google.protobuf.ByteString;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberShard;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.testing.ProcessRegion;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** What the drills share: endpoints, writes and reads, and a member's view of itself. */
final class Drills {
  private Drills() {}

  /** Every member's client URL, as {@code $ENDPOINTS}. */
  static String endpoints(ProcessRegion nodes) {
    List<String> urls = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      urls.add(nodes.url(i));
    }
    return String.join(",", urls);
  }

  /** Puts {@code prefix0 .. prefix<count-1>} through member {@code index} (retried while busy). */
  static void put(ProcessRegion nodes, int index, String prefix, int count) {
    for (int i = 0; i < count; i++) {
      PutRequest put =
          PutRequest.newBuilder()
              .setKey(prefix + i)
              .setValue(ByteString.copyFromUtf8("v" + i))
              .build();
      await()
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptions()
          .until(() -> nodes.kv(index).put(put) != null);
    }
  }

  /** How many keys under {@code prefix} member {@code index} holds in its own applied state. */
  static long serializableCount(ProcessRegion nodes, int index, String prefix) {
    return nodes
        .kv(index)
        .range(
            RangeRequest.newBuilder()
                .setKey(prefix)
                .setPrefix(true)
                .setCountOnly(true)
                .setConsistency(Consistency.SERIALIZABLE)
                .build())
        .getCount();
  }

  /** Shard 0 as member {@code index} sees itself: its role, applied and commit index. */
  static MemberShard ownShardZero(ProcessRegion nodes, int index) {
    return await()
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .until(
            () ->
                nodes
                    .cluster(index)
                    .withDeadlineAfter(5, TimeUnit.SECONDS)
                    .memberList(MemberListRequest.getDefaultInstance())
                    .getMembersList()
                    .stream()
                    .flatMap(m -> m.getShardsList().stream())
                    // Only the answering member's own entry carries indexes.
                    .filter(s -> s.getShard() == 0 && s.getAppliedIndex() > 0)
                    .findFirst()
                    .orElseThrow(),
            s -> true);
  }

  /** Writes {@code config} to {@code file} as a node reads it, as ProcessRegion writes its own. */
  static Path writeConfig(NodeConfig config, Path file) throws IOException {
    new ObjectMapper(new YAMLFactory())
        .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
        .writeValue(file.toFile(), config);
    return file;
  }
}
