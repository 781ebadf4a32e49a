package io.meridian.bridge;

import static io.meridian.serving.config.ConfigType.INT;
import static io.meridian.serving.config.ConfigType.LONG;
import static io.meridian.serving.config.ConfigType.STRING;
import static io.meridian.serving.config.Validator.atLeast;
import static io.meridian.serving.config.Validator.between;
import static io.meridian.serving.config.Validator.bindAddress;
import static io.meridian.serving.config.Validator.notBlank;
import static io.meridian.serving.config.Validator.port;

import io.meridian.api.LeaseId;
import io.meridian.serving.config.ConfigException;
import io.meridian.serving.config.ConfigKey;
import io.meridian.serving.config.ConfigKeys;
import io.meridian.serving.config.ConfigType;
import io.meridian.serving.config.ConfigValues;
import io.meridian.serving.config.Validator;
import io.meridian.serving.tls.TlsSettings;
import io.meridian.serving.tls.UpstreamTls;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A bridge's configuration, read from one YAML file. Its keys are declared once, in {@link #KEYS},
 * with their types, defaults, conditions and the descriptions of the configuration table in
 * docs/replication.md; {@link #load} refuses a file that breaks any of them, or the rules between
 * them, with a {@link ConfigException} that names the file and the key.
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
 *   - id: 1                                   # or: follow the regions' roles
 *     regions:
 *       us-east: [http://east-1:2379, http://east-2:2379]
 *       us-west: [http://west-1:2379, http://west-2:2379]
 * }</pre>
 */
public record BridgeConfig(
    Listen listen,
    Kafka kafka,
    Lag lag,
    Retry retry,
    List<ShardConfig> shards,
    TlsSettings tls,
    UpstreamTls upstream) {

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
   * One shard, in one of two forms. Static: the primary region's members to read the change feed
   * from ({@code source}; omit for a bridge that only applies) and each standby region's members to
   * apply to ({@code sinks}). Role-following: every region's members ({@code regions}); the bridge
   * learns each region's role and epoch from its cluster and ships from the newest PRIMARY to every
   * STANDBY, following failovers. Exactly one form is non-empty.
   */
  public record ShardConfig(
      Integer id,
      List<String> source,
      Map<String, List<String>> sinks,
      Map<String, List<String>> regions) {

    /** Whether the bridge follows the regions' roles ({@code regions}) for this shard. */
    public boolean followsRoles() {
      return !regions.isEmpty();
    }
  }

  private static final String URLS = "http(s)://host:port URLs";

  static final ConfigKey<String> LISTEN_HOST =
      ConfigKey.of("listen.host", STRING)
          .defaultValue("127.0.0.1")
          .check(bindAddress())
          .description(
              "the address to bind for `/health`, `/metrics`, `/v1/bridge/status`, `/docs`");
  static final ConfigKey<Integer> LISTEN_PORT =
      ConfigKey.of("listen.port", INT)
          .defaultValue(2391)
          .check(port())
          .description("the port of `listen.host` (0: any free port)");
  static final ConfigKey<String> BOOTSTRAP_SERVERS =
      ConfigKey.of("kafka.bootstrap-servers", STRING)
          .required()
          .check(notBlank("host:port[,host:port...]"))
          .description("the Kafka cluster");
  static final ConfigKey<Integer> REPLICATION_FACTOR =
      ConfigKey.of("kafka.replication-factor", INT)
          .defaultValue(3)
          .check(between(1, Short.MAX_VALUE))
          .description("of the topics the bridge creates");
  static final ConfigKey<Integer> MIN_INSYNC_REPLICAS =
      ConfigKey.of("kafka.min-insync-replicas", INT)
          .defaultValue(2)
          .check(atLeast(1))
          .description("of the topics the bridge creates; at most the replication factor");
  static final ConfigKey<Integer> MAX_RECORD_BYTES =
      ConfigKey.of("kafka.max-record-bytes", INT)
          .defaultValue(900_000)
          .check(atLeast(1024))
          .description("a batch above this is split into records of at most this size");
  static final ConfigKey<Integer> TRANSACTION_TIMEOUT =
      ConfigKey.of("kafka.transaction-timeout-ms", INT)
          .defaultValue(10_000)
          .check(atLeast(1000))
          .description("how long a dead source's open transaction can hold readers back");
  static final ConfigKey<String> TRANSACTIONAL_ID_PREFIX =
      ConfigKey.of("kafka.transactional-id-prefix", STRING)
          .defaultValue("meridian-bridge")
          .check(notBlank("a prefix of Kafka transactional ids"))
          .description(
              "the source's `transactional.id` is `<prefix>-shard-<n>`: every copy of a bridge"
                  + " must use the same prefix, so they fence each other");
  static final ConfigKey<Map<String, String>> PROPERTIES =
      ConfigKey.of("kafka.properties", ConfigType.mapOf(STRING))
          .defaultValue(Map.of())
          .description(
              "passed to every Kafka client as is (security settings, for instance); the sink's"
                  + " consumer sets `fetch.max.wait.ms` to 10 unless given here (Kafka's 500 ms"
                  + " default added 30–40 ms to every revision's lag at low rates)");
  static final ConfigKey<Long> DEGRADED_REVISIONS =
      positive("lag.degraded-revisions", 10_000L, "a lag of more revisions makes `/health` 503");
  static final ConfigKey<Long> DEGRADED_MS =
      positive("lag.degraded-ms", 30_000L, "a lag of more milliseconds makes `/health` 503 too");
  static final ConfigKey<Long> INITIAL_BACKOFF =
      positive(
          "retry.initial-backoff-ms",
          200L,
          "the first backoff between sessions after a failure (exponential, 20 % jitter)");
  static final ConfigKey<Long> MAX_BACKOFF =
      positive("retry.max-backoff-ms", 10_000L, "the longest backoff between sessions");
  static final ConfigKey<Integer> SHARD_ID =
      ConfigKey.of("shards[].id", INT)
          .required()
          .check(between(0, LeaseId.MAX_SHARD))
          .description("the shard");
  static final ConfigKey<List<String>> SOURCE =
      ConfigKey.of("shards[].source", ConfigType.listOf(STRING))
          .defaultValue(List.of())
          .check(Validator.of(BridgeConfig::httpUrls, URLS))
          .description("the PRIMARY region's member URLs; omit to only apply");
  static final ConfigKey<Map<String, List<String>>> SINKS =
      ConfigKey.of("shards[].sinks", ConfigType.mapOf(ConfigType.listOf(STRING)))
          .defaultValue(Map.of())
          .check(regionUrls())
          .description("each STANDBY region's member URLs, by region");
  static final ConfigKey<Map<String, List<String>>> REGIONS =
      ConfigKey.of("shards[].regions", ConfigType.mapOf(ConfigType.listOf(STRING)))
          .defaultValue(Map.of())
          .check(regionUrls())
          .description(
              "every region's member URLs, by region, instead of `source` and `sinks`: the bridge"
                  + " ships from the PRIMARY with the highest epoch to every STANDBY, following"
                  + " role changes (see \"After a failover\")");

  /** Every key of a bridge's file, in the order of the table in docs/replication.md. */
  public static final ConfigKeys KEYS =
      ConfigKeys.of(
          "bridge",
          LISTEN_HOST,
          LISTEN_PORT,
          TlsSettings.CERT_FILE,
          TlsSettings.KEY_FILE,
          TlsSettings.CA_FILE,
          TlsSettings.CLIENT_AUTH,
          UpstreamTls.CERT_FILE,
          UpstreamTls.KEY_FILE,
          UpstreamTls.CA_FILE,
          BOOTSTRAP_SERVERS,
          REPLICATION_FACTOR,
          MIN_INSYNC_REPLICAS,
          MAX_RECORD_BYTES,
          TRANSACTION_TIMEOUT,
          TRANSACTIONAL_ID_PREFIX,
          PROPERTIES,
          DEGRADED_REVISIONS,
          DEGRADED_MS,
          INITIAL_BACKOFF,
          MAX_BACKOFF,
          SHARD_ID,
          SOURCE,
          SINKS,
          REGIONS);

  /**
   * Reads, defaults and checks {@code file}.
   *
   * @throws ConfigException naming the file and the key it refused
   */
  public static BridgeConfig load(Path file) {
    return from(KEYS.load(file));
  }

  /**
   * Reads, defaults and checks YAML text (JSON is YAML too); refusals name it {@code bridge
   * config}.
   *
   * @throws ConfigException naming the key it refused
   */
  public static BridgeConfig parse(String yaml) {
    return from(KEYS.parse(yaml));
  }

  /**
   * The same config with other lag limits.
   *
   * @throws ConfigException if a limit is not positive
   */
  public BridgeConfig withLag(Lag limits) {
    Lag checked =
        new Lag(
            KEYS.check(DEGRADED_REVISIONS, limits.degradedRevisions()),
            KEYS.check(DEGRADED_MS, limits.degradedMs()));
    return new BridgeConfig(listen, kafka, checked, retry, shards, tls, upstream);
  }

  /** The topic of {@code shard}'s changes. */
  public static String topic(int shard) {
    return "meridian." + shard + ".changes";
  }

  private static BridgeConfig from(ConfigValues v) {
    Kafka kafka =
        new Kafka(
            v.get(BOOTSTRAP_SERVERS),
            v.get(REPLICATION_FACTOR).shortValue(),
            v.get(MIN_INSYNC_REPLICAS),
            v.get(MAX_RECORD_BYTES),
            v.get(TRANSACTION_TIMEOUT),
            v.get(TRANSACTIONAL_ID_PREFIX),
            v.get(PROPERTIES));
    if (kafka.minInsyncReplicas() > kafka.replicationFactor()) {
      throw v.refuse(
          MIN_INSYNC_REPLICAS, "<= " + REPLICATION_FACTOR.name() + " " + kafka.replicationFactor());
    }
    Retry retry = new Retry(v.get(INITIAL_BACKOFF), v.get(MAX_BACKOFF));
    if (retry.maxBackoffMs() < retry.initialBackoffMs()) {
      throw v.refuse(MAX_BACKOFF, ">= " + INITIAL_BACKOFF.name() + " " + retry.initialBackoffMs());
    }
    return new BridgeConfig(
        new Listen(v.get(LISTEN_HOST), v.get(LISTEN_PORT)),
        kafka,
        new Lag(v.get(DEGRADED_REVISIONS), v.get(DEGRADED_MS)),
        retry,
        shards(v),
        TlsSettings.read(v),
        UpstreamTls.read(v));
  }

  private static List<ShardConfig> shards(ConfigValues v) {
    List<ShardConfig> shards =
        v.elements(
            "shards[]",
            SHARD_ID,
            s -> {
              ShardConfig shard =
                  new ShardConfig(s.get(SHARD_ID), s.get(SOURCE), s.get(SINKS), s.get(REGIONS));
              if (shard.followsRoles()) {
                if (!shard.source().isEmpty() || !shard.sinks().isEmpty()) {
                  throw s.refuse(
                      s.path(REGIONS),
                      "given with " + (shard.source().isEmpty() ? "sinks" : "source"),
                      "either regions or source and sinks for one shard, not both: with regions"
                          + " the bridge picks the source and the sinks from the regions' roles");
                }
              } else if (shard.source().isEmpty() && shard.sinks().isEmpty()) {
                throw s.refuse(SOURCE, "a source or sinks, at least one (or regions)");
              }
              return shard;
            });
    if (shards.isEmpty()) {
      throw v.refuse("shards", "none", "at least one shard to replicate");
    }
    return shards;
  }

  private static Validator<Map<String, List<String>>> regionUrls() {
    return Validator.of(
        regions ->
            regions.entrySet().stream()
                .allMatch(
                    e ->
                        e.getKey().matches("[a-z0-9][a-z0-9-]{0,62}")
                            && !e.getValue().isEmpty()
                            && httpUrls(e.getValue())),
        "regions (lower-case letters, digits and '-'), each with its members' " + URLS);
  }

  private static boolean httpUrls(List<String> urls) {
    return urls.stream().allMatch(BridgeConfig::httpUrl);
  }

  private static boolean httpUrl(String url) {
    try {
      URI uri = URI.create(url);
      return ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
          && uri.getHost() != null
          && uri.getPort() > 0;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static ConfigKey<Long> positive(String name, long fallback, String description) {
    return ConfigKey.of(name, LONG)
        .defaultValue(fallback)
        .check(atLeast(1))
        .description(description);
  }
}
