package io.meridian.cluster.config;

import static io.meridian.serving.config.ConfigType.BOOLEAN;
import static io.meridian.serving.config.ConfigType.DOUBLE;
import static io.meridian.serving.config.ConfigType.INT;
import static io.meridian.serving.config.ConfigType.LONG;
import static io.meridian.serving.config.ConfigType.STRING;
import static io.meridian.serving.config.Validator.atLeast;
import static io.meridian.serving.config.Validator.between;
import static io.meridian.serving.config.Validator.bindAddress;
import static io.meridian.serving.config.Validator.matching;
import static io.meridian.serving.config.Validator.notBlank;
import static io.meridian.serving.config.Validator.port;

import io.meridian.api.v1.Role;
import io.meridian.serving.config.ConfigException;
import io.meridian.serving.config.ConfigKey;
import io.meridian.serving.config.ConfigKeys;
import io.meridian.serving.config.ConfigType;
import io.meridian.serving.config.ConfigValues;
import io.meridian.serving.config.Validator;
import io.meridian.serving.tls.TlsSettings;
import java.nio.file.Path;
import java.util.List;

/**
 * A node's configuration, read from one YAML file. Its keys are declared once, in {@link #KEYS},
 * with their types, defaults, conditions and the descriptions of the README's configuration table;
 * {@link #load} refuses a file that breaks any of them, or the rules between them, with a {@link
 * ConfigException} that names the file and the key. The declarations are most of its length: one
 * table of every key reads better than the same split over several classes.
 */
