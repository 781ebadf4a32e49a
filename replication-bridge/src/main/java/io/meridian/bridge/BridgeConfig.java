package io.meridian.bridge;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.meridian.api.LeaseId;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A bridge's configuration, read from one YAML file (kebab-case keys). {@link #load} fills in the
 * defaults listed in the README and names the bad field of a file it refuses.
 *
 * <pre>{@code
 * listen: {host: 127.0.0.1, port: 2391}       # /health, /metrics, /v1/bridge/status
 * kafka:
 *   bootstrap-servers: kafka-1:9092,kafka-2:9092
 *   replication-factor: 3                     # of topics the bridge creates
 *   min-insync-replicas: 2
 *   max-record-bytes: 900000                  # a larger batch is split into parts
 *   transaction-timeout-ms: 10000
 *   properties: {security.protocol: SSL}      # passed to every Kafka client as is
 * lag: {degraded-revisions: 10000, degraded-ms: 30000}
 * retry: {initial-backoff-ms: 200, max-backoff-ms: 10000}
 * shards:
 *   - id: 0
 *     source: [http://east-1:2379, http://east-2:2379]   # the PRIMARY region's members
 *     sinks:
 *       us-west: [http://west-1:2379, http://west-2:2379] # a STANDBY region's members
 * }</pre>
 */
public record BridgeConfig(
    Listen listen, Kafka kafka, Lag lag, Retry retry, List<ShardConfig> shards) {

  /** Where the bridge serves health, metrics and status. Port 0 picks a free one. */
  public record Listen(String host, Integer port) {}

  /** The Kafka cluster, and the settings of the topics the bridge creates. */
  public record Kafka(
      String bootstrapServers,
      Short replicationFactor,
      Integer minInsyncReplicas,
      Integer maxRecordBytes,
      Integer transactionTimeoutMs,
      String transactionalIdPrefix,
      Map<String, String> properties) {}

  /** Lag above either limit makes the bridge's /health report it degraded (503). */
  public record Lag(Long degradedRevisions, Long degradedMs) {}

  /** Backoff between attempts after Kafka, a cluster or the feed failed. */
  public record Retry(Long initialBackoffMs, Long maxBackoffMs) {}

  /**
   * One shard: the primary region's members to read the change feed from (omit for a bridge that
   * only applies), and each standby region's members to apply to.
   */
  public record ShardConfig(Integer id, List<String> source, Map<String, List<String>> sinks) {}

  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory())
          .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  /** Reads, defaults and validates {@code file}. */
  public static BridgeConfig load(Path file) {
    try {
      return parse(Files.readString(file));
    } catch (IOException e) {
      throw invalid("cannot read %s: %s", file, e.getMessage());
    }
  }

  /** Parses, defaults and validates YAML text. */
  public static BridgeConfig parse(String yaml) {
    BridgeConfig raw;
    try {
      raw = YAML.readValue(yaml, BridgeConfig.class);
    } catch (UnrecognizedPropertyException e) {
      throw invalid("unknown field '%s' at %s", e.getPropertyName(), e.getPathReference());
    } catch (JsonProcessingException e) {
      throw invalid("%s", e.getOriginalMessage());
    }
    if (raw == null) {
      throw invalid("empty file");
    }
    return raw.withDefaults().validated();
  }

  /** The same config with other lag limits. */
  public BridgeConfig withLag(Lag limits) {
    return new BridgeConfig(listen, kafka, limits, retry, shards).validated();
  }

  /** The topic of {@code shard}'s changes. */
  public static String topic(int shard) {
    return "meridian." + shard + ".changes";
  }

  private BridgeConfig withDefaults() {
    Listen l = listen == null ? new Listen(null, null) : listen;
    Kafka k = kafka == null ? new Kafka(null, null, null, null, null, null, null) : kafka;
    Lag g = lag == null ? new Lag(null, null) : lag;
    Retry r = retry == null ? new Retry(null, null) : retry;
    List<ShardConfig> shardsOut = new ArrayList<>();
    if (shards != null) {
      for (ShardConfig s : shards) {
        if (s == null) {
          throw invalid("shards: an empty entry");
        }
        Map<String, List<String>> sinksOut = new LinkedHashMap<>();
        if (s.sinks() != null) {
          s.sinks()
              .forEach((region, urls) -> sinksOut.put(region, urls == null ? List.of() : urls));
        }
        shardsOut.add(
            new ShardConfig(
                s.id(), s.source() == null ? List.of() : List.copyOf(s.source()), sinksOut));
      }
    }
    return new BridgeConfig(
        new Listen(or(l.host(), "127.0.0.1"), or(l.port(), 2391)),
        new Kafka(
            k.bootstrapServers(),
            or(k.replicationFactor(), (short) 3),
            or(k.minInsyncReplicas(), 2),
            or(k.maxRecordBytes(), 900_000),
            or(k.transactionTimeoutMs(), 10_000),
            or(k.transactionalIdPrefix(), "meridian-bridge"),
            k.properties() == null ? Map.of() : Map.copyOf(k.properties())),
        new Lag(or(g.degradedRevisions(), 10_000L), or(g.degradedMs(), 30_000L)),
        new Retry(or(r.initialBackoffMs(), 200L), or(r.maxBackoffMs(), 10_000L)),
        List.copyOf(shardsOut));
  }

  private BridgeConfig validated() {
    require(
        listen.port() >= 0 && listen.port() <= 65535,
        "listen.port: %s (expected: 0..65535)",
        listen.port());
    require(
        kafka.bootstrapServers() != null && !kafka.bootstrapServers().isBlank(),
        "kafka.bootstrap-servers: missing (expected: host:port[,host:port...])");
    require(
        kafka.replicationFactor() >= 1 && kafka.minInsyncReplicas() >= 1,
        "kafka.replication-factor %s, kafka.min-insync-replicas %s (expected: >= 1)",
        kafka.replicationFactor(),
        kafka.minInsyncReplicas());
    require(
        kafka.minInsyncReplicas() <= kafka.replicationFactor(),
        "kafka.min-insync-replicas: %s (expected: <= replication-factor %s)",
        kafka.minInsyncReplicas(),
        kafka.replicationFactor());
    require(
        kafka.maxRecordBytes() >= 1024,
        "kafka.max-record-bytes: %s (expected: >= 1024)",
        kafka.maxRecordBytes());
    require(
        kafka.transactionTimeoutMs() >= 1000,
        "kafka.transaction-timeout-ms: %s (expected: >= 1000)",
        kafka.transactionTimeoutMs());
    require(
        lag.degradedRevisions() > 0 && lag.degradedMs() > 0,
        "lag: degraded-revisions %s, degraded-ms %s (expected: > 0)",
        lag.degradedRevisions(),
        lag.degradedMs());
    require(
        retry.initialBackoffMs() > 0 && retry.maxBackoffMs() >= retry.initialBackoffMs(),
        "retry: initial-backoff-ms %s, max-backoff-ms %s (expected: 0 < initial <= max)",
        retry.initialBackoffMs(),
        retry.maxBackoffMs());
    require(!shards.isEmpty(), "shards: none (expected: at least one shard to replicate)");
    List<Integer> seen = new ArrayList<>();
    for (ShardConfig s : shards) {
      require(
          s.id() != null && s.id() >= 0 && s.id() <= LeaseId.MAX_SHARD && !seen.contains(s.id()),
          "shards[].id: %s (expected: a shard number 0..%d, each once)",
          s.id(),
          LeaseId.MAX_SHARD);
      seen.add(s.id());
      require(
          !s.source().isEmpty() || !s.sinks().isEmpty(),
          "shards[%s]: neither source nor sinks (expected: at least one)",
          s.id());
      checkUrls("shards[" + s.id() + "].source", s.source());
      s.sinks()
          .forEach(
              (region, urls) -> {
                require(
                    region.matches("[a-z0-9][a-z0-9-]{0,62}"),
                    "shards[%s].sinks: region %s (expected: lower-case letters, digits and '-')",
                    s.id(),
                    region);
                require(
                    !urls.isEmpty(),
                    "shards[%s].sinks.%s: no endpoints (expected: the standby's member URLs)",
                    s.id(),
                    region);
                checkUrls("shards[" + s.id() + "].sinks." + region, urls);
              });
    }
    return this;
  }

  private static void checkUrls(String where, List<String> urls) {
    for (String url : urls) {
      URI uri;
      try {
        uri = URI.create(url);
      } catch (IllegalArgumentException e) {
        throw invalid("%s: %s (expected: http://host:port)", where, url);
      }
      require(
          "http".equals(uri.getScheme()) && uri.getHost() != null && uri.getPort() > 0,
          "%s: %s (expected: http://host:port)",
          where,
          url);
    }
  }

  private static <T> T or(T value, T fallback) {
    return value == null ? fallback : value;
  }

  private static void require(boolean ok, String format, Object... args) {
    if (!ok) {
      throw invalid(format, args);
    }
  }

  private static MeridianException invalid(String format, Object... args) {
    return MeridianException.of(Error.Code.INVALID_ARGUMENT, "bridge config: " + format, args);
  }
}
