package io.meridian.cluster.backup;

import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.NodeClock;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.state.ShardState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Scheduled backups: the leader of each shard on this node writes a {@link SnapshotFile} to {@code
 * backup.dir/shard-<n>/} once {@code backup.every-entries} Raft entries were applied since the last
 * one, or {@code backup.interval-ms} passed with new revisions (and at once when the directory
 * holds none), and deletes files older than {@code backup.retention-ms}, always keeping the newest.
 * Followers write nothing, so a cluster whose members share the setting keeps backing up whichever
 * member leads.
 *
 * <p>Runs on its own thread: writing a large shard takes seconds and must not delay the node's
 * lease and compaction duties. The state is frozen (O(1)) and written while applies go on.
 */
public final class BackupSchedule implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BackupSchedule.class);

  // <region>-shard-<n>-r<revision>-<UTC time>.msnap: sorts by time within a shard's directory.
  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);
  private static final Pattern NAME =
      Pattern.compile("[a-z0-9-]+-shard-\\d+-r(\\d+)-(\\d{8}T\\d{6}\\.\\d{3}Z)\\.msnap");
  // A temporary file this old was left by a write that died with its process.
  private static final long STALE_PARTIAL_MS = 3_600_000;

  private final NodeConfig.Backup settings;
  private final NodeConfig config;
  private final NodeClock clock;
  private final List<Shard> shards = new ArrayList<>();
  private final ScheduledExecutorService thread;

  private BackupSchedule(
      NodeConfig config, List<ShardReplica> replicas, NodeClock clock, MeterRegistry metrics) {
    this.config = config;
    this.settings = config.backup();
    this.clock = clock;
    for (ShardReplica replica : replicas) {
      shards.add(new Shard(replica, metrics));
    }
    this.thread =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "meridian-backup-" + config.member());
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Starts the schedule of {@code replicas} when {@code backup.dir} is set; registers its meters
   * either way, so dashboards see a node without backups as one (last success 0).
   */
  public static BackupSchedule start(
      NodeConfig config, List<ShardReplica> replicas, NodeClock clock, MeterRegistry metrics) {
    BackupSchedule schedule = new BackupSchedule(config, replicas, clock, metrics);
    if (schedule.enabled()) {
      for (Shard s : schedule.shards) {
        s.recover();
      }
      schedule.thread.scheduleWithFixedDelay(schedule::tick, 1, 1, TimeUnit.SECONDS);
      log.info(
          "member={} region={} scheduled backups to {} every {} entries or {} ms, kept {} ms",
          config.member(),
          config.region(),
          schedule.root().toAbsolutePath(),
          schedule.settings.everyEntries(),
          schedule.settings.intervalMs(),
          schedule.settings.retentionMs());
    }
    return schedule;
  }

  private boolean enabled() {
    return !settings.dir().isEmpty();
  }

  private Path root() {
    return Path.of(settings.dir());
  }

  private void tick() {
    for (Shard s : shards) {
      try {
        s.tick();
      } catch (RuntimeException | IOException e) {
        s.failures.increment();
        log.warn(
            "shard={} region={} member={} scheduled backup failed (next try in a second): {}",
            s.replica.shard(),
            config.region(),
            config.member(),
            e.toString());
      }
    }
  }

  /** Writes a backup of {@code shard} now, whoever leads; for tests and operators' scripts. */
  public Path backupNow(int shard) throws IOException {
    for (Shard s : shards) {
      if (s.replica.shard() == shard) {
        return s.write();
      }
    }
    throw new IllegalArgumentException("shard " + shard + " is not on this node");
  }

  @Override
  public void close() {
    thread.shutdownNow();
    try {
      thread.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** One shard's schedule: what its last backup covered. */
  private final class Shard {
    final ShardReplica replica;
    final Counter failures;
    final AtomicLong lastSuccessMs = new AtomicLong();
    long lastIndex = -1;
    long lastRevision = -1;

    Shard(ShardReplica replica, MeterRegistry metrics) {
      this.replica = replica;
      Tags tags = Tags.of("shard", Integer.toString(replica.shard()));
      this.failures =
          Counter.builder("meridian.backup.failures")
              .description("Scheduled backups that failed (the next is tried a second later)")
              .tags(tags)
              .register(metrics);
      Gauge.builder("meridian.backup.last.success", lastSuccessMs, t -> t.get() / 1000.0)
          .description("Unix time of this member's last scheduled backup of the shard (0: none)")
          .tags(tags)
          .baseUnit("seconds")
          .register(metrics);
    }

    Path dir() {
      return root().resolve("shard-" + replica.shard());
    }

    /** Picks up where the files on disk left off, so a restart does not back up at once. */
    void recover() {
      try {
        Files.createDirectories(dir());
        Path newest = files().stream().reduce((a, b) -> b).orElse(null);
        if (newest != null) {
          Matcher m = NAME.matcher(newest.getFileName().toString());
          if (m.matches()) {
            lastRevision = Long.parseLong(m.group(1));
            lastSuccessMs.set(createdMs(newest));
          }
        }
      } catch (IOException e) {
        log.warn(
            "shard={} region={} member={} backup directory {}: {}",
            replica.shard(),
            config.region(),
            config.member(),
            dir(),
            e.toString());
      }
    }

    void tick() throws IOException {
      var info = replica.info();
      if (info == null || !info.isLeader()) {
        return;
      }
      long applied = info.getLastAppliedIndex();
      long revision = replica.read(ShardState::revision);
      if (lastIndex < 0) {
        // First tick as leader since start: count entries from here.
        lastIndex = applied;
      }
      // A shard with history and no backup at all gets one at once.
      boolean first = lastRevision < 0 && revision > 0;
      boolean byEntries =
          settings.everyEntries() > 0 && applied - lastIndex >= settings.everyEntries();
      boolean byTime =
          settings.intervalMs() > 0
              && clock.nowMillis() - lastSuccessMs.get() >= settings.intervalMs()
              && revision != lastRevision;
      if (first || byEntries || byTime) {
        write();
        lastIndex = applied;
      }
      prune();
    }

    Path write() throws IOException {
      Files.createDirectories(dir());
      ShardState.Frozen frozen = replica.read(ShardState::freeze);
      long now = clock.nowMillis();
      String name =
          config.region()
              + "-shard-"
              + replica.shard()
              + "-r"
              + frozen.revision()
              + "-"
              + STAMP.format(Instant.ofEpochMilli(now))
              + SnapshotFile.SUFFIX;
      Path file = dir().resolve(name);
      long started = clock.monotonicMillis();
      SnapshotManifest written =
          SnapshotFile.write(
              file,
              frozen,
              SnapshotManifest.newBuilder()
                  .setCreatedMs(now)
                  .setRegion(config.region())
                  .setMember(config.member())
                  .build());
      lastRevision = written.getRevision();
      lastSuccessMs.set(now);
      log.info(
          "shard={} region={} member={} backup {} written: revision={} keys={} bytes={} in {} ms",
          replica.shard(),
          config.region(),
          config.member(),
          file,
          written.getRevision(),
          written.getKeys(),
          written.getBodyBytes(),
          clock.monotonicMillis() - started);
      return file;
    }

    /** Deletes files past the retention, keeping the newest, and stale temporary files. */
    void prune() throws IOException {
      long now = clock.nowMillis();
      List<Path> files = files();
      if (settings.retentionMs() > 0) {
        for (Path f : files.subList(0, Math.max(0, files.size() - 1))) {
          if (now - createdMs(f) > settings.retentionMs()) {
            Files.deleteIfExists(f);
            log.info(
                "shard={} region={} member={} backup {} deleted: older than backup.retention-ms",
                replica.shard(),
                config.region(),
                config.member(),
                f);
          }
        }
      }
      try (Stream<Path> partials = Files.list(dir())) {
        for (Path p :
            partials.filter(p -> p.getFileName().toString().endsWith(".partial")).toList()) {
          if (now - Files.getLastModifiedTime(p).toMillis() > STALE_PARTIAL_MS) {
            Files.deleteIfExists(p);
          }
        }
      }
    }

    /** This shard's backup files, oldest first. */
    List<Path> files() throws IOException {
      try (Stream<Path> listed = Files.list(dir())) {
        return listed
            .filter(p -> NAME.matcher(p.getFileName().toString()).matches())
            .sorted(Comparator.comparing(BackupSchedule::stamp))
            .toList();
      }
    }
  }

  private static String stamp(Path file) {
    Matcher m = NAME.matcher(file.getFileName().toString());
    return m.matches() ? m.group(2) : "";
  }

  /** When a backup file was taken, from its name (the node's clock, like the retention). */
  private static long createdMs(Path file) {
    return Instant.from(STAMP.parse(stamp(file))).toEpochMilli();
  }
}
