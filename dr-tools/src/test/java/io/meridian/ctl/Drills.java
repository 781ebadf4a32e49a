package io.meridian.ctl;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberShard;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.launcher.DevFederation;
import io.meridian.testing.ProcessRegion;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

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

  /** The write-authority limit of the federation drills' nodes: short, so its waits are too. */
  static final long WRITE_AUTHORITY_MS = 3000;

  /**
   * A federation for the region drills: us-east PRIMARY, us-west STANDBY, {@code members} each, a
   * broker, a bridge and a router per region, ready.
   */
  static DevFederation federation(Path dir, int members) throws Exception {
    return federation(dir, members, DevFederation.RegionLaunch.IN_PROCESS);
  }

  /** As {@link #federation(Path, int)}, with each region's members started by {@code launch}. */
  static DevFederation federation(Path dir, int members, DevFederation.RegionLaunch launch)
      throws Exception {
    DevFederation f =
        DevFederation.start(
            dir,
            new DevFederation.Shape(List.of("us-east", "us-west"), 1, members, true),
            Map.of(
                "raft",
                DevCluster.FAST_ELECTIONS,
                "replication",
                Map.of("write-authority-ms", WRITE_AUTHORITY_MS)),
            Map.of(),
            launch);
    try {
      await().atMost(Duration.ofSeconds(120)).until(f::ready);
      // Its source shipping and reporting: the primary's write authority depends on it. Member
      // processes starting beside the in-process ones take longer on a busy 2-core machine.
      await().atMost(Duration.ofSeconds(180)).until(() -> f.bridge().healthy());
    } catch (RuntimeException e) {
      f.close();
      throw e;
    }
    return f;
  }

  /** Both routers' URLs, as {@code $ROUTERS}. */
  static String routers(DevFederation f) {
    return f.router("us-east").url() + "," + f.router("us-west").url();
  }

  /** Every member's client URL of {@code region}. */
  static String members(DevFederation f, String region) {
    return f.cluster(region).configs().stream()
        .map(c -> c.self().client())
        .collect(Collectors.joining(","));
  }

  /** A stub of {@code type} on {@code url} for shard 0. */
  static <S> S stub(String url, Class<S> type) {
    return GrpcClients.builder(url)
        .responseTimeout(Duration.ofSeconds(10))
        .addHeader(ShardHeader.NAME, "0")
        .build(type);
  }

  /** Every key under {@code prefix} with its value, as member {@code url} holds it itself. */
  static Map<String, String> local(String url, String prefix) {
    return stub(url, KVGrpc.KVBlockingStub.class)
        .range(
            RangeRequest.newBuilder()
                .setKey(prefix)
                .setPrefix(true)
                .setConsistency(Consistency.SERIALIZABLE)
                .build())
        .getKvsList()
        .stream()
        .collect(Collectors.toMap(KeyValue::getKey, kv -> kv.getValue().toStringUtf8()));
  }

  /** Takes lock {@code name} through {@code router} under a new lease; its fencing token. */
  static long lock(String router, String name, long ttlSeconds) {
    long lease =
        stub(router, LeaseGrpc.LeaseBlockingStub.class)
            .grant(LeaseGrantRequest.newBuilder().setNamespace("drill").setTtl(ttlSeconds).build())
            .getId();
    return stub(router, LockGrpc.LockBlockingStub.class)
        .acquire(LockAcquireRequest.newBuilder().setName(name).setLease(lease).build())
        .getFencingToken();
  }

  /** The number after {@code label} in {@code text} (e.g. "at revision " -> 42), or -1. */
  static long after(String text, String label) {
    int at = text.indexOf(label);
    if (at < 0) {
      return -1;
    }
    int from = at + label.length();
    int to = from;
    while (to < text.length() && Character.isDigit(text.charAt(to))) {
      to++;
    }
    return to == from ? -1 : Long.parseLong(text.substring(from, to));
  }

  /** Writes {@code config} to {@code file} as a node reads it, as ProcessRegion writes its own. */
  static Path writeConfig(NodeConfig config, Path file) throws IOException {
    new ObjectMapper(new YAMLFactory())
        .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
        .writeValue(file.toFile(), config);
    return file;
  }
}
