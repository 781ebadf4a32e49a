package io.meridian.cluster.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.meridian.api.v1.Role;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A node's configuration, read from one YAML file (kebab-case keys). {@link #load} validates every
 * field and names the bad one; defaults are listed in the README's configuration table.
 */
public record NodeConfig(
    String member,
    String region,
    @JsonProperty("data-dir") String dataDir,
    Endpoint client,
    Endpoint peer,
    List<Member> members,
    List<ShardSpec> shards,
    Raft raft,
    Lease lease,
    Lock lock,
    Storage storage,
    Watch watch,
    Registry registry) {

  /** host:port. */
  public record Endpoint(String host, Integer port) {}

  /** A voter of the region cluster. */
  public record Member(String id, String peer, String client) {}

  /** A shard this node replicates, with the role its region cluster starts in. */
  public record ShardSpec(Integer id, Role role, Long epoch) {}

  public record Raft(
      Long electionTimeoutMinMs,
      Long electionTimeoutMaxMs,
      Long snapshotThreshold,
      Long logSegmentSizeBytes,
      Integer purgeGap) {}

  public record Lease(
      Long minTtlSeconds, Long maxTtlSeconds, Long defaultTtlSeconds, Long checkpointIntervalMs) {}

  public record Lock(Long maxWaitMs) {}

  public record Storage(
      Long quotaBytes,
      Integer dedupCapacity,
      Long compactionRetentionRevisions,
      Long compactionRetentionMs,
      Long compactionIntervalMs) {}

  /**
   * Watch streams: progress notifications of idle watches, the per-stream buffer beyond which a
   * slow reader is cut off, and how many events one replay chunk carries.
   */
  public record Watch(Long progressIntervalMs, Long maxPendingBytes, Integer replayEvents) {}

  /** Registry: the default instance TTL and self-preservation. */
  public record Registry(
      Long defaultTtlSeconds,
      Boolean selfPreservation,
      Double renewalThreshold,
      Integer minInstances,
      Long checkIntervalMs) {}

  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory())
          .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

  /** Reads, defaults and validates {@code file}. */
  public static NodeConfig load(Path file) {
    try {
      return parse(Files.readString(file));
    } catch (IOException e) {
      throw new ConfigException("config: cannot read " + file + ": " + e.getMessage());
    }
  }

  /** Parses, defaults and validates YAML text. */
  public static NodeConfig parse(String yaml) {
    NodeConfig raw;
    try {
      raw = YAML.readValue(yaml, NodeConfig.class);
    } catch (UnrecognizedPropertyException e) {
      throw new ConfigException(
          "config: unknown field '" + e.getPropertyName() + "' at " + e.getPathReference());
    } catch (JsonProcessingException e) {
      throw new ConfigException("config: " + e.getOriginalMessage() + " at " + location(e));
    }
    if (raw == null) {
      throw new ConfigException("config: empty file");
    }
    return raw.withDefaults().validated();
  }

  private static String location(JsonProcessingException e) {
    return e.getLocation() == null
        ? "?"
        : "line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
  }

  private NodeConfig withDefaults() {
    Raft r = raft == null ? new Raft(null, null, null, null, null) : raft;
    Lease l = lease == null ? new Lease(null, null, null, null) : lease;
    Lock k = lock == null ? new Lock(null) : lock;
    Storage s = storage == null ? new Storage(null, null, null, null, null) : storage;
    Watch w = watch == null ? new Watch(null, null, null) : watch;
    Registry g = registry == null ? new Registry(null, null, null, null, null) : registry;
    return new NodeConfig(
        member,
        region == null ? "local" : region,
        dataDir,
        client,
        peer,
        members,
        shards,
        new Raft(
            or(r.electionTimeoutMinMs(), 1000L),
            or(r.electionTimeoutMaxMs(), 2000L),
            or(r.snapshotThreshold(), 10_000L),
            or(r.logSegmentSizeBytes(), 8L << 20),
            or(r.purgeGap(), 1024)),
        new Lease(
            or(l.minTtlSeconds(), 5L),
            or(l.maxTtlSeconds(), 3600L),
            or(l.defaultTtlSeconds(), 30L),
            or(l.checkpointIntervalMs(), 60_000L)),
        new Lock(or(k.maxWaitMs(), 300_000L)),
        new Storage(
            or(s.quotaBytes(), 1L << 30),
            or(s.dedupCapacity(), 100_000),
            or(s.compactionRetentionRevisions(), 100_000L),
            or(s.compactionRetentionMs(), 0L),
            or(s.compactionIntervalMs(), 60_000L)),
        new Watch(
            or(w.progressIntervalMs(), 10_000L),
            or(w.maxPendingBytes(), 8L << 20),
            or(w.replayEvents(), 1000)),
        new Registry(
            or(g.defaultTtlSeconds(), 30L),
            or(g.selfPreservation(), true),
            or(g.renewalThreshold(), 0.85),
            or(g.minInstances(), 10),
            or(g.checkIntervalMs(), 60_000L)));
  }

  private static <T> T or(T value, T fallback) {
    return value == null ? fallback : value;
  }

  private NodeConfig validated() {
    require(
        member != null && member.matches("[A-Za-z0-9][A-Za-z0-9_-]{0,62}"),
        "member: %s (expected: 1..63 letters, digits, '-' or '_')",
        member);
    require(
        region.matches("[a-z0-9][a-z0-9-]{0,62}"),
        "region: %s (expected: lower-case letters, digits and '-')",
        region);
    require(dataDir != null && !dataDir.isBlank(), "data-dir: missing (expected: a directory)");
    checkEndpoint("client", client);
    checkEndpoint("peer", peer);
    require(
        members != null && !members.isEmpty(),
        "members: missing (expected: the region cluster's voters, this member included)");
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < members.size(); i++) {
      Member m = members.get(i);
      require(
          m.id() != null && ids.add(m.id()), "members[%d].id: %s (expected: unique)", i, m.id());
      require(
          m.peer() != null && m.peer().matches("[^:\\s]+:\\d{1,5}"),
          "members[%d].peer: %s (expected: host:port)",
          i,
          m.peer());
      require(
          m.client() != null && m.client().matches("https?://[^\\s]+"),
          "members[%d].client: %s (expected: http://host:port)",
          i,
          m.client());
    }
    require(ids.contains(member), "members: does not list this member '%s'", member);
    require(shards != null && !shards.isEmpty(), "shards: missing (expected: at least one shard)");
    Set<Integer> shardIds = new HashSet<>();
    for (int i = 0; i < shards.size(); i++) {
      ShardSpec s = shards.get(i);
      require(
          s.id() != null && s.id() >= 0 && s.id() <= 32767 && shardIds.add(s.id()),
          "shards[%d].id: %s (expected: unique, 0..32767)",
          i,
          s.id());
      require(
          s.role() != null && s.role() != Role.ROLE_UNSPECIFIED,
          "shards[%d].role: %s (expected: PRIMARY, STANDBY or FENCED; there is no default)",
          i,
          s.role());
      require(
          s.epoch() != null && s.epoch() >= 1 && s.epoch() <= 32767,
          "shards[%d].epoch: %s (expected: 1..32767)",
          i,
          s.epoch());
    }
    require(
        raft.electionTimeoutMinMs() >= 50
            && raft.electionTimeoutMaxMs() > raft.electionTimeoutMinMs(),
        "raft.election-timeout-max-ms: %s (expected: > election-timeout-min-ms %s >= 50)",
        raft.electionTimeoutMaxMs(),
        raft.electionTimeoutMinMs());
    require(
        raft.snapshotThreshold() >= 1,
        "raft.snapshot-threshold: %s (expected: >= 1)",
        raft.snapshotThreshold());
    require(
        raft.logSegmentSizeBytes() >= 4096,
        "raft.log-segment-size-bytes: %s (expected: >= 4096)",
        raft.logSegmentSizeBytes());
    require(raft.purgeGap() >= 1, "raft.purge-gap: %s (expected: >= 1)", raft.purgeGap());
    require(
        lease.minTtlSeconds() >= 1
            && lease.minTtlSeconds() <= lease.defaultTtlSeconds()
            && lease.defaultTtlSeconds() <= lease.maxTtlSeconds(),
        "lease: min-ttl-seconds %s <= default-ttl-seconds %s <= max-ttl-seconds %s (expected)",
        lease.minTtlSeconds(),
        lease.defaultTtlSeconds(),
        lease.maxTtlSeconds());
    require(
        lease.checkpointIntervalMs() >= 100,
        "lease.checkpoint-interval-ms: %s (expected: >= 100)",
        lease.checkpointIntervalMs());
    require(lock.maxWaitMs() >= 0, "lock.max-wait-ms: %s (expected: >= 0)", lock.maxWaitMs());
    require(
        storage.quotaBytes() >= 1 << 20,
        "storage.quota-bytes: %s (expected: >= 1048576)",
        storage.quotaBytes());
    require(
        storage.dedupCapacity() >= 0,
        "storage.dedup-capacity: %s (expected: >= 0)",
        storage.dedupCapacity());
    require(
        storage.compactionRetentionRevisions() >= 0,
        "storage.compaction-retention-revisions: %s (expected: >= 0, 0 turns it off)",
        storage.compactionRetentionRevisions());
    require(
        storage.compactionIntervalMs() >= 100,
        "storage.compaction-interval-ms: %s (expected: >= 100)",
        storage.compactionIntervalMs());
    require(
        watch.progressIntervalMs() >= 100,
        "watch.progress-interval-ms: %s (expected: >= 100)",
        watch.progressIntervalMs());
    require(
        watch.maxPendingBytes() >= 64 * 1024,
        "watch.max-pending-bytes: %s (expected: >= 65536)",
        watch.maxPendingBytes());
    require(
        watch.replayEvents() >= 1,
        "watch.replay-events: %s (expected: >= 1)",
        watch.replayEvents());
    require(
        registry.defaultTtlSeconds() >= lease.minTtlSeconds()
            && registry.defaultTtlSeconds() <= lease.maxTtlSeconds(),
        "registry.default-ttl-seconds: %s (expected: within lease.min-ttl-seconds %s and"
            + " lease.max-ttl-seconds %s)",
        registry.defaultTtlSeconds(),
        lease.minTtlSeconds(),
        lease.maxTtlSeconds());
    require(
        registry.renewalThreshold() > 0 && registry.renewalThreshold() <= 1,
        "registry.renewal-threshold: %s (expected: > 0 and <= 1)",
        registry.renewalThreshold());
    require(
        registry.minInstances() >= 1,
        "registry.min-instances: %s (expected: >= 1)",
        registry.minInstances());
    require(
        registry.checkIntervalMs() >= 100,
        "registry.check-interval-ms: %s (expected: >= 100)",
        registry.checkIntervalMs());
    return this;
  }

  private static void checkEndpoint(String field, Endpoint e) {
    require(
        e != null && e.host() != null && !e.host().isBlank(),
        "%s.host: missing (expected: an address to bind, e.g. 127.0.0.1)",
        field);
    require(
        e.port() != null && e.port() >= 0 && e.port() <= 65535,
        "%s.port: %s (expected: 0..65535)",
        field,
        e.port());
  }

  private static void require(boolean ok, String format, Object... args) {
    if (!ok) {
      throw new ConfigException("config: " + String.format(format, args));
    }
  }

  /** This member's entry in {@link #members}. */
  public Member self() {
    return members.stream().filter(m -> m.id().equals(member)).findFirst().orElseThrow();
  }
}
