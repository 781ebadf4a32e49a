package io.meridian.router;

import static io.meridian.serving.config.ConfigType.INT;
import static io.meridian.serving.config.ConfigType.LONG;
import static io.meridian.serving.config.ConfigType.STRING;
import static io.meridian.serving.config.Validator.atLeast;
import static io.meridian.serving.config.Validator.bindAddress;
import static io.meridian.serving.config.Validator.matching;
import static io.meridian.serving.config.Validator.notBlank;
import static io.meridian.serving.config.Validator.port;

import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Consistency;
import io.meridian.serving.config.ConfigException;
import io.meridian.serving.config.ConfigKey;
import io.meridian.serving.config.ConfigKeys;
import io.meridian.serving.config.ConfigType;
import io.meridian.serving.config.ConfigValues;
import io.meridian.serving.tls.TlsSettings;
import io.meridian.serving.tls.UpstreamTls;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A router's configuration, read from one YAML file. Its keys are declared once, in {@link #KEYS},
 * with their types, defaults, conditions and the descriptions of the README's router configuration
 * table; {@link #load} refuses a file that breaks any of them, or the rules between them, with a
 * {@link ConfigException} that names the file and the key.
 *
 * <pre>{@code
 * region: us-west                  # the router's own region: LOCAL reads go here first
 * listen: {host: 0.0.0.0, port: 2390}
 * table: routing-table.yaml        # the routing table at start (relative to this file)
 * preference: [us-east, eu-west]   # the other regions, nearest first
 * reads: {max-staleness-revisions: 1000, max-staleness-ms: 5000, region-timeout-ms: 2000}
 * cache: {ttl-ms: 5000, max-age-ms: 600000, max-entries: 100000}
 * defaults: {discover: LOCAL, on-unavailable: FAIL_OPEN}
 * namespaces:
 *   payments: {on-unavailable: FAIL_CLOSED, max-staleness-ms: 1000}
 * }</pre>
 */
public record RouterConfig(
    String region,
    Listen listen,
    String table,
    List<String> preference,
    Upstream upstream,
    Reads reads,
    Cache cache,
    Policy defaults,
    Map<String, Policy> namespaces,
    TlsSettings tls) {

  /** Where the router serves its API. Port 0 picks a free one. */
  public record Listen(String host, Integer port) {}

  /** Calls to region clusters (through the client module's failover). */
  public record Upstream(
      Long requestTimeoutMs, Long attemptTimeoutMs, Long healthCheckIntervalMs, UpstreamTls tls) {}

  /**
   * LOCAL reads: the staleness beyond which a standby's answer is refused in favour of the next
   * region, how long one region may take before the next is tried, and how often the router asks
   * each shard's primary for its revision.
   */
  public record Reads(
      Long maxStalenessRevisions,
      Long maxStalenessMs,
      Long regionTimeoutMs,
      Long probeIntervalMs) {}

  /** The router's cache of read answers (CACHED reads, and fail-open answers). */
  public record Cache(Long ttlMs, Long maxAgeMs, Long maxEntries) {}

  /**
   * Per-namespace read policy: the consistency of a Discover that names none, what to do when no
   * region can answer (FAIL_OPEN: the cached answer, else an empty instance list; FAIL_CLOSED:
   * {@code UNAVAILABLE}), and staleness limits overriding {@link Reads}.
   */
  public record Policy(
      Consistency discover,
      OnUnavailable onUnavailable,
      Long maxStalenessRevisions,
      Long maxStalenessMs) {
    public boolean failOpen() {
      return onUnavailable == OnUnavailable.FAIL_OPEN;
    }
  }

  public enum OnUnavailable {
    FAIL_OPEN,
    FAIL_CLOSED
  }

  private static final ConfigType<Consistency> CONSISTENCY =
      ConfigType.oneOf(
          Consistency.LINEARIZABLE,
          Consistency.SERIALIZABLE,
          Consistency.LOCAL,
          Consistency.CACHED);
  private static final ConfigType<OnUnavailable> ON_UNAVAILABLE =
      ConfigType.oneOf(OnUnavailable.values());

  static final ConfigKey<String> REGION =
      ConfigKey.of("region", STRING)
          .required()
          .check(
              matching(
                  "[a-z0-9][a-z0-9-]{0,62}",
                  "the router's region, lower-case letters, digits and '-'"))
          .description("the router's own region: LOCAL reads go there first");
  static final ConfigKey<String> LISTEN_HOST =
      ConfigKey.of("listen.host", STRING)
          .defaultValue("127.0.0.1")
          .check(bindAddress())
          .description("the address to bind for gRPC + HTTP/JSON + `/health` `/metrics` `/docs`");
  static final ConfigKey<Integer> LISTEN_PORT =
      ConfigKey.of("listen.port", INT)
          .defaultValue(2390)
          .check(port())
          .description("the port of `listen.host` (0: any free port)");
  static final ConfigKey<String> TABLE =
      ConfigKey.of("table", STRING)
          .required()
          .check(notBlank("the path of the routing table file"))
          .description("the routing table file read at start");
  static final ConfigKey<List<String>> PREFERENCE =
      ConfigKey.of("preference", ConfigType.listOf(STRING))
          .defaultValue(List.of())
          .description(
              "the other regions in fallback order, nearest first; regions not listed follow in"
                  + " table order");
  static final ConfigKey<Long> REQUEST_TIMEOUT =
      positive(
          "upstream.request-timeout-ms",
          10_000L,
          "the longest a request may take through the router (a gRPC caller's own deadline wins;"
              + " lock waits and blocking reads add their wait)");
  static final ConfigKey<Long> ATTEMPT_TIMEOUT =
      positive(
          "upstream.attempt-timeout-ms",
          3000L,
          "one attempt at one node before the router retries elsewhere");
  static final ConfigKey<Long> HEALTH_CHECK_INTERVAL =
      positive(
          "upstream.health-check-interval-ms", 3000L, "how often each node's `/health` is checked");
  static final ConfigKey<Long> MAX_STALENESS_REVISIONS =
      ConfigKey.of("reads.max-staleness-revisions", LONG)
          .defaultValue(1000L)
          .check(atLeast(0))
          .description("a LOCAL answer further behind the primary is refused for the next region");
  static final ConfigKey<Long> MAX_STALENESS_MS =
      ConfigKey.of("reads.max-staleness-ms", LONG)
          .defaultValue(5000L)
          .check(atLeast(0))
          .description(
              "a LOCAL answer whose revision the primary passed longer ago is refused too; an"
                  + " answer at the newest revision seen counts as stale since the primary was"
                  + " last heard from");
  static final ConfigKey<Long> REGION_TIMEOUT =
      positive(
          "reads.region-timeout-ms",
          2000L,
          "the longest one region may take before a LOCAL read tries the next");
  static final ConfigKey<Long> PROBE_INTERVAL =
      positive(
          "reads.probe-interval-ms",
          1000L,
          "how often the router asks each shard's primary for its revision");
  static final ConfigKey<Long> CACHE_TTL =
      ConfigKey.of("cache.ttl-ms", LONG)
          .defaultValue(5000L)
          .check(atLeast(0))
          .description("CACHED reads younger than this are answered from the cache");
  static final ConfigKey<Long> CACHE_MAX_AGE =
      ConfigKey.of("cache.max-age-ms", LONG)
          .defaultValue(600_000L)
          .check(atLeast(0))
          .description("the oldest answer fail-open may serve");
  static final ConfigKey<Long> CACHE_MAX_ENTRIES =
      ConfigKey.of("cache.max-entries", LONG)
          .defaultValue(100_000L)
          .check(atLeast(0))
          .description("answers kept");
  static final ConfigKey<Consistency> DEFAULT_DISCOVER =
      ConfigKey.of("defaults.discover", CONSISTENCY)
          .defaultValue(Consistency.LOCAL)
          .description("consistency of a Discover or ListServices that names none");
  static final ConfigKey<OnUnavailable> DEFAULT_ON_UNAVAILABLE =
      ConfigKey.of("defaults.on-unavailable", ON_UNAVAILABLE)
          .defaultValue(OnUnavailable.FAIL_OPEN)
          .description("`FAIL_OPEN` or `FAIL_CLOSED`");
  static final ConfigKey<Long> DEFAULT_MAX_STALENESS_REVISIONS =
      ConfigKey.of("defaults.max-staleness-revisions", LONG)
          .defaultsTo(MAX_STALENESS_REVISIONS)
          .check(atLeast(0))
          .description("the staleness limit in revisions of a namespace that sets none");
  static final ConfigKey<Long> DEFAULT_MAX_STALENESS_MS =
      ConfigKey.of("defaults.max-staleness-ms", LONG)
          .defaultsTo(MAX_STALENESS_MS)
          .check(atLeast(0))
          .description("the staleness limit in milliseconds of a namespace that sets none");
  static final ConfigKey<Consistency> NS_DISCOVER = forNamespace(DEFAULT_DISCOVER);
  static final ConfigKey<OnUnavailable> NS_ON_UNAVAILABLE = forNamespace(DEFAULT_ON_UNAVAILABLE);
  static final ConfigKey<Long> NS_MAX_STALENESS_REVISIONS =
      forNamespace(DEFAULT_MAX_STALENESS_REVISIONS);
  static final ConfigKey<Long> NS_MAX_STALENESS_MS = forNamespace(DEFAULT_MAX_STALENESS_MS);

  /** Every key of a router's file, in the order of the README's table. */
  public static final ConfigKeys KEYS =
      ConfigKeys.of(
          "router",
          REGION,
          LISTEN_HOST,
          LISTEN_PORT,
          TlsSettings.CERT_FILE,
          TlsSettings.KEY_FILE,
          TlsSettings.CA_FILE,
          TlsSettings.CLIENT_AUTH,
          TABLE,
          PREFERENCE,
          REQUEST_TIMEOUT,
          ATTEMPT_TIMEOUT,
          HEALTH_CHECK_INTERVAL,
          UpstreamTls.CERT_FILE,
          UpstreamTls.KEY_FILE,
          UpstreamTls.CA_FILE,
          MAX_STALENESS_REVISIONS,
          MAX_STALENESS_MS,
          REGION_TIMEOUT,
          PROBE_INTERVAL,
          CACHE_TTL,
          CACHE_MAX_AGE,
          CACHE_MAX_ENTRIES,
          DEFAULT_DISCOVER,
          DEFAULT_ON_UNAVAILABLE,
          DEFAULT_MAX_STALENESS_REVISIONS,
          DEFAULT_MAX_STALENESS_MS,
          NS_DISCOVER,
          NS_ON_UNAVAILABLE,
          NS_MAX_STALENESS_REVISIONS,
          NS_MAX_STALENESS_MS);

  /**
   * Reads, defaults and checks {@code file}; a relative {@code table} is resolved beside it.
   *
   * @throws ConfigException naming the file and the key it refused
   */
  public static RouterConfig load(Path file) {
    RouterConfig config = from(KEYS.load(file));
    Path table = Path.of(config.table());
    if (!table.isAbsolute() && file.toAbsolutePath().getParent() != null) {
      table = file.toAbsolutePath().getParent().resolve(table);
    }
    return config.withTable(table.toString());
  }

  /**
   * Reads, defaults and checks YAML text (JSON is YAML too); refusals name it {@code router
   * config}.
   *
   * @throws ConfigException naming the key it refused
   */
  public static RouterConfig parse(String yaml) {
    return from(KEYS.parse(yaml));
  }

  RouterConfig withTable(String path) {
    return new RouterConfig(
        region, listen, path, preference, upstream, reads, cache, defaults, namespaces, tls);
  }

  private static RouterConfig from(ConfigValues v) {
    String region = v.get(REGION);
    for (String p : v.get(PREFERENCE)) {
      if (p.equals(region)) {
        throw v.refuse(PREFERENCE.name(), p, "the other regions, nearest first");
      }
    }
    Cache cache = new Cache(v.get(CACHE_TTL), v.get(CACHE_MAX_AGE), v.get(CACHE_MAX_ENTRIES));
    if (cache.maxAgeMs() < cache.ttlMs()) {
      throw v.refuse(CACHE_MAX_AGE, ">= " + CACHE_TTL.name() + " " + cache.ttlMs());
    }
    Map<String, Policy> byNamespace = new LinkedHashMap<>();
    v.entries("namespaces.<ns>")
        .forEach(
            (ns, p) -> {
              checkNamespace(v, ns);
              byNamespace.put(
                  ns,
                  new Policy(
                      p.get(NS_DISCOVER),
                      p.get(NS_ON_UNAVAILABLE),
                      p.get(NS_MAX_STALENESS_REVISIONS),
                      p.get(NS_MAX_STALENESS_MS)));
            });
    return new RouterConfig(
        region,
        new Listen(v.get(LISTEN_HOST), v.get(LISTEN_PORT)),
        v.get(TABLE),
        v.get(PREFERENCE),
        new Upstream(
            v.get(REQUEST_TIMEOUT),
            v.get(ATTEMPT_TIMEOUT),
            v.get(HEALTH_CHECK_INTERVAL),
            UpstreamTls.read(v)),
        new Reads(
            v.get(MAX_STALENESS_REVISIONS),
            v.get(MAX_STALENESS_MS),
            v.get(REGION_TIMEOUT),
            v.get(PROBE_INTERVAL)),
        cache,
        new Policy(
            v.get(DEFAULT_DISCOVER),
            v.get(DEFAULT_ON_UNAVAILABLE),
            v.get(DEFAULT_MAX_STALENESS_REVISIONS),
            v.get(DEFAULT_MAX_STALENESS_MS)),
        Map.copyOf(byNamespace),
        TlsSettings.read(v));
  }

  // The rule for namespace names is the API's (KeyPath); only its wording is made a config's.
  private static void checkNamespace(ConfigValues v, String ns) {
    try {
      KeyPath.checkNamespace(ns);
    } catch (MeridianException e) {
      String problem = e.getMessage().replaceFirst("^namespace: ", "");
      throw new ConfigException(v.source(), "namespaces." + ns, problem);
    }
  }

  /** The read policy of {@code namespace}: its own, else the defaults. */
  public Policy policy(String namespace) {
    Policy p = namespace == null ? null : namespaces.get(namespace);
    return p != null ? p : defaults;
  }

  /** {@code defaults.<key>} for one namespace: the same type and check, defaulting to it. */
  private static <T> ConfigKey<T> forNamespace(ConfigKey<T> defaults) {
    String key = defaults.name().substring("defaults.".length());
    return defaults
        .named("namespaces.<ns>." + key)
        .defaultsTo(defaults)
        .description("`" + key + "` for the namespace `<ns>`");
  }

  private static ConfigKey<Long> positive(String name, long fallback, String description) {
    return ConfigKey.of(name, LONG)
        .defaultValue(fallback)
        .check(atLeast(1))
        .description(description);
  }
}