public record NodeConfig(
    String member,
    String region,
    String dataDir,
    Endpoint client,
    Endpoint peer,
    List<Member> members,
    List<ShardSpec> shards,
    Raft raft,
    Lease lease,
    Lock lock,
    Storage storage,
    Watch watch,
    Registry registry,
    Backup backup,
    Replication replication,
    String clusterToken,
    TlsSettings tls,
    PeerTls peerTls) {

  /** host:port. */
  public record Endpoint(String host, Integer port) {}

  /**
   * A member of the region cluster: a voter, or a listener (it receives the log and serves
   * SERIALIZABLE reads, but never votes or stands for election).
   */
  public record Member(String id, String peer, String client, MemberRole role) {
    /** A voter. */
    public Member(String id, String peer, String client) {
      this(id, peer, client, MemberRole.VOTER);
    }
  }

  /**
   * How a member takes part in its shards' Raft groups when the group is new on it. A node that
   * joins a running cluster lists itself as a {@code LISTENER}: it cannot start an election before
   * the leader has added it ({@code meridianctl member add}); once the group exists, the Raft log's
   * configuration decides.
   */
  public enum MemberRole {
    VOTER,
    LISTENER
  }

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

  /**
   * Scheduled backups of the shards this member leads: a snapshot file every {@code everyEntries}
   * applied Raft entries or {@code intervalMs}, deleted after {@code retentionMs}; off when {@code
   * dir} is empty.
   */
  public record Backup(String dir, Long everyEntries, Long intervalMs, Long retentionMs) {}

  /**
   * Cross-region replication: how long a federated primary's committed revisions may go unshipped
   * before it stops taking writes ({@code writeAuthorityMs}, 0: off).
   */
  public record Replication(Long writeAuthorityMs) {}

  private static final String NAME_CHARS = "lower-case letters, digits and '-'";

  static final ConfigKey<String> MEMBER =
      ConfigKey.of("member", STRING)
          .required()
          .check(matching("[A-Za-z0-9][A-Za-z0-9_-]{0,62}", "1..63 letters, digits, '-' or '_'"))
          .description("this node's member id (the Raft peer id)");
  static final ConfigKey<String> REGION =
      ConfigKey.of("region", STRING)
          .defaultValue("local")
          .check(matching("[a-z0-9][a-z0-9-]{0,62}", NAME_CHARS))
          .description("the region this cluster serves");
  static final ConfigKey<String> DATA_DIR =
      ConfigKey.of("data-dir", STRING)
          .required()
          .check(notBlank("a directory"))
          .description("Raft log, snapshots");
  static final ConfigKey<String> CLUSTER_TOKEN =
      ConfigKey.of("cluster-token", STRING)
          .defaultValue("")
          .check(
              matching(
                  ClusterIdentity.TOKEN.pattern(), "up to 64 letters, digits, '.', '_' or '-'"))
          .description(
              "the cluster's token, which salts its Raft group ids so that a cluster restored from a snapshot file never hears the old one (none: a cluster made from nothing); a data directory `meridianctl snapshot restore` made records its token, used when this is left out, and a different value stops the node");
  static final ConfigKey<String> CLIENT_HOST =
      hostKey(
          "client.host", "the address to bind for gRPC + HTTP/JSON + `/health` `/metrics` `/docs`");
  static final ConfigKey<Integer> CLIENT_PORT = portKey("client.port", "the port of `client.host`");
  static final ConfigKey<String> PEER_HOST =
      hostKey("peer.host", "the address to bind for the Ratis peer transport (gRPC)");
  static final ConfigKey<Integer> PEER_PORT = portKey("peer.port", "the port of `peer.host`");
  static final ConfigKey<String> MEMBER_ID =
      ConfigKey.of("members[].id", STRING)
          .required()
          .description(
              "a member's id; `members` lists every member of the region cluster, this node"
                  + " included");
  static final ConfigKey<String> MEMBER_PEER =
      ConfigKey.of("members[].peer", STRING)
          .required()
          .check(matching("[^:\\s]+:\\d{1,5}", "host:port"))
          .description("that member's Ratis peer address, `host:port`");
  static final ConfigKey<String> MEMBER_CLIENT =
      ConfigKey.of("members[].client", STRING)
          .required()
          .check(matching("https?://[^\\s]+", "http://host:port or https://host:port"))
          .description(
              "that member's client URL, `http://host:port` (`https://` when its client port serves"
                  + " TLS)");
  static final ConfigKey<MemberRole> MEMBER_ROLE =
      ConfigKey.of("members[].role", ConfigType.oneOf(MemberRole.VOTER, MemberRole.LISTENER))
          .defaultValue(MemberRole.VOTER)
          .description(
              "`VOTER` or `LISTENER`: how the member starts in a group new to it; a node joining a"
                  + " running cluster lists itself as `LISTENER` (see `meridianctl member add`)");
  static final ConfigKey<Integer> SHARD_ID =
      ConfigKey.of("shards[].id", INT)
          .required()
          .check(between(0, 32767))
          .description(
              "shard number (0..32767); a node may replicate several shards, one Raft group each");
  static final ConfigKey<Role> SHARD_ROLE =
      ConfigKey.of("shards[].role", ConfigType.oneOf(Role.PRIMARY, Role.STANDBY, Role.FENCED))
          .required()
          .description(
              "`PRIMARY`, `STANDBY` or `FENCED`: the role a new cluster starts in (no default)");
  static final ConfigKey<Long> SHARD_EPOCH =
      ConfigKey.of("shards[].epoch", LONG)
          .required()
          .check(between(1, 32767))
          .description("the epoch a new cluster starts in (1..32767)");
  static final ConfigKey<Long> ELECTION_TIMEOUT_MIN =
      longKey("raft.election-timeout-min-ms", 1000L, 50, "Raft election timeout, lower bound");
  static final ConfigKey<Long> ELECTION_TIMEOUT_MAX =
      longKey(
          "raft.election-timeout-max-ms",
          2000L,
          50,
          "Raft election timeout, upper bound; also the grace a new leader adds to every lease");
  static final ConfigKey<Long> SNAPSHOT_THRESHOLD =
      longKey("raft.snapshot-threshold", 10_000L, 1, "take a snapshot every N applied entries");
  static final ConfigKey<Long> LOG_SEGMENT_SIZE =
      longKey("raft.log-segment-size-bytes", 8L << 20, 4096, "Raft log segment size");
  static final ConfigKey<Integer> PURGE_GAP =
      ConfigKey.of("raft.purge-gap", INT)
          .defaultValue(1024)
          .check(atLeast(1))
          .description("purge the log (up to the snapshot) in steps of N entries");
  static final ConfigKey<Long> MIN_TTL =
      longKey("lease.min-ttl-seconds", 5L, 1, "smallest TTL a lease may be granted");
  static final ConfigKey<Long> MAX_TTL = longKey("lease.max-ttl-seconds", 3600L, 1, "largest TTL");
  static final ConfigKey<Long> DEFAULT_TTL =
      longKey("lease.default-ttl-seconds", 30L, 1, "TTL of a grant that gives none");
  static final ConfigKey<Long> CHECKPOINT_INTERVAL =
      longKey(
          "lease.checkpoint-interval-ms",
          60_000L,
          100,
          "how often the leader records remaining TTLs (a lease's first keep-alive after a"
              + " checkpoint clears its remainder, one Raft write)");
  static final ConfigKey<Long> LOCK_MAX_WAIT =
      longKey("lock.max-wait-ms", 300_000L, 0, "longest `timeoutMs` an acquire may ask for");
  static final ConfigKey<Long> QUOTA =
      longKey(
          "storage.quota-bytes",
          1L << 30,
          1 << 20,
          "state-size quota (keys, leases, remembered outcomes); above it writes that grow state"
              + " fail with `NO_SPACE`. Replicated: the shard's leader proposes its config's"
              + " value, so keep it equal on every member");
  static final ConfigKey<Integer> DEDUP_CAPACITY =
      ConfigKey.of("storage.dedup-capacity", INT)
          .defaultValue(100_000)
          .check(atLeast(0))
          .description("request ids remembered for safe retries; replicated like the quota");
  static final ConfigKey<Long> RETENTION_REVISIONS =
      longKey(
          "storage.compaction-retention-revisions",
          100_000L,
          0,
          "automatic compaction keeps this many revisions of history (0: off)");
  static final ConfigKey<Long> RETENTION_MS =
      longKey(
          "storage.compaction-retention-ms",
          0L,
          0,
          "automatic compaction also keeps every revision younger than this (0: off); with both"
              + " rules on, the one that keeps more history wins");
  static final ConfigKey<Long> COMPACTION_INTERVAL =
      longKey(
          "storage.compaction-interval-ms",
          60_000L,
          100,
          "how often the leader considers compacting");
  static final ConfigKey<Long> PROGRESS_INTERVAL =
      longKey(
          "watch.progress-interval-ms",
          10_000L,
          100,
          "idle watches that asked for it get a progress notification this often");
  static final ConfigKey<Long> MAX_PENDING =
      longKey(
          "watch.max-pending-bytes",
          8L << 20,
          64 * 1024,
          "a watch stream whose unsent responses exceed this is cut off (`SLOW_CONSUMER`)");
  static final ConfigKey<Integer> REPLAY_EVENTS =
      ConfigKey.of("watch.replay-events", INT)
          .defaultValue(1000)
          .check(atLeast(1))
          .description("events per response when a watch replays history");
  static final ConfigKey<Long> REGISTRY_TTL =
      longKey(
          "registry.default-ttl-seconds",
          30L,
          1,
          "TTL of a registration that gives none (within the lease bounds)");
  static final ConfigKey<Boolean> SELF_PRESERVATION =
      ConfigKey.of("registry.self-preservation", BOOLEAN)
          .defaultValue(true)
          .description("whether self-preservation may turn on");
  static final ConfigKey<Double> RENEWAL_THRESHOLD =
      ConfigKey.of("registry.renewal-threshold", DOUBLE)
          .defaultValue(0.85)
          .check(Validator.of(r -> r > 0 && r <= 1, "> 0 and <= 1"))
          .description("renewal ratio below which it turns on");
  static final ConfigKey<Integer> MIN_INSTANCES =
      ConfigKey.of("registry.min-instances", INT)
          .defaultValue(10)
          .check(atLeast(1))
          .description("fewer registry instances never turn it on");
  static final ConfigKey<Long> CHECK_INTERVAL =
      longKey(
          "registry.check-interval-ms",
          60_000L,
          100,
          "length of the window the leader judges renewals over");

  static final ConfigKey<String> BACKUP_DIR =
      ConfigKey.of("backup.dir", STRING)
          .defaultValue("")
          .description(
              "scheduled backups: the shards' leader writes snapshot files to"
                  + " `<dir>/shard-<n>/` (empty: off; see docs/operations.md)");
  static final ConfigKey<Long> BACKUP_EVERY_ENTRIES =
      longKey(
          "backup.every-entries",
          10_000L,
          0,
          "a backup once this many Raft entries were applied since the last (0: by time only)");
  static final ConfigKey<Long> BACKUP_INTERVAL =
      longKey(
          "backup.interval-ms",
          3_600_000L,
          0,
          "and a backup at least this often while the shard changes (0: by entries only)");
  static final ConfigKey<Long> BACKUP_RETENTION =
      longKey(
          "backup.retention-ms",
          7 * 24 * 3_600_000L,
          0,
          "backup files older than this are deleted, the newest always kept (0: keep all)");

  static final ConfigKey<Long> WRITE_AUTHORITY =
      longKey(
          "replication.write-authority-ms",
          15_000L,
          0,
          "a PRIMARY whose bridge reported shipping refuses writes and lock grants (`FENCED`) while"
              + " a committed revision older than this has not reached the change topic, until"
              + " shipping catches up (0: off; single-region shards are never fenced; see"
              + " docs/replication.md)");

  /** Every key of a node's file, in the order of the README's table. */
  public static final ConfigKeys KEYS =
      ConfigKeys.of(
          "node",
          MEMBER,
          REGION,
          DATA_DIR,
          CLUSTER_TOKEN,
          CLIENT_HOST,
          CLIENT_PORT,
          TlsSettings.CERT_FILE,
          TlsSettings.KEY_FILE,
          TlsSettings.CA_FILE,
          TlsSettings.CLIENT_AUTH,
          PEER_HOST,
          PEER_PORT,
          PeerTls.CERT_FILE,
          PeerTls.KEY_FILE,
          PeerTls.CA_FILE,
          MEMBER_ID,
          MEMBER_PEER,
          MEMBER_CLIENT,
          MEMBER_ROLE,
          SHARD_ID,
          SHARD_ROLE,
          SHARD_EPOCH,
          ELECTION_TIMEOUT_MIN,
          ELECTION_TIMEOUT_MAX,
          SNAPSHOT_THRESHOLD,
          LOG_SEGMENT_SIZE,
          PURGE_GAP,
          MIN_TTL,
          MAX_TTL,
          DEFAULT_TTL,
          CHECKPOINT_INTERVAL,
          LOCK_MAX_WAIT,
          QUOTA,
          DEDUP_CAPACITY,
          RETENTION_REVISIONS,
          RETENTION_MS,
          COMPACTION_INTERVAL,
          PROGRESS_INTERVAL,
          MAX_PENDING,
          REPLAY_EVENTS,
          REGISTRY_TTL,
          SELF_PRESERVATION,
          RENEWAL_THRESHOLD,
          MIN_INSTANCES,
          CHECK_INTERVAL,
          BACKUP_DIR,
          BACKUP_EVERY_ENTRIES,
          BACKUP_INTERVAL,
          BACKUP_RETENTION,
          WRITE_AUTHORITY);

  /**
   * Reads, defaults and checks {@code file}.
   *
   * @throws ConfigException naming the file and the key it refused
   */
  public static NodeConfig load(Path file) {
    return from(KEYS.load(file));
  }

  /**
   * Reads, defaults and checks YAML text (JSON is YAML too); refusals name it {@code node config}.
   *
   * @throws ConfigException naming the key it refused
   */
  public static NodeConfig parse(String yaml) {
    return from(KEYS.parse(yaml));
  }

  private static NodeConfig from(ConfigValues v) {
    NodeConfig config =
        new NodeConfig(
            v.get(MEMBER),
            v.get(REGION),
            v.get(DATA_DIR),
            new Endpoint(v.get(CLIENT_HOST), v.get(CLIENT_PORT)),
            new Endpoint(v.get(PEER_HOST), v.get(PEER_PORT)),
            members(v),
            shards(v),
            new Raft(
                v.get(ELECTION_TIMEOUT_MIN),
                v.get(ELECTION_TIMEOUT_MAX),
                v.get(SNAPSHOT_THRESHOLD),
                v.get(LOG_SEGMENT_SIZE),
                v.get(PURGE_GAP)),
            new Lease(
                v.get(MIN_TTL), v.get(MAX_TTL), v.get(DEFAULT_TTL), v.get(CHECKPOINT_INTERVAL)),
            new Lock(v.get(LOCK_MAX_WAIT)),
            new Storage(
                v.get(QUOTA),
                v.get(DEDUP_CAPACITY),
                v.get(RETENTION_REVISIONS),
                v.get(RETENTION_MS),
                v.get(COMPACTION_INTERVAL)),
            new Watch(v.get(PROGRESS_INTERVAL), v.get(MAX_PENDING), v.get(REPLAY_EVENTS)),
            new Registry(
                v.get(REGISTRY_TTL),
                v.get(SELF_PRESERVATION),
                v.get(RENEWAL_THRESHOLD),
                v.get(MIN_INSTANCES),
                v.get(CHECK_INTERVAL)),
            new Backup(
                v.get(BACKUP_DIR),
                v.get(BACKUP_EVERY_ENTRIES),
                v.get(BACKUP_INTERVAL),
                v.get(BACKUP_RETENTION)),
            new Replication(v.get(WRITE_AUTHORITY)),
            v.get(CLUSTER_TOKEN),
            TlsSettings.read(v),
            PeerTls.read(v));
    checkBetweenKeys(config, v);
    return config;
  }

  private static List<Member> members(ConfigValues v) {
    List<Member> members =
        v.elements(
            "members[]",
            MEMBER_ID,
            m ->
                new Member(
                    m.get(MEMBER_ID),
                    m.get(MEMBER_PEER),
                    m.get(MEMBER_CLIENT),
                    m.get(MEMBER_ROLE)));
    if (members.isEmpty()) {
      throw v.refuse("members", "none", "the region cluster's members, this member included");
    }
    return members;
  }

  private static List<ShardSpec> shards(ConfigValues v) {
    List<ShardSpec> shards =
        v.elements(
            "shards[]",
            SHARD_ID,
            s -> new ShardSpec(s.get(SHARD_ID), s.get(SHARD_ROLE), s.get(SHARD_EPOCH)));
    if (shards.isEmpty()) {
      throw v.refuse("shards", "none", "at least one shard");
    }
    return shards;
  }

  /** The rules that relate keys to each other, worded like the reader's own refusals. */
  private static void checkBetweenKeys(NodeConfig c, ConfigValues v) {
    if (c.members().stream().noneMatch(m -> m.id().equals(c.member()))) {
      throw v.refuse("members", "no member " + c.member(), "this node's member among them");
    }
    if (c.raft().electionTimeoutMaxMs() <= c.raft().electionTimeoutMinMs()) {
      throw v.refuse(
          ELECTION_TIMEOUT_MAX,
          "> " + ELECTION_TIMEOUT_MIN.name() + " " + c.raft().electionTimeoutMinMs());
    }
    String ttlRange = c.lease().minTtlSeconds() + ".." + c.lease().maxTtlSeconds();
    String ttlBounds = ", from " + MIN_TTL.name() + " and " + MAX_TTL.name();
    if (c.lease().maxTtlSeconds() < c.lease().minTtlSeconds()) {
      throw v.refuse(MAX_TTL, ">= " + MIN_TTL.name() + " " + c.lease().minTtlSeconds());
    }
    if (!within(c.lease().defaultTtlSeconds(), c.lease())) {
      throw v.refuse(DEFAULT_TTL, ttlRange + ttlBounds);
    }
    if (!within(c.registry().defaultTtlSeconds(), c.lease())) {
      throw v.refuse(REGISTRY_TTL, ttlRange + ttlBounds);
    }
    if (!c.backup().dir().isBlank()
        && c.backup().everyEntries() == 0
        && c.backup().intervalMs() == 0) {
      throw v.refuse(
          BACKUP_INTERVAL,
          "> 0, or " + BACKUP_EVERY_ENTRIES.name() + " > 0, when " + BACKUP_DIR.name() + " is set");
    }
  }

  private static boolean within(long ttl, Lease bounds) {
    return ttl >= bounds.minTtlSeconds() && ttl <= bounds.maxTtlSeconds();
  }

  private static ConfigKey<String> hostKey(String name, String description) {
    return ConfigKey.of(name, STRING).required().check(bindAddress()).description(description);
  }

  private static ConfigKey<Integer> portKey(String name, String description) {
    return ConfigKey.of(name, INT).required().check(port()).description(description);
  }

  private static ConfigKey<Long> longKey(String name, long fallback, long min, String description) {
    return ConfigKey.of(name, LONG)
        .defaultValue(fallback)
        .check(atLeast(min))
        .description(description);
  }

  /** This member's entry in {@link #members}. */
  public Member self() {
    return members.stream().filter(m -> m.id().equals(member)).findFirst().orElseThrow();
  }
}
