package io.meridian.router;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A router's configuration, read from one YAML file (kebab-case keys). {@link #load} fills in the
 * defaults listed in the README and names the bad field of a file it refuses.
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
    Map<String, Policy> namespaces) {

  /** Where the router serves its API. Port 0 picks a free one. */
  public record Listen(String host, Integer port) {}

  /** Calls to region clusters (through the client module's failover). */
  public record Upstream(
      Long requestTimeoutMs, Long attemptTimeoutMs, Long healthCheckIntervalMs) {}

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

  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory())
          .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /** Reads, defaults and validates {@code file}; a relative {@code table} is resolved beside it. */
  public static RouterConfig load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw invalid("cannot read %s: %s", file, e.getMessage());
    }
    RouterConfig config = parse(text);
    Path table = Path.of(config.table());
    if (!table.isAbsolute() && file.toAbsolutePath().getParent() != null) {
      table = file.toAbsolutePath().getParent().resolve(table);
    }
    return config.withTable(table.toString());
  }

  /** Parses, defaults and validates YAML text. */
  public static RouterConfig parse(String yaml) {
    RouterConfig raw;
    try {
      raw = YAML.readValue(yaml, RouterConfig.class);
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

  RouterConfig withTable(String path) {
    return new RouterConfig(
        region, listen, path, preference, upstream, reads, cache, defaults, namespaces);
  }

  private RouterConfig withDefaults() {
    Listen l = listen == null ? new Listen(null, null) : listen;
    Upstream u = upstream == null ? new Upstream(null, null, null) : upstream;
    Reads r = reads == null ? new Reads(null, null, null, null) : reads;
    Cache c = cache == null ? new Cache(null, null, null) : cache;
    Policy d = defaults == null ? new Policy(null, null, null, null) : defaults;
    Reads readsOut =
        new Reads(
            or(r.maxStalenessRevisions(), 1000L),
            or(r.maxStalenessMs(), 5000L),
            or(r.regionTimeoutMs(), 2000L),
            or(r.probeIntervalMs(), 1000L));
    Policy defaultsOut =
        new Policy(
            or(d.discover(), Consistency.LOCAL),
            or(d.onUnavailable(), OnUnavailable.FAIL_OPEN),
            or(d.maxStalenessRevisions(), readsOut.maxStalenessRevisions()),
            or(d.maxStalenessMs(), readsOut.maxStalenessMs()));
    Map<String, Policy> byNamespace = new LinkedHashMap<>();
    if (namespaces != null) {
      namespaces.forEach(
          (ns, p) -> {
            Policy q = p == null ? new Policy(null, null, null, null) : p;
            byNamespace.put(
                ns,
                new Policy(
                    or(q.discover(), defaultsOut.discover()),
                    or(q.onUnavailable(), defaultsOut.onUnavailable()),
                    or(q.maxStalenessRevisions(), defaultsOut.maxStalenessRevisions()),
                    or(q.maxStalenessMs(), defaultsOut.maxStalenessMs())));
          });
    }
    return new RouterConfig(
        region,
        new Listen(or(l.host(), "127.0.0.1"), or(l.port(), 2390)),
        table,
        preference == null ? List.of() : List.copyOf(preference),
        new Upstream(
            or(u.requestTimeoutMs(), 10_000L),
            or(u.attemptTimeoutMs(), 3000L),
            or(u.healthCheckIntervalMs(), 3000L)),
        readsOut,
        new Cache(or(c.ttlMs(), 5000L), or(c.maxAgeMs(), 600_000L), or(c.maxEntries(), 100_000L)),
        defaultsOut,
        Map.copyOf(byNamespace));
  }

  private RouterConfig validated() {
    require(
        region != null && region.matches("[a-z0-9][a-z0-9-]{0,62}"),
        "region: %s (expected: the router's region, lower-case letters, digits and '-')",
        region);
    require(
        listen.port() >= 0 && listen.port() <= 65535,
        "listen.port: %s (expected: 0..65535)",
        listen.port());
    require(
        table != null && !table.isBlank(),
        "table: missing (expected: the path of the routing table file)");
    for (String p : preference) {
      require(
          p != null && !p.equals(region),
          "preference: %s (expected: the other regions, nearest first)",
          p);
    }
    require(
        upstream.requestTimeoutMs() > 0
            && upstream.attemptTimeoutMs() > 0
            && upstream.healthCheckIntervalMs() > 0,
        "upstream: every timeout and interval must be > 0 (got %s)",
        upstream);
    require(
        reads.regionTimeoutMs() > 0 && reads.probeIntervalMs() > 0,
        "reads.region-timeout-ms, reads.probe-interval-ms: %s, %s (expected: > 0)",
        reads.regionTimeoutMs(),
        reads.probeIntervalMs());
    require(
        cache.ttlMs() >= 0 && cache.maxAgeMs() >= cache.ttlMs() && cache.maxEntries() >= 0,
        "cache: ttl-ms %s <= max-age-ms %s, max-entries %s >= 0 (expected)",
        cache.ttlMs(),
        cache.maxAgeMs(),
        cache.maxEntries());
    checkPolicy("defaults", defaults);
    namespaces.forEach(
        (ns, p) -> {
          try {
            KeyPath.checkNamespace(ns);
          } catch (MeridianException e) {
            throw invalid("namespaces: %s", e.getMessage());
          }
          checkPolicy("namespaces." + ns, p);
        });
    return this;
  }

  private static void checkPolicy(String where, Policy p) {
    require(
        p.discover() == Consistency.LINEARIZABLE
            || p.discover() == Consistency.SERIALIZABLE
            || p.discover() == Consistency.LOCAL
            || p.discover() == Consistency.CACHED,
        "%s.discover: %s (expected: LINEARIZABLE, SERIALIZABLE, LOCAL or CACHED)",
        where,
        p.discover());
    require(
        p.maxStalenessRevisions() >= 0 && p.maxStalenessMs() >= 0,
        "%s: max-staleness-revisions %s, max-staleness-ms %s (expected: >= 0)",
        where,
        p.maxStalenessRevisions(),
        p.maxStalenessMs());
  }

  /** The read policy of {@code namespace}: its own, else the defaults. */
  public Policy policy(String namespace) {
    Policy p = namespace == null ? null : namespaces.get(namespace);
    return p != null ? p : defaults;
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
    return MeridianException.of(Error.Code.INVALID_ARGUMENT, "router config: " + format, args);
  }
}
